"""Forms of the documents area: input parsing only (rules live in services_documents)."""

from __future__ import annotations

import re
from typing import Any

from django import forms
from django.http import QueryDict
from django.utils.translation import gettext_lazy as _

from crm.kernel.vat import VAT_RATE_CHOICES
from crm.modules.core.public import Contact

from .models import Contract

LINE_FIELDS = (
    "product",
    "description",
    "quantity",
    "unit",
    "unit_price_incl",
    "vat_rate",
    "discount_percent",
    "unit_cost_excl",
)
_LINE_KEY = re.compile(r"^line-(\d{1,3})-(\w+)$")


def rows_from_post(data: QueryDict, *, remove: int | None = None) -> list[dict[str, Any]]:
    """The editor's lines (inputs named line-<i>-<field>), in order; wholly empty rows are dropped."""
    found: dict[int, dict[str, Any]] = {}
    for key in data:
        m = _LINE_KEY.match(key)
        if m and m.group(2) in LINE_FIELDS:
            found.setdefault(int(m.group(1)), {})[m.group(2)] = data.get(key, "").strip()
    rows = []
    for index in sorted(found):
        row = found[index]
        if index == remove:
            continue
        if not any(row.get(f) for f in ("product", "description", "unit_price_incl")):
            continue
        if row.get("product") and not str(row["product"]).isdigit():
            row["product"] = ""
        rows.append(row)
    return rows


class QuoteForm(forms.Form):
    title = forms.CharField(label=_("Title"), max_length=200, required=False)
    contact = forms.ModelChoiceField(label=_("Contact"), queryset=Contact.objects.none(), required=False)
    valid_until = forms.DateField(
        label=_("Valid until"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    terms = forms.CharField(label=_("Terms"), required=False, widget=forms.Textarea(attrs={"rows": 3}))
    whole_discount = forms.DecimalField(
        label=_("Discount on the whole document %"),
        required=False,
        min_value=0,
        max_value=99.99,
        decimal_places=2,
        help_text=_("Spread over every line when you save."),
    )

    def __init__(self, *args: Any, customer: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["contact"].queryset = Contact.objects.filter(customer=customer)  # type: ignore[attr-defined]


class ContractForm(QuoteForm):
    kind = forms.ChoiceField(label=_("Kind"), choices=Contract.Kind.choices)
    payment_days = forms.IntegerField(
        label=_("Account period (days)"), min_value=0, max_value=3650, required=False
    )
    prepayment_percent = forms.DecimalField(
        label=_("Prepayment %"), min_value=0, max_value=100, decimal_places=2, required=False
    )
    delivery_terms = forms.CharField(
        label=_("Delivery terms"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    start_date = forms.DateField(
        label=_("Start date"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    end_date = forms.DateField(
        label=_("End date"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    signed_on = forms.DateField(
        label=_("Signed on"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        del self.fields["valid_until"]


class ReasonForm(forms.Form):
    reason = forms.CharField(label=_("Reason"), max_length=300, required=False)


class EmailForm(forms.Form):
    to = forms.EmailField(label=_("To"))
    subject = forms.CharField(label=_("Subject"), max_length=200)
    message = forms.CharField(label=_("Message"), required=False, widget=forms.Textarea(attrs={"rows": 5}))


class RevisionForm(forms.Form):
    reason = forms.CharField(label=_("Why the change"), widget=forms.Textarea(attrs={"rows": 2}))
    payment_days = forms.IntegerField(
        label=_("Account period (days)"), min_value=0, max_value=3650, required=False
    )
    prepayment_percent = forms.DecimalField(
        label=_("Prepayment %"), min_value=0, max_value=100, decimal_places=2, required=False
    )
    start_date = forms.DateField(
        label=_("Start date"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    end_date = forms.DateField(
        label=_("End date"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )


VAT_CHOICES = [(str(rate), label) for rate, label in VAT_RATE_CHOICES]


class ListFilter(forms.Form):
    q = forms.CharField(required=False, max_length=100)
    state = forms.CharField(required=False, max_length=30)
    customer = forms.IntegerField(required=False, min_value=1, max_value=2**62)
    owner = forms.IntegerField(required=False, min_value=1, max_value=2**62)
    month = forms.RegexField(regex=r"^\d{4}-\d{2}$", required=False)
    kind = forms.CharField(required=False, max_length=10)

    def values(self) -> dict[str, Any]:
        if not self.is_valid():
            return {}
        data = self.cleaned_data
        return {
            "q": data.get("q") or "",
            "state": data.get("state") or "",
            "customer": data.get("customer"),
            "owner": data.get("owner"),
            "month": data.get("month") or "",
        }
