"""VAT rates as data (capabilities.md section 2) and the tax bureau's tolerances on invoice lines.

The rates of China's VAT since 1 April 2019 (财政部 税务总局 海关总署公告2019年第39号): 13 % goods,
processing and repairs; 9 % transport, construction, real estate, farm produce; 6 % modern and financial
services; 3 % and 1 % the simplified rates of small-scale taxpayers; 0 % exports and exempt sales.
A product carries a default rate (core Product.vat_rate), a document line may override it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from .money import round_money


@dataclass(frozen=True)
class VatRate:
    rate: Decimal  # 0.13 = 13 %
    label: str | Promise


VAT_RATES: tuple[VatRate, ...] = (
    VatRate(Decimal("0.13"), _("13% (goods, processing and repairs)")),
    VatRate(Decimal("0.09"), _("9% (transport, construction, real estate, farm produce)")),
    VatRate(Decimal("0.06"), _("6% (services)")),
    VatRate(Decimal("0.03"), _("3% (small-scale taxpayer)")),
    VatRate(Decimal("0.01"), _("1% (small-scale taxpayer, reduced)")),
    VatRate(Decimal("0.00"), _("0% (export or exempt)")),
)
VAT_RATE_CHOICES = [(r.rate, r.label) for r in VAT_RATES]
DEFAULT_VAT_RATE = Decimal("0.13")

# Tolerances of the VAT invoicing software (增值税发票税控开票软件): a line's tax may differ from
# excl x rate by at most 0.06 yuan, an invoice's summed line taxes from its summed excl x rate by at most
# 1.27 yuan. These are the figures commonly cited for Chinese VAT invoices (the issue brief names the 0.06
# rule); they were not checked against a primary regulation text, hence named constants in one place.
LINE_TAX_TOLERANCE = Decimal("0.06")
INVOICE_TAX_TOLERANCE = Decimal("1.27")


def validate_rate(rate: Any) -> Decimal:
    """The VAT rate `rate` (0.13, "0.13", "13%", or "13" as people type it in a spreadsheet: no rate is
    above 50 %, so a number from 1 up is a percentage), as the canonical Decimal of VAT_RATES; any other
    value is refused with a translated ServiceError on the field "vat_rate"."""
    from django.utils.translation import gettext

    from crm.platform.errors import ServiceError

    try:
        text = str(rate).strip()
        value = Decimal(text[:-1]) / 100 if text.endswith("%") else Decimal(text)
        if value.is_finite() and value >= 1:
            value /= 100
    except (InvalidOperation, ValueError):
        value = None
    for known in VAT_RATES:
        if value is not None and value.is_finite() and value == known.rate:
            return known.rate
    raise ServiceError(
        gettext("Choose a VAT rate of 13%, 9%, 6%, 3%, 1% or 0%."), code="invalid_vat_rate", field="vat_rate"
    )


def rate_label(rate: Decimal) -> str:
    for known in VAT_RATES:
        if known.rate == rate:
            return str(known.label)
    return f"{rate * 100:g}%"


def tax_tolerance_ok(line: Any, rate: Decimal | None = None) -> bool:
    """Whether a line's stored tax is within the bureau's per-line tolerance of round(excl x rate, 2).

    `line` has `excl` and `tax` (a LineAmounts or a document line); `rate` defaults to `line.rate`."""
    rate = line.rate if rate is None else rate
    return abs(line.tax - round_money(line.excl * rate)) <= LINE_TAX_TOLERANCE


def invoice_tax_tolerance_ok(lines: Iterable[tuple[Any, Decimal]]) -> bool:
    """Whether the summed tax of (line, rate) pairs is within the invoice-level tolerance of the summed
    round(excl x rate, 2)."""
    tax = expected = Decimal("0")
    for line, rate in lines:
        tax += line.tax
        expected += round_money(line.excl * rate)
    return abs(tax - expected) <= INVOICE_TAX_TOLERANCE
