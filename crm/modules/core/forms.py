"""HTML forms: they only parse input types; rules live in services."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from decimal import Decimal
from typing import Any

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from crm.kernel.forms import AmountField
from crm.kernel.vat import DEFAULT_VAT_RATE, VAT_RATE_CHOICES
from crm.tenants.accounts.models import User

from .models import Activity, Customer, CustomFieldDefinition


class DateInput(forms.DateInput):
    input_type = "date"


class DateTimeInput(forms.DateTimeInput):
    input_type = "datetime-local"


class CustomerForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=200)
    kind = forms.ChoiceField(label=_("Type"), choices=Customer.Kind.choices, initial=Customer.Kind.COMPANY)
    phone = forms.CharField(
        label=_("Phone"),
        max_length=30,
        required=False,
        widget=forms.TextInput(attrs={"type": "tel", "inputmode": "tel"}),
    )
    email = forms.CharField(
        label=_("Email"), max_length=254, required=False, widget=forms.TextInput(attrs={"type": "email"})
    )
    contact_name = forms.CharField(label=_("Contact person"), max_length=100, required=False)
    contact_title = forms.CharField(label=_("Contact's job title"), max_length=100, required=False)
    stage = forms.ChoiceField(label=_("Stage"), choices=Customer.Stage.choices, initial=Customer.Stage.LEAD)
    source = forms.ChoiceField(
        label=_("Source"), choices=Customer.Source.choices, initial=Customer.Source.OTHER
    )
    province = forms.CharField(label=_("Province"), max_length=50, required=False)
    city = forms.CharField(label=_("City"), max_length=50, required=False)
    address = forms.CharField(label=_("Address"), max_length=255, required=False)
    tags = forms.CharField(label=_("Tags"), required=False, help_text=_("Separate tags with commas."))
    notes = forms.CharField(label=_("Notes"), required=False, widget=forms.Textarea(attrs={"rows": 3}))

    def __init__(self, *args: Any, edit: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if edit:  # contacts are managed on the detail page once the customer exists
            del self.fields["contact_name"]
            del self.fields["contact_title"]
        # The tenant's own fields (defined by an admin, no code): cf_<key>, validated again by the service.
        for d in CustomFieldDefinition.objects.all():
            kind = CustomFieldDefinition.FieldType
            f: forms.Field
            if d.field_type == kind.NUMBER:
                f = forms.DecimalField(max_digits=20, decimal_places=6)
            elif d.field_type == kind.DATE:
                f = forms.DateField(widget=DateInput)
            elif d.field_type == kind.CHOICE:
                f = forms.ChoiceField(choices=[("", "—"), *[(c, c) for c in d.choices]])
            else:
                f = forms.CharField(max_length=500)
            f.label, f.required = d.label, d.required
            self.fields[f"cf_{d.key}"] = f

    def service_data(self) -> dict[str, Any]:
        """cleaned_data shaped for customer_create/customer_update (custom fields gathered in one dict)."""
        data = {k: v for k, v in self.cleaned_data.items() if not k.startswith("cf_")}
        data["custom_fields"] = {
            k[3:]: (str(v) if v not in (None, "") else None)
            for k, v in self.cleaned_data.items()
            if k.startswith("cf_")
        }
        data["custom_fields"] = {k: v for k, v in data["custom_fields"].items() if v is not None}
        return data


class ContactForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=100)
    title = forms.CharField(label=_("Job title"), max_length=100, required=False)
    role = forms.CharField(label=_("Role"), max_length=100, required=False)
    phone = forms.CharField(
        label=_("Phone"),
        max_length=30,
        required=False,
        widget=forms.TextInput(attrs={"type": "tel", "inputmode": "tel"}),
    )
    email = forms.CharField(
        label=_("Email"), max_length=254, required=False, widget=forms.TextInput(attrs={"type": "email"})
    )


def _default_next_date() -> Any:
    return (timezone.localdate() + timedelta(days=7)).isoformat()


class ActivityForm(forms.Form):
    """Quick 'log a visit': visit is the default kind; the next step defaults to a week from today."""

    kind = forms.ChoiceField(label=_("Type"), choices=Activity.Kind.choices, initial=Activity.Kind.VISIT)
    purpose = forms.CharField(label=_("Purpose"), max_length=255, required=False)
    result = forms.CharField(label=_("Result"), required=False, widget=forms.Textarea(attrs={"rows": 2}))
    next_step = forms.CharField(label=_("Next step"), max_length=255, required=False)
    next_step_date = forms.DateField(
        label=_("Next step on"), required=False, widget=DateInput, initial=_default_next_date
    )

    def next_step_at(self) -> datetime | None:
        day = self.cleaned_data.get("next_step_date")
        if not day or not self.cleaned_data.get("next_step"):
            return None
        return timezone.make_aware(datetime.combine(day, time(9, 0)))


class TaskForm(forms.Form):
    title = forms.CharField(label=_("Task"), max_length=255)
    due_date = forms.DateField(
        label=_("Due"), widget=DateInput, initial=lambda: timezone.localdate().isoformat()
    )

    def due_at(self) -> datetime:
        return timezone.make_aware(datetime.combine(self.cleaned_data["due_date"], time(18, 0)))


class ProductForm(forms.Form):
    code = forms.CharField(label=_("Code"), max_length=50, required=False)
    name = forms.CharField(label=_("Name"), max_length=200)
    specification = forms.CharField(label=_("Specification"), max_length=200, required=False)
    unit = forms.CharField(label=_("Unit"), max_length=20, required=False)
    price = AmountField(label=_("Price (tax incl.)"), min_value=Decimal("0"))
    cost = AmountField(label=_("Cost"), min_value=Decimal("0"), required=False)
    vat_rate = forms.TypedChoiceField(
        label=_("VAT rate"),
        choices=VAT_RATE_CHOICES,
        coerce=Decimal,
        initial=DEFAULT_VAT_RATE,
        required=False,
    )
    category = forms.CharField(label=_("Category"), max_length=100, required=False)


class HandoverForm(forms.Form):
    from_user = forms.ModelChoiceField(label=_("Departing colleague"), queryset=User.objects.none())
    to_users = forms.ModelMultipleChoiceField(
        label=_("Receiving colleagues (customers are shared out in turn)"),
        queryset=User.objects.none(),
        widget=forms.CheckboxSelectMultiple,
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        from crm.platform.permissions import has_perm

        users = [
            u for u in User.objects.order_by("name") if has_perm(u, "core.view_customers") or not u.is_active
        ]
        ids = [u.pk for u in users]
        self.fields["from_user"].queryset = User.objects.filter(pk__in=ids)  # type: ignore[attr-defined]
        self.fields["to_users"].queryset = User.objects.filter(pk__in=ids, is_active=True)  # type: ignore[attr-defined]


class PoolSettingsForm(forms.Form):
    pool_days = forms.IntegerField(
        label=_("Days without follow-up before a customer returns to the pool"), min_value=1, max_value=3650
    )
    pool_warning_days = forms.IntegerField(label=_("Warn the owner this many days before"), min_value=0)
    pool_claims_per_day = forms.IntegerField(label=_("Pool claims per rep per day"), min_value=0)


class CustomFieldForm(forms.Form):
    key = forms.SlugField(label=_("Key"), max_length=50, help_text=_("Letters, digits and underscores."))
    label = forms.CharField(label=_("Label"), max_length=100)
    field_type = forms.ChoiceField(label=_("Type"), choices=CustomFieldDefinition.FieldType.choices)
    choices = forms.CharField(
        label=_("Options (for a choice field)"), required=False, help_text=_("Separate options with commas.")
    )
    required = forms.BooleanField(label=_("Required"), required=False)
