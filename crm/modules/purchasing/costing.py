"""The real cost of a supplier's price (比价), one pure function so the comparison, its tests and the
documentation say the same thing:

    real cost per unit = base + freight share + cost of payment terms

- base: the tax-exclusive price when the workspace deducts input VAT (a general taxpayer, the purchasing
  setting) and the quote comes with a special VAT invoice; otherwise the tax-inclusive price, since VAT that
  cannot be deducted is a cost;
- freight share: the quote's freight spread over its lines by value: freight × price / quote goods total
  (per unit; the goods total is Σ quantity × price, tax included);
- cost of payment terms: − base × capital rate × payment days / 365: paying later is worth the interest
  the money earns meanwhile, so credit days make a quote cheaper.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

PLACES = Decimal("0.0001")
ZERO = Decimal("0")


def q4(value: Decimal) -> Decimal:
    return value.quantize(PLACES, rounding=ROUND_HALF_UP)


def excl(price_incl: Decimal, vat_rate: Decimal) -> Decimal:
    """The tax-exclusive unit price of a tax-inclusive one."""
    return q4(price_incl / (1 + vat_rate))


@dataclass(frozen=True)
class RealCost:
    base: Decimal
    freight: Decimal
    terms: Decimal
    deductible: bool

    @property
    def total(self) -> Decimal:
        return self.base + self.freight + self.terms


def real_cost(
    *,
    price_incl: Decimal,
    vat_rate: Decimal,
    deductible: bool,
    freight: Decimal,
    goods_total: Decimal,
    capital_rate_percent: Decimal,
    payment_days: int,
) -> RealCost:
    base = excl(price_incl, vat_rate) if deductible else q4(price_incl)
    share = q4(freight * price_incl / goods_total) if goods_total > 0 and freight else ZERO
    terms = q4(-base * capital_rate_percent / 100 * Decimal(payment_days) / 365)
    return RealCost(base=base, freight=share, terms=terms, deductible=deductible)
