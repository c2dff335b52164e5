"""Service forms: input parsing only; rules live in the services."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from crm.kernel.forms import AmountField
from crm.modules.core.public import Customer, customers_visible
from crm.platform.permissions import has_perm
from crm.tenants.accounts.models import User

from .models import Entitlement, Priority, SlaPlan

DATE = forms.DateInput(attrs={"type": "date"})


def workers() -> Any:
    """Active users who can work on service orders (for the assignee choice)."""
    ids = [u.pk for u in User.objects.filter(is_active=True) if has_perm(u, "service.order_work")]
    return User.objects.filter(pk__in=ids).order_by("name")


class OrderForm(forms.Form):
    customer = forms.ModelChoiceField(label=_("Customer"), queryset=Customer.objects.none())
    agreement = forms.IntegerField(widget=forms.HiddenInput, required=False)
    subject = forms.CharField(label=_("Subject"), max_length=200)
    priority = forms.ChoiceField(label=_("Priority"), choices=Priority.choices, initial=Priority.NORMAL)
    description = forms.CharField(
        label=_("Description"), widget=forms.Textarea(attrs={"rows": 3}), required=False
    )
    assignee = forms.ModelChoiceField(label=_("Assignee"), queryset=User.objects.none(), required=False)

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["customer"].queryset = customers_visible(user).order_by("name")  # type: ignore[attr-defined]
        if has_perm(user, "service.order_assign"):
            self.fields["assignee"].queryset = workers()  # type: ignore[attr-defined]
        else:
            del self.fields["assignee"]


class WorkLogForm(forms.Form):
    hours = forms.DecimalField(
        label=_("Hours"), max_digits=6, decimal_places=2, min_value=Decimal("0.01"), max_value=Decimal("24")
    )
    work_date = forms.DateField(label=_("Date"), widget=DATE, required=False)
    note = forms.CharField(label=_("What was done"), max_length=500, required=False)
    on_site = forms.BooleanField(label=_("On-site visit"), required=False)
    billable_overage = forms.BooleanField(label=_("Billable overage (beyond the hours sold)"), required=False)
    client_token = forms.CharField(widget=forms.HiddenInput, required=False, max_length=64)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["hours"].widget.attrs.update({"inputmode": "decimal", "step": "0.25"})


class SignoffForm(forms.Form):
    name = forms.CharField(label=_("Signed by (typed name)"), max_length=100)
    note = forms.CharField(label=_("Satisfaction note"), max_length=500, required=False)


class TransitionForm(forms.Form):
    action = forms.CharField(max_length=20)
    assignee = forms.IntegerField(required=False)


class AgreementForm(forms.Form):
    customer = forms.ModelChoiceField(label=_("Customer"), queryset=Customer.objects.none())
    title = forms.CharField(label=_("Title"), max_length=200)
    start_date = forms.DateField(label=_("Start date"), widget=DATE)
    end_date = forms.DateField(label=_("End date"), widget=DATE)
    value = AmountField(label=_("Value (CNY)"), required=False)
    auto_renew = forms.BooleanField(label=_("Auto-renew"), required=False)
    renewal_notice_days = forms.IntegerField(
        label=_("Renewal notice (days)"), min_value=0, max_value=365, initial=30
    )
    sla_plan = forms.ModelChoiceField(label=_("SLA plan"), queryset=SlaPlan.objects.all(), required=False)
    hours_sold = forms.DecimalField(
        label=_("Hours sold"), max_digits=10, decimal_places=2, min_value=0, required=False
    )
    visits_sold = forms.IntegerField(label=_("Visits sold"), min_value=0, required=False)

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["customer"].queryset = customers_visible(user).order_by("name")  # type: ignore[attr-defined]


class EntitlementForm(forms.Form):
    description = forms.CharField(label=_("Description"), max_length=200)
    unit = forms.ChoiceField(label=_("Unit"), choices=Entitlement.Unit.choices)
    sold = forms.DecimalField(label=_("Sold"), max_digits=10, decimal_places=2, min_value=Decimal("0.01"))


class VisitForm(forms.Form):
    customer = forms.ModelChoiceField(label=_("Customer"), queryset=Customer.objects.none())
    scheduled_on = forms.DateField(label=_("Scheduled on"), widget=DATE)

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["customer"].queryset = customers_visible(user).order_by("name")  # type: ignore[attr-defined]


class VisitDoneForm(forms.Form):
    score = forms.TypedChoiceField(
        label=_("Satisfaction"), choices=[(i, str(i)) for i in range(5, 0, -1)], coerce=int
    )
    comment = forms.CharField(label=_("Comment"), widget=forms.Textarea(attrs={"rows": 2}), required=False)
    follow_up = forms.CharField(label=_("Follow-up"), max_length=300, required=False)


class SettingsForm(forms.Form):
    workdays = forms.CharField(
        label=_("Working days (1 = Monday … 7 = Sunday)"), max_length=7, help_text=_("For example 12345.")
    )
    day_start = forms.TimeField(label=_("Day starts"), widget=forms.TimeInput(attrs={"type": "time"}))
    day_end = forms.TimeField(label=_("Day ends"), widget=forms.TimeInput(attrs={"type": "time"}))
    holidays = forms.CharField(
        label=_("Holidays (dates, one per line)"), widget=forms.Textarea(attrs={"rows": 4}), required=False
    )


class SlaPlanForm(forms.Form):
    name = forms.CharField(label=_("Plan name"), max_length=100)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        defaults = SlaPlan()
        for p, label in Priority.choices:
            for kind, kind_label in (
                ("response", _("response hours")),
                ("resolution", _("resolution hours")),
            ):
                key = f"{p}_{kind}"
                self.fields[key] = forms.IntegerField(
                    label=f"{label}: {kind_label}",
                    min_value=1,
                    max_value=2000,
                    initial=getattr(defaults, key),
                )
