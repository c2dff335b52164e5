"""Pipeline forms: input parsing only; the rules live in services_pipeline."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from crm.kernel.forms import AmountField
from crm.modules.core.public import Activity, Contact, Customer, Product, customers_visible
from crm.tenants.accounts.models import User

from .models import Opportunity, Stage


class DateInput(forms.DateInput):
    input_type = "date"


class OpportunityForm(forms.Form):
    customer = forms.ModelChoiceField(label=_("Customer"), queryset=Customer.objects.none())
    name = forms.CharField(label=_("Name"), max_length=200)
    contact = forms.ModelChoiceField(label=_("Contact"), queryset=Contact.objects.none(), required=False)
    amount = AmountField(label=_("Amount (CNY, tax incl.)"), required=False)
    expected_close = forms.DateField(label=_("Expected close"), required=False, widget=DateInput)
    stage = forms.ModelChoiceField(label=_("Stage"), queryset=Stage.objects.none(), required=False)
    probability = forms.IntegerField(
        label=_("Probability % (empty: the stage's)"), min_value=0, max_value=100, required=False
    )
    source = forms.CharField(label=_("Source"), max_length=60, required=False)
    competitor = forms.CharField(label=_("Competitor"), max_length=200, required=False)
    notes = forms.CharField(label=_("Notes"), required=False, widget=forms.Textarea(attrs={"rows": 3}))
    product = forms.ModelChoiceField(
        label=_("Product (optional)"), queryset=Product.objects.filter(is_active=True), required=False
    )
    quantity = forms.DecimalField(label=_("Quantity"), max_digits=14, decimal_places=4, required=False)
    unit_price = AmountField(label=_("Unit price (tax incl.)"), required=False)

    def __init__(
        self, *args: Any, user: User, customer: Customer | None = None, editing: bool = False, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        fields: Any = self.fields
        fields["customer"].queryset = customers_visible(user).order_by("name")
        fields["stage"].queryset = Stage.objects.filter(is_active=True)
        if customer is not None:
            fields["customer"].initial = customer.pk
            fields["contact"].queryset = Contact.objects.filter(customer=customer)
        else:
            raw = self.data.get("customer") if self.is_bound else None
            fields["contact"].queryset = (
                Contact.objects.filter(customer_id=raw)
                if raw and str(raw).isdigit()
                else Contact.objects.none()
            )
        fields["amount"].widget.attrs.update({"inputmode": "decimal"})
        if editing:
            for name in ("customer", "stage"):
                del self.fields[name]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("product") and not data.get("quantity"):
            self.add_error("quantity", _("Enter the quantity."))
        return data


class MoveForm(forms.Form):
    stage = forms.ModelChoiceField(label=_("Move to"), queryset=Stage.objects.filter(is_active=True))
    lost_reason = forms.CharField(label=_("Lost reason"), max_length=300, required=False)


class ActivityForm(forms.Form):
    kind = forms.ChoiceField(label=_("Type"), choices=Activity.Kind.choices, initial=Activity.Kind.CALL)
    purpose = forms.CharField(label=_("Purpose"), max_length=255, required=False)
    result = forms.CharField(label=_("Result"), required=False, widget=forms.Textarea(attrs={"rows": 2}))


class StageForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=60)
    probability = forms.IntegerField(label=_("Probability %"), min_value=0, max_value=100)


class StageEditForm(StageForm):
    is_active = forms.BooleanField(label=_("Active"), required=False)


class ListFilterForm(forms.Form):
    stage = forms.ModelChoiceField(label=_("Stage"), queryset=Stage.objects.all(), required=False)
    owner = forms.ModelChoiceField(label=_("Owner"), queryset=User.objects.none(), required=False)
    status = forms.ChoiceField(
        label=_("Status"), choices=[("", _("Any")), *list(Opportunity.Status.choices)], required=False
    )
    close_month = forms.CharField(
        label=_("Close month"), required=False, widget=forms.TextInput(attrs={"type": "month"})
    )
    q = forms.CharField(label=_("Search"), max_length=100, required=False)

    def __init__(self, *args: Any, owners: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field: Any = self.fields["owner"]
        field.queryset = owners
        # Rendered once per page: read the choices once.
        field.choices = list(field.choices)
        stage: Any = self.fields["stage"]
        stage.choices = list(stage.choices)


class PeriodForm(forms.Form):
    start = forms.DateField(label=_("From"), required=False, widget=DateInput)
    end = forms.DateField(label=_("To"), required=False, widget=DateInput)
