"""Money and VAT (capabilities.md section 2): amounts are Decimal with a currency; one rounding rule per
line, never recomputed from totals.

    incl = round(qty x unit_price_incl, 2)   excl = round(incl / (1 + rate), 2)   tax = incl - excl

Document totals are sums of the stored line values (`document_totals`). `Money` is the value type for an
amount with its currency; `parse_amount` is the one parser of amounts people type or import.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from functools import total_ordering
from typing import Any

from django.utils.translation import gettext as _

from crm.platform.errors import ServiceError

CENT = Decimal("0.01")


def round_money(value: Decimal) -> Decimal:
    """Half-up to the cent, as the tax bureau and Chinese invoicing software round."""
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class LineAmounts:
    """The three stored amounts of one document line."""

    incl: Decimal  # tax-inclusive amount
    excl: Decimal  # tax-exclusive amount
    tax: Decimal


def line_amounts(*, quantity: Decimal, unit_price_incl: Decimal, rate: Decimal) -> LineAmounts:
    """The stored amounts of a line from its quantity, tax-inclusive unit price and VAT rate (0.13 = 13 %)."""
    incl = round_money(quantity * unit_price_incl)
    excl = round_money(incl / (1 + rate))
    return LineAmounts(incl=incl, excl=excl, tax=incl - excl)


def document_totals(lines: Iterable[Any]) -> LineAmounts:
    """The totals of a document: the sums of its lines' stored amounts (anything with incl, excl and tax),
    never recomputed from the summed amount, so the lines always add up to the total to the cent."""
    incl = excl = tax = Decimal("0.00")
    for line in lines:
        incl += line.incl
        excl += line.excl
        tax += line.tax
    return LineAmounts(incl=incl, excl=excl, tax=tax)


# --- one value type ------------------------------------------------------------------------------------

DEFAULT_CURRENCY = "CNY"
SYMBOLS = {"CNY": "¥", "USD": "$", "EUR": "€", "HKD": "HK$", "JPY": "JP¥", "GBP": "£"}


@total_ordering
@dataclass(frozen=True)
class Money:
    """An amount with its currency. Adding, subtracting and comparing need the same currency (a mix is a
    bug, so it raises ValueError); multiplying by a number rounds half-up to the cent."""

    amount: Decimal
    currency: str = DEFAULT_CURRENCY

    def __post_init__(self) -> None:
        if isinstance(self.amount, bool) or not isinstance(self.amount, (Decimal, int)):
            raise TypeError(f"Money needs a Decimal amount, not {type(self.amount).__name__}")
        amount = Decimal(self.amount)
        if not amount.is_finite():
            raise ValueError("Money cannot be NaN or infinite")
        object.__setattr__(self, "amount", amount)
        object.__setattr__(self, "currency", self.currency.upper())

    def _same(self, other: object) -> Money:
        if not isinstance(other, Money):
            raise TypeError(f"cannot combine Money with {type(other).__name__}")
        if other.currency != self.currency:
            raise ValueError(f"cannot combine {self.currency} with {other.currency}")
        return other

    def __add__(self, other: Money) -> Money:
        return Money(self.amount + self._same(other).amount, self.currency)

    def __sub__(self, other: Money) -> Money:
        return Money(self.amount - self._same(other).amount, self.currency)

    def __mul__(self, factor: Decimal | int) -> Money:
        if isinstance(factor, (bool, float)) or not isinstance(factor, (Decimal, int)):
            raise TypeError("multiply Money by a Decimal or an int")
        return Money(round_money(self.amount * factor), self.currency)

    __rmul__ = __mul__

    def __neg__(self) -> Money:
        return Money(-self.amount, self.currency)

    def __lt__(self, other: Money) -> bool:
        return self.amount < self._same(other).amount

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Money):
            return NotImplemented
        return self.currency == other.currency and self.amount == other.amount

    def __hash__(self) -> int:
        return hash((self.amount, self.currency))

    def rounded(self) -> Money:
        return Money(round_money(self.amount), self.currency)

    def __str__(self) -> str:
        """¥1,234.50 (the currency's symbol, thousands separators, two decimals; -¥5.00 when negative)."""
        symbol = SYMBOLS.get(self.currency, f"{self.currency} ")
        rounded = round_money(self.amount)
        sign = "-" if rounded < 0 else ""
        return f"{sign}{symbol}{abs(rounded):,.2f}"


# --- the one parser of user money ----------------------------------------------------------------------

# Currency marks and separators people type or paste: ¥ / ￥ / RMB / CNY / 元, "," and "，" between thousands,
# ordinary, no-break and thin spaces.
_MARKS = re.compile(r"^(?:[¥￥]|RMB|CNY)\s*|\s*(?:元|RMB|CNY)$", re.IGNORECASE)
_SEPARATORS = re.compile(r"(?<=\d)[,，\s\u00a0\u2009\u202f](?=\d)")
_PLAIN = re.compile(r"^-?\d{1,15}(?:\.\d{1,2})?$")
_NUMBER = re.compile(r"^[+-]?(?:\d+(?:\.\d*)?|\.\d+)$")


def parse_amount(value: Any, *, field: str = "amount") -> Decimal:
    """An amount a person typed, pasted or uploaded, as a Decimal to the cent.

    Accepts numbers and text such as "1234", "1,234.5", "¥1 234.50", "￥12.00元". Refuses, with a translated
    ServiceError on `field`: empty input, NaN and infinities, more than two decimals, anything else. The
    sign is kept: callers decide whether zero or negative amounts make sense."""
    if isinstance(value, str):
        text = value.strip()
        if _PLAIN.match(text):  # the common case (imports of 100k rows): a plain number to the cent
            return Decimal(text).quantize(CENT)
        text = _SEPARATORS.sub("", _MARKS.sub("", text).strip())
        if not _NUMBER.match(text):
            raise _refuse(field)
        amount = Decimal(text)
    elif isinstance(value, bool) or value is None:
        raise _refuse(field)
    elif isinstance(value, float):
        return parse_amount(repr(value), field=field)  # the shortest text (0.1 -> "0.1"), not binary digits
    elif isinstance(value, (int, Decimal)):
        amount = Decimal(value)
    else:
        raise _refuse(field)
    if not amount.is_finite():
        raise _refuse(field)
    try:
        cents = amount.quantize(CENT, rounding=ROUND_HALF_UP)
    except InvalidOperation:  # more digits than Decimal's precision: no real amount
        raise _refuse(field) from None
    if amount != cents:
        raise ServiceError(_("Enter at most two decimals (cents)."), field=field)
    return cents


def _refuse(field: str) -> ServiceError:
    return ServiceError(_("Enter an amount, e.g. 1,234.50."), field=field)
