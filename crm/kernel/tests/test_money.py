"""Money, the amount parser, VAT rates and the per-line rounding rule against hand-computed invoices.

Rule (capabilities.md section 2): incl = round(qty x unit_price_incl, 2), excl = round(incl / (1 + rate), 2),
tax = incl - excl; document totals are sums of the stored lines. Expected figures are worked by hand."""

from __future__ import annotations

from decimal import Decimal as D

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crm.kernel.money import LineAmounts, Money, document_totals, line_amounts, parse_amount
from crm.kernel.vat import VAT_RATES, invoice_tax_tolerance_ok, rate_label, tax_tolerance_ok, validate_rate
from crm.platform.errors import ServiceError

# --- hand-computed invoices ----------------------------------------------------------------------------


def test_three_lines_by_hand() -> None:
    # 3 x 33.33 at 13 %: incl 99.99, excl 99.99 / 1.13 = 88.4867 -> 88.49, tax 11.50
    a = line_amounts(quantity=D("3"), unit_price_incl=D("33.33"), rate=D("0.13"))
    assert (a.incl, a.excl, a.tax) == (D("99.99"), D("88.49"), D("11.50"))
    # 7 x 0.99 at 6 %: incl 6.93, excl 6.93 / 1.06 = 6.5377 -> 6.54, tax 0.39
    b = line_amounts(quantity=D("7"), unit_price_incl=D("0.99"), rate=D("0.06"))
    assert (b.incl, b.excl, b.tax) == (D("6.93"), D("6.54"), D("0.39"))
    # 1 x 100 at 0 %: no tax
    c = line_amounts(quantity=D("1"), unit_price_incl=D("100"), rate=D("0"))
    assert (c.incl, c.excl, c.tax) == (D("100.00"), D("100.00"), D("0.00"))
    total = document_totals([a, b, c])
    assert total == LineAmounts(incl=D("206.92"), excl=D("195.03"), tax=D("11.89"))
    assert all(tax_tolerance_ok(x, r) for x, r in ((a, D("0.13")), (b, D("0.06")), (c, D("0"))))


def test_thousand_lines_of_odd_quantities_add_up_to_the_cent() -> None:
    lines = []
    for i in range(1000):
        if i % 2:
            # 0.333 x 9.99 at 9 %: incl 3.32667 -> 3.33, excl 3.33 / 1.09 = 3.05505 -> 3.06, tax 0.27
            lines.append(line_amounts(quantity=D("0.333"), unit_price_incl=D("9.99"), rate=D("0.09")))
        else:
            lines.append(line_amounts(quantity=D("7"), unit_price_incl=D("0.99"), rate=D("0.06")))
    assert lines[1] == LineAmounts(incl=D("3.33"), excl=D("3.06"), tax=D("0.27"))
    total = document_totals(lines)
    # 500 x 3.33 + 500 x 6.93; 500 x 3.06 + 500 x 6.54; 500 x 0.27 + 500 x 0.39
    assert total == LineAmounts(incl=D("5130.00"), excl=D("4800.00"), tax=D("330.00"))
    assert total.incl == total.excl + total.tax


def test_per_line_not_global_rounding() -> None:
    """The Odoo 6527.80 vs 6527.81 kind of case: three lines of 1.00 at 13 %. Per line 1.00 / 1.13 = 0.885
    -> 0.88 (tax 0.12), so the invoice is 2.64 + 0.36; rounding the total instead would give
    3.00 / 1.13 = 2.6549 -> 2.65 + 0.35. We keep the sum of the lines (what the fapiao prints)."""
    lines = [line_amounts(quantity=D("1"), unit_price_incl=D("1.00"), rate=D("0.13")) for _ in range(3)]
    total = document_totals(lines)
    assert (total.incl, total.excl, total.tax) == (D("3.00"), D("2.64"), D("0.36"))
    assert total.excl != (total.incl / D("1.13")).quantize(D("0.01"))  # 2.65: the global figure differs


def test_tax_inclusive_price_is_kept_not_rederived() -> None:
    """The 37.98 vs 38.00 kind of case: 3 x 12.66 quoted tax-inclusive is 37.98 on the invoice. Working from
    the unit net price instead (12.66 / 1.13 = 11.20, 3 x 11.20 = 33.60 + 4.37 tax) would bill 37.97."""
    a = line_amounts(quantity=D("3"), unit_price_incl=D("12.66"), rate=D("0.13"))
    # excl 37.98 / 1.13 = 33.6106 -> 33.61, tax 4.37
    assert (a.incl, a.excl, a.tax) == (D("37.98"), D("33.61"), D("4.37"))


def test_tax_tolerance_per_line_and_invoice() -> None:
    ok = LineAmounts(incl=D("99.99"), excl=D("88.49"), tax=D("11.50"))  # 88.49 x 0.13 = 11.5037 -> 11.50
    assert tax_tolerance_ok(ok, D("0.13"))
    edge = LineAmounts(incl=D("99.99"), excl=D("88.43"), tax=D("11.56"))  # 11.56 - 11.50 = 0.06: allowed
    assert tax_tolerance_ok(edge, D("0.13"))
    off = LineAmounts(incl=D("100.00"), excl=D("88.43"), tax=D("11.57"))  # 0.07 over
    assert not tax_tolerance_ok(off, D("0.13"))
    # Per invoice: 22 lines each 0.06 over is 1.32 > 1.27; 21 lines are 1.26.
    assert invoice_tax_tolerance_ok([(edge, D("0.13"))] * 21)
    assert not invoice_tax_tolerance_ok([(edge, D("0.13"))] * 22)


rates = st.sampled_from([r.rate for r in VAT_RATES])
quantities = st.decimals(min_value=D("0.001"), max_value=D("100000"), places=3)
prices = st.decimals(min_value=D("0.00"), max_value=D("1000000"), places=2)


@given(st.lists(st.tuples(quantities, prices, rates), min_size=1, max_size=40))
def test_property_lines_balance_and_totals_are_sums(rows: list[tuple[D, D, D]]) -> None:
    lines = [line_amounts(quantity=q, unit_price_incl=p, rate=r) for q, p, r in rows]
    for (_q, _p, r), line in zip(rows, lines, strict=True):
        assert line.incl == line.excl + line.tax
        assert line.excl.as_tuple().exponent == -2 and line.tax.as_tuple().exponent == -2
        assert tax_tolerance_ok(line, r)  # the rule never leaves the bureau's tolerance
    total = document_totals(lines)
    assert total.incl == sum(x.incl for x in lines) == total.excl + total.tax
    assert total.tax == sum(x.tax for x in lines)


# --- Money ---------------------------------------------------------------------------------------------


def test_money_value() -> None:
    a, b = Money(D("1234.5")), Money(D("0.25"))
    assert str(a) == "¥1,234.50" and str(-b) == "-¥0.25" and str(Money(D("3"), "usd")) == "$3.00"
    assert a + b == Money(D("1234.75")) and a - b == Money(D("1234.25"))
    assert a * D("0.13") == Money(D("160.49"))  # 160.485 half-up
    assert 3 * b == Money(D("0.75"))
    assert b < a and a >= b and Money(D("1.0")) == Money(D("1.00"))
    assert len({Money(D("1.0")), Money(D("1.00"))}) == 1
    with pytest.raises(ValueError):
        a + Money(D("1"), "USD")
    with pytest.raises(ValueError):
        _ = a < Money(D("1"), "USD")
    with pytest.raises(TypeError):
        Money(1.5)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        a * 1.5  # type: ignore[operator]
    with pytest.raises(ValueError):
        Money(D("NaN"))
    with pytest.raises(AttributeError):
        a.amount = D("1")  # type: ignore[misc]


# --- parse_amount and rates ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1,234.5", "1234.50"),
        ("¥1 234.50", "1234.50"),
        ("￥1\u00a0234.50元", "1234.50"),
        ("1234", "1234.00"),
        (" 12.3 ", "12.30"),
        ("-5", "-5.00"),
        ("RMB 8", "8.00"),
        (7, "7.00"),
        (12.5, "12.50"),
        (0.1, "0.10"),
        (D("1.500"), "1.50"),
    ],
)
def test_parse_amount_accepts(text: object, expected: str) -> None:
    assert parse_amount(text) == D(expected)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "  ",
        "NaN",
        "nan",
        "inf",
        "-Infinity",
        "1e5",
        "abc",
        "1.234",
        "12,34.5.6",
        "¥",
        None,
        True,
        D("NaN"),
        D("Infinity"),
        "1" * 40,
        [1],
    ],
)
def test_parse_amount_refuses_with_a_translated_error(text: object) -> None:
    from django.utils import translation

    with translation.override("zh-hans"), pytest.raises(ServiceError) as err:
        parse_amount(text, field="price")
    assert err.value.field == "price"
    assert any("\u4e00" <= ch <= "\u9fff" for ch in str(err.value.message))  # shipped in Chinese


def test_validate_rate() -> None:
    assert validate_rate("0.13") == D("0.13") and validate_rate(D("0.09")) == D("0.09")
    assert (
        validate_rate("6%") == D("0.06") and validate_rate("3") == D("0.03") and validate_rate(0) == D("0.00")
    )
    for bad in ("0.17", "17%", "abc", "", None, "NaN", "0.5"):
        with pytest.raises(ServiceError) as err:
            validate_rate(bad)
        assert err.value.field == "vat_rate"
    assert [r.rate for r in VAT_RATES] == [D(x) for x in ("0.13", "0.09", "0.06", "0.03", "0.01", "0.00")]
    assert rate_label(D("0.13")).startswith("13%")
