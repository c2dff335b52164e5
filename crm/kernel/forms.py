"""Form fields of the kernel: an amount field that parses with `money.parse_amount` (the one parser of
user money), so "1,234.5" or "¥1 234.50" typed in a form is read the same way as in an import or the API."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from crm.platform.errors import ServiceError

from .money import parse_amount


class AmountField(forms.Field):
    """A money amount (Decimal to the cent); `min_value` refuses smaller amounts (e.g. 0 for prices)."""

    def __init__(self, *, min_value: Decimal | None = None, **kwargs: Any) -> None:
        self.min_value = min_value
        kwargs.setdefault("widget", forms.TextInput(attrs={"inputmode": "decimal"}))
        super().__init__(**kwargs)

    def to_python(self, value: Any) -> Decimal | None:
        text = value.strip() if isinstance(value, str) else value
        if text in self.empty_values:
            return None
        try:
            amount = parse_amount(text)
        except ServiceError as exc:
            raise forms.ValidationError(str(exc.message), code="invalid") from None
        if self.min_value is not None and amount < self.min_value:
            raise forms.ValidationError(_("The amount cannot be negative."), code="min_value")
        return amount
