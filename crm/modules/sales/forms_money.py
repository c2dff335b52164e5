"""Forms of the money area: sales settings, invoicing requests, fapiao and red-letter fapiao, targets."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from crm.kernel.vat import VAT_RATE_CHOICES

from .models import Fapiao, SalesSettings

KIND_CHOICES = Fapiao.Kind.choices


class SettingsForm(forms.ModelForm):
    class Meta:
        model = SalesSettings
        fields = [
            "target_basis",
            "reps_see_margin_percent",
            "remind_days_before",
            "remind_days_after",
            "quote_valid_days",
            "default_payment_days",
            "quote_terms",
            "contract_terms",
        ]
        help_texts = {
            "target_basis": _(
                "Contracts count in the month they were confirmed; receipts in the month the money came in."
            ),
            "reps_see_margin_percent": _("Reps then see a document's margin percent, never unit costs."),
            "remind_days_before": _(
                "The customer's owner is reminded this many days before an installment is due."
            ),
            "remind_days_after": _("And again this many days after an unpaid due date."),
            "quote_valid_days": _("A new quote is valid for this many days unless the rep changes it."),
            "default_payment_days": _("The account period a new contract starts with."),
            "quote_terms": _("Printed on every new quote; the rep may change it per quote."),
            "contract_terms": _("Printed on every new contract; the rep may change it per contract."),
        }
        widgets = {
            "quote_terms": forms.Textarea(attrs={"rows": 3}),
            "contract_terms": forms.Textarea(attrs={"rows": 3}),
        }

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        for name in ("remind_days_before", "remind_days_after", "quote_valid_days", "default_payment_days"):
            value = data.get(name)
            if value is not None and value > 365:
                self.add_error(name, _("Enter a number of days from 0 to 365."))
        return data


class InvoiceRequestForm(forms.Form):
    installment = forms.TypedChoiceField(label=_("installment"), required=False, coerce=int, empty_value=None)
    amount = forms.DecimalField(label=_("amount (tax incl.)"), max_digits=16, decimal_places=2, min_value=0)
    kind = forms.ChoiceField(label=_("kind"), choices=KIND_CHOICES)
    buyer_title = forms.CharField(label=_("buyer title"), max_length=200)
    buyer_tax_id = forms.CharField(
        label=_("buyer tax id"),
        max_length=30,
        required=False,
        help_text=_("The unified social credit code; from the customer's custom field tax_id if set."),
    )
    note = forms.CharField(label=_("note"), max_length=300, required=False)

    def __init__(self, *args: Any, installments: Any = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        choices: list[tuple[Any, Any]] = [("", _("The whole contract"))]
        choices += [(i.pk, f"#{i.position} {i.due_date:%Y-%m-%d} ¥{i.amount:,.2f}") for i in installments]
        self.fields["installment"].choices = choices  # type: ignore[attr-defined]


class FapiaoForm(forms.Form):
    number = forms.CharField(label=_("fapiao number"), max_length=30, required=False)
    issued_on = forms.DateField(
        label=_("issued on"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    kind = forms.ChoiceField(label=_("kind"), choices=KIND_CHOICES)
    vat_rate = forms.TypedChoiceField(label=_("VAT rate"), choices=VAT_RATE_CHOICES, coerce=str)
    amount_incl = forms.DecimalField(label=_("amount (tax incl.)"), max_digits=16, decimal_places=2)
    amount_excl = forms.DecimalField(
        label=_("amount (tax excl.)"),
        max_digits=16,
        decimal_places=2,
        required=False,
        help_text=_("Leave empty to compute it from the amount incl. tax and the rate."),
    )
    amount_tax = forms.DecimalField(label=_("tax"), max_digits=16, decimal_places=2, required=False)
    buyer_title = forms.CharField(label=_("buyer title"), max_length=200)
    buyer_tax_id = forms.CharField(label=_("buyer tax id"), max_length=30, required=False)
    through_provider = forms.BooleanField(
        label=_("issue through the tax provider"),
        required=False,
        help_text=_("The provider returns the number and date; otherwise type what was issued."),
    )

    def __init__(self, *args: Any, provider: str = "manual", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if provider == "manual":
            del self.fields["through_provider"]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if not data.get("through_provider"):
            if not data.get("number"):
                self.add_error("number", _("Enter the fapiao number."))
            if not data.get("issued_on"):
                self.add_error("issued_on", _("Enter the date of issue."))
        return data


class RedForm(forms.Form):
    reason = forms.CharField(label=_("reason"), max_length=300)
    number = forms.CharField(
        label=_("red-letter fapiao number"),
        max_length=30,
        required=False,
        help_text=_("Empty when the tax provider issues it."),
    )
    issued_on = forms.DateField(
        label=_("issued on"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )


class RequestCloseForm(forms.Form):
    state = forms.ChoiceField(choices=[("rejected", _("Reject")), ("cancelled", _("Cancel"))])
    note = forms.CharField(label=_("note"), max_length=200, required=False)
