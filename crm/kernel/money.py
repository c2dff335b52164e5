"""Money and VAT (capabilities.md section 2): amounts are Decimal with a currency; one rounding rule per
line, never recomputed from totals.

    incl = round(qty x unit_price_incl, 2)   excl = round(incl / (1 + rate), 2)   tax = incl - excl

Document totals are sums of the stored line values.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

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
