"""Buy in, sell out in a browser, with the four people it takes: a buyer asks three suppliers for a price,
enters their quotes, reads the comparison (the real cost: VAT that can be deducted, freight, credit days)
and orders from the best; the warehouse receives part of the order; a rep sells 40 from stock on an order;
the warehouse ships it with a waybill number and opens the delivery note; the owner reads the margin of
that order, which is the order's tax-exclusive amount less the receipt's tax-exclusive cost of the 40.

The workspace (trade: sales, inventory, purchasing) is set up as an owner would on the settings pages: the
buyer, the warehouse keeper and the rep, three suppliers, a stock-tracked product, a warehouse that is the
inventory default (where confirmed orders reserve and ship from), a customer of the rep. No approval rules:
the buyer confirms the purchase order and the rep the sales order without waiting for anybody.

The three quotes, 100 pieces each (VAT 13 %; this workspace deducts input VAT; money costs 6 % a year):
- 华强 (special VAT invoice): 113.00 with 300.00 freight -> 100.00 + 3.00 = 103.0000 a piece;
- 小规模 (general invoice 3 %, not deductible): 101.00 -> 101.0000 a piece, the lowest price on paper;
- 远航 (special VAT invoice): 113.00 paid 60 days later -> 100.00 - 0.9863 = 99.0137 a piece: the best.
"""

from __future__ import annotations

import json
import re
from decimal import Decimal
from typing import Any

import pytest

from tests.e2e.conftest import PASSWORD, LiveServer, htmx_idle, login, screenshot

pytestmark = pytest.mark.e2e

SETUP = """
import json
from decimal import Decimal
from django_tenants.utils import schema_context
from crm.modules.core.models import Customer, Product
from crm.modules.inventory.models import InventorySettings, StockProduct, Warehouse
from crm.modules.purchasing.models import Supplier
from crm.tenants.accounts.models import User
from crm.tenants.models import Tenant
t = Tenant.objects.get(slug={slug!r})
with schema_context(t.schema_name):
    User.objects.create_user({buyer!r}, {pw!r}, name="赵采购", role="buyer")
    User.objects.create_user({warehouse!r}, {pw!r}, name="钱仓管", role="warehouse")
    rep = User.objects.create_user({rep!r}, {pw!r}, name="孙销售", role="sales")
    suppliers = {{}}
    for code, name, invoice, status in (
        ("HQ", "深圳华强电子有限公司", "special_13", "general"),
        ("XG", "东莞小规模五金店", "general_3", "small_scale"),
        ("YH", "苏州远航工业有限公司", "special_13", "general"),
    ):
        suppliers[code] = Supplier.objects.create(
            code=code, name=name, invoice_type=invoice, tax_status=status, payment_days=0
        ).pk
    product = Product.objects.create(
        name="不锈钢轴承 6205", code="BR6205", unit="个", price=Decimal("169.50"), vat_rate=Decimal("0.13")
    )
    StockProduct.objects.create(product=product)
    wh = Warehouse.objects.create(code="WH1", name="上海总仓")
    settings, _ = InventorySettings.objects.get_or_create(pk=1)
    settings.default_warehouse = wh
    settings.save()
    customer = Customer.objects.create(name="杭州精工机械有限公司", owner=rep)
    print(json.dumps({{"customer": customer.pk, "suppliers": suppliers, "product": product.pk, "wh": wh.pk}}))
"""

STATE = """
import json
from django_tenants.utils import schema_context
from crm.modules.inventory.models import StockBalance, StockMove
from crm.modules.purchasing.models import PurchaseOrder, ReceiptLine
from crm.modules.sales.models import Contract
from crm.tenants.models import Tenant
with schema_context(Tenant.objects.get(slug={slug!r}).schema_name):
    po = PurchaseOrder.objects.get()
    c = Contract.objects.filter(kind="order").first()
    print(json.dumps({{
        "po_supplier": po.supplier.code, "po_state": po.state, "po_receipt": po.receipt_status,
        "receipt_costs": sorted(str(x) for x in ReceiptLine.objects.values_list("unit_cost", flat=True)),
        "on_hand": sorted(str(b.on_hand) for b in StockBalance.objects.all()),
        "order_state": c.state if c else None, "order_delivery": c.delivery_status if c else None,
        "deliveries": sorted(str(m.quantity) for m in StockMove.objects.filter(kind="delivery")),
    }}))
"""

QUANTITY = Decimal("100")
RECEIVED = Decimal("60")
SOLD = Decimal("40")
SALE_PRICE_INCL = Decimal("169.50")  # 150.00 a piece without the 13 % VAT
BEST_PRICE_INCL = Decimal("113.00")  # the order goes to 远航 at this price with a special 13 % VAT invoice


def _people(server: LiveServer, slug: str) -> dict[str, Any]:
    owner = server.create_tenant(slug, ["trade"])
    people = {role: f"{role}@{slug}.e2e.example.com" for role in ("buyer", "warehouse", "rep")}
    out = server.manage("shell", "-c", SETUP.format(slug=slug, pw=PASSWORD, **people))
    return {**people, "owner": owner, **json.loads(out.strip().splitlines()[-1])}


def _state(server: LiveServer, slug: str) -> dict[str, Any]:
    return dict(json.loads(server.manage("shell", "-c", STATE.format(slug=slug)).strip().splitlines()[-1]))


def _amount(text: str) -> Decimal:
    """'¥2,000.00' (or '2,000.00') -> Decimal('2000.00')."""
    match = re.search(r"-?[\d,]+(?:\.\d+)?", text)
    assert match, text
    return Decimal(match.group(0).replace(",", ""))


def _logout(page: Any) -> None:
    page.context.clear_cookies()
    page.context.add_cookies([{"name": "django_language", "value": "en", "domain": "localhost", "path": "/"}])


def _open(page: Any, form: str) -> None:
    """Open the collapsed <details> card that holds the form `form` (a no-op when it is open already)."""
    details = page.locator(f"details:has([data-testid={form}])")
    if details.get_attribute("open") is None:
        details.locator("> summary").click()


def _on_screen(page: Any, locator: Any) -> None:
    """The element lies within the window's width and within its scrolling table (a table scrolled
    sideways hides what is right of the edge)."""
    edges = locator.evaluate(
        "el => { const r = el.getBoundingClientRect(), w = el.closest('.table-wrap');"
        " const c = w ? w.getBoundingClientRect() : {left: 0, right: window.innerWidth};"
        " return [r.left, r.right, c.left, c.right, window.innerWidth]; }"
    )
    left, right, box_left, box_right, width = edges
    assert left >= 0 and right <= width and box_left <= left and right <= box_right, edges


def _quote(
    page: Any, code: str, supplier: str, price: str, *, invoice: str = "", freight: str = "0", days: str = ""
) -> None:
    _open(page, "quote-form")
    form = page.locator("[data-testid=quote-form]")
    form.locator("select[name=supplier]").select_option(label=f"{code} {supplier}")
    if invoice:
        form.locator("select[name=invoice_type]").select_option(invoice)
    form.locator("input[name=freight]").fill(freight)
    form.locator("input[name=payment_days]").fill(days)
    form.locator("input[name^=price_]").fill(price)
    form.locator("button").click()
    page.wait_for_url(re.compile(r".*/purchasing/rfqs/\d+/$"))
    page.locator(f"[data-testid=comparison-table] tr:has-text('{supplier}')").wait_for()


def test_buy_compare_receive_sell_ship_and_margin(
    e2e_server: LiveServer, page: Any, viewport: tuple[str, dict[str, int]]
) -> None:
    slug = f"trade{viewport[0]}"
    people = _people(e2e_server, slug)
    url = e2e_server.tenant_url

    # The buyer asks the three suppliers for 100 bearings
    login(page, e2e_server, slug, people["buyer"])
    page.goto(url(slug, "/purchasing/rfqs/"))
    _open(page, "rfq-form")
    form = page.locator("[data-testid=rfq-form]")
    form.locator("input[name=title]").fill("轴承 6205 询价")
    for name in ("深圳华强电子有限公司", "东莞小规模五金店", "苏州远航工业有限公司"):
        form.get_by_label(name).check()
    form.locator("select[name=form-0-product]").select_option(label="BR6205 不锈钢轴承 6205")
    form.locator("input[name=form-0-quantity]").fill(str(QUANTITY))
    form.locator("button").last.click()
    page.wait_for_url(re.compile(r".*/purchasing/rfqs/\d+/$"))

    # ... enters their quotes: one with freight, one with a 3 % invoice, one with 60 days of credit
    _quote(page, "HQ", "深圳华强电子有限公司", "113.00", invoice="special_13", freight="300")
    _quote(page, "XG", "东莞小规模五金店", "101.00", invoice="general_3")
    _quote(page, "YH", "苏州远航工业有限公司", "113.00", invoice="special_13", days="60")

    # ... and reads the comparison: the real cost puts 远航 first, the lowest price on paper second
    rows = page.locator("[data-testid=comparison-table] tr:has(td)")
    assert rows.count() == 3
    ranking = [rows.nth(i).locator("td").nth(1).inner_text() for i in range(3)]
    assert [name.split(" ")[0].strip() for name in ranking] == [
        "苏州远航工业有限公司",
        "东莞小规模五金店",
        "深圳华强电子有限公司",
    ]
    best = page.locator("[data-testid=cheapest]")
    assert "99.0137" in best.inner_text()
    assert best.locator("input[type=radio]").is_checked()
    # on a phone too, the real cost and the choice are on the screen, not scrolled away to the right
    _on_screen(page, best.locator("[data-testid=real-cost]"))
    _on_screen(page, best.locator("input[type=radio]"))
    screenshot(page, "trade-comparison", viewport)

    # ... awards it (the cheapest is chosen): one purchase order to 远航, which the buyer submits and confirms
    page.locator("[data-testid=award]").click()
    page.wait_for_url(re.compile(r".*/purchasing/orders/$"))
    orders = page.locator("[data-testid=order-table] tr:has(td a)")
    assert orders.count() == 1
    assert "苏州远航工业有限公司" in orders.inner_text()
    orders.locator("a").click()
    page.wait_for_url(re.compile(r".*/purchasing/orders/\d+/$"))
    po_url = page.url
    page.locator("[data-testid=action-submit]").click()
    page.locator("[data-testid=action-confirm]").click()
    page.locator("h1:has-text('Confirmed')").wait_for()
    assert _state(e2e_server, slug)["po_state"] == "confirmed"
    screenshot(page, "trade-purchase-order", viewport)

    # The warehouse receives 60 of the 100 into the warehouse: the order is partly received
    _logout(page)
    login(page, e2e_server, slug, people["warehouse"])
    page.goto(po_url)
    receive = page.locator("[data-testid=receive-form]")
    # the order came from the award without a warehouse: the workspace's default one is proposed
    assert receive.locator("select[name=warehouse]").input_value() == str(people["wh"])
    receive.locator("input[name^=qty_]").fill(str(RECEIVED))
    receive.locator("[data-testid=receive]").click()
    page.locator("[data-testid=receipt-table] td:has-text('Goods receipt')").wait_for()
    assert "Partly received" in page.locator("h1").inner_text()
    received = page.locator("[data-testid=order-lines] tr:has-text('不锈钢轴承 6205') td").last
    assert received.inner_text().strip() == str(RECEIVED)
    _on_screen(page, received)
    screenshot(page, "trade-receipt-partial", viewport)

    # The rep sells 40 of them on an order from the customer's page and confirms it (that reserves them)
    _logout(page)
    login(page, e2e_server, slug, people["rep"])
    page.goto(url(slug, f"/customers/{people['customer']}/"))
    page.locator("a:text-is('New order')").click()
    page.wait_for_url(re.compile(r".*/sales/contracts/new/.*kind=order"))
    assert page.locator("select[name=kind]").input_value() == "order"
    line = page.locator("[data-testid=doc-line]").first
    with page.expect_response(re.compile(r".*/sales/documents/lines/$")):
        line.locator("select[name=line-1-product]").select_option(label="不锈钢轴承 6205")
    htmx_idle(page)  # the line is swapped with the product's price: type after it, or the swap eats it
    line = page.locator("[data-testid=doc-line]").first
    line.locator("input[name=line-1-quantity]").fill(str(SOLD))
    line.locator("input[name=line-1-unit_price_incl]").fill(str(SALE_PRICE_INCL))
    with page.expect_response(re.compile(r".*/sales/documents/lines/$")):
        page.locator("select[name=line-1-vat_rate]").select_option("0.13")
    htmx_idle(page)
    assert _amount(page.locator("[data-testid=total-incl]").inner_text()) == SOLD * SALE_PRICE_INCL
    page.locator("[data-testid=doc-save]").click()
    page.wait_for_url(re.compile(r".*/sales/contracts/\d+/$"))
    order_url = page.url
    page.locator("[data-testid=action-submit]").click()
    page.locator("[data-testid=action-confirm]").click()
    page.locator("[data-testid=order-deliveries]:has-text('Reserved')").wait_for()
    assert _state(e2e_server, slug)["order_state"] == "confirmed"
    screenshot(page, "trade-sales-order", viewport)

    # The warehouse opens "To ship", ships the full 40 with a waybill number and opens the delivery note
    _logout(page)
    login(page, e2e_server, slug, people["warehouse"])
    page.goto(url(slug, "/inventory/to-ship/"))
    to_ship = page.locator("[data-testid=to-ship-table] tr:has-text('杭州精工机械有限公司')")
    to_ship.locator("[data-testid=ship-link]").click()
    ship = page.locator("[data-testid=ship-form]")
    assert ship.locator("input[name^=qty_]").input_value() == str(SOLD)
    ship.locator("input[name=waybill]").fill("SF1234567890")
    ship.locator("button").click()
    page.locator("[data-testid=delivery-lines]").wait_for()
    assert "SF1234567890" in page.locator("body").inner_text()
    page.locator("[data-testid=delivery-print]").click()
    page.locator("body:has-text('SF1234567890')").wait_for()
    screenshot(page, "trade-delivery-note", viewport)

    # The owner opens the order: its actual margin is the 40 at their receipt cost against the sale
    _logout(page)
    login(page, e2e_server, slug, people["owner"])
    page.goto(order_url)
    margin = page.locator("[data-testid=contract-margin]")
    cost_each = (BEST_PRICE_INCL / Decimal("1.13")).quantize(Decimal("0.0001"))  # tax-exclusive receipt cost
    revenue = (SOLD * SALE_PRICE_INCL / Decimal("1.13")).quantize(Decimal("0.01"))
    expected = revenue - (cost_each * SOLD).quantize(Decimal("0.01"))
    assert (revenue, expected) == (Decimal("6000.00"), Decimal("2000.00"))
    assert _amount(margin.locator("[data-testid=margin-actual-revenue]").inner_text()) == revenue
    cost = margin.locator("[data-testid=margin-actual-cost]")
    assert _amount(cost.inner_text()) == (cost_each * SOLD).quantize(Decimal("0.01"))
    actual = margin.locator("[data-testid=margin-actual-margin]")
    assert _amount(actual.inner_text()) == expected
    assert margin.locator("[data-testid=margin-actual-percent]").inner_text().strip() == "33.33%"
    _on_screen(page, actual)
    screenshot(page, "trade-order-margin", viewport)
    # ... and the same figure in the margin report
    page.goto(url(slug, "/sales/margin/"))
    assert page.locator("[data-testid=margin-row]").count() >= 1
    assert _amount(page.locator("[data-testid=kpi-act-margin]").inner_text()) == expected

    state = _state(e2e_server, slug)
    assert state == {
        "po_supplier": "YH",
        "po_state": "confirmed",
        "po_receipt": "partial",
        "receipt_costs": [str(cost_each)],
        "on_hand": ["20.0000"],
        "order_state": "confirmed",
        "order_delivery": "full",
        "deliveries": ["-40.0000"],
    }
