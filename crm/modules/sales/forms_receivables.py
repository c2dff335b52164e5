"""Receivables forms: filters, the payment plan rows, a receipt with its allocation, reversal, periods."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from .models import Receipt

MONTH = re.compile(r"^(\d{4})-(\d{2})$")
MAX_PLAN_ROWS = 60


class MonthField(forms.CharField):
    """A month as YYYY-MM (the browser's <input type="month">), cleaned to its first day."""

    widget = forms.TextInput(attrs={"type": "month"})

    def to_python(self, value: Any) -> date | None:  # type: ignore[override]
        text = super().to_python(value)
        if not text:
            return None
        m = MONTH.match(text)
        if not m or not 1 <= int(m.group(2)) <= 12 or not 1900 < int(m.group(1)) < 3000:
            raise forms.ValidationError(_("Enter a month as YYYY-MM."))
        return date(int(m.group(1)), int(m.group(2)), 1)


class DateInput(forms.DateInput):
    input_type = "date"


class InstallmentFilterForm(forms.Form):
    owner = forms.TypedChoiceField(label=_("Owner"), required=False, coerce=int, empty_value=None)
    customer = forms.IntegerField(required=False, min_value=1, max_value=2**31 - 1, widget=forms.HiddenInput)
    due_month = MonthField(label=_("Due month"), required=False)
    overdue = forms.BooleanField(label=_("Overdue only"), required=False)

    def __init__(self, *args: Any, owners: list[tuple[int, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["owner"].choices = [("", _("Everyone")), *owners]  # type: ignore[attr-defined]


class PlanRowForm(forms.Form):
    id = forms.IntegerField(required=False, widget=forms.HiddenInput, min_value=1, max_value=2**31 - 1)
    due_date = forms.DateField(label=_("Due date"), widget=DateInput)
    amount = forms.DecimalField(label=_("Amount"), max_digits=16, decimal_places=2, min_value=Decimal("0.01"))
    note = forms.CharField(label=_("Note"), max_length=200, required=False)


PlanFormSet = forms.formset_factory(
    PlanRowForm, extra=2, max_num=MAX_PLAN_ROWS, validate_max=True, absolute_max=MAX_PLAN_ROWS
)


class ReceiptForm(forms.Form):
    token = forms.CharField(widget=forms.HiddenInput, max_length=64, required=False)
    customer = forms.IntegerField(widget=forms.HiddenInput, min_value=1, max_value=2**31 - 1)
    amount = forms.DecimalField(label=_("Amount"), max_digits=16, decimal_places=2, min_value=Decimal("0.01"))
    received_on = forms.DateField(label=_("Received on"), widget=DateInput)
    method = forms.ChoiceField(label=_("Method"), choices=Receipt.Method.choices)
    bank_reference = forms.CharField(label=_("Bank reference"), max_length=100, required=False)
    note = forms.CharField(label=_("Note"), max_length=300, required=False)
    by_hand = forms.BooleanField(label=_("Allocate by hand (the amounts below)"), required=False)
    keep_credit = forms.BooleanField(label=_("Keep the rest as customer credit"), required=False)


class ReverseForm(forms.Form):
    reason = forms.CharField(label=_("Reason"), max_length=300)


class AsOfForm(forms.Form):
    as_of = forms.DateField(label=_("As of"), required=False, widget=DateInput)


class PeriodForm(forms.Form):
    start = forms.DateField(label=_("From"), required=False, widget=DateInput)
    end = forms.DateField(label=_("To"), required=False, widget=DateInput)
    format = forms.ChoiceField(
        required=False, choices=[("", "html"), ("pdf", "PDF"), ("xlsx", "Excel")], widget=forms.HiddenInput
    )
