"""A customer that is also a supplier: the "As supplier" panel on the customer page, and merging customers
moves the supplier link (or, when the surviving customer already has a supplier, unlinks the other one
instead of failing)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.urls import reverse
from django_tenants.utils import schema_context

from crm.kernel.tenant_time import tenant_today
from crm.modules.core.models import Customer
from crm.modules.core.services.customers import customer_merge
from crm.modules.purchasing import services
from crm.modules.purchasing.models import Supplier

from .factories import confirmed_order, make_product, make_supplier, make_warehouse


def customer(owner: Any, name: str) -> Customer:
    return Customer.objects.create(name=name, owner=owner)


def test_merge_moves_the_supplier_link(pur: Any) -> None:
    owner = pur.users["owner"]
    a, b = customer(owner, "恒达五金甲"), customer(owner, "恒达五金乙")
    s = make_supplier(customer=a)
    customer_merge(actor=owner, target=b, source=a)
    s.refresh_from_db()
    assert s.customer_id == b.pk


def test_merge_into_a_customer_with_a_supplier_keeps_its_link(pur: Any) -> None:
    owner = pur.users["owner"]
    a, b = customer(owner, "宏钢贸易甲"), customer(owner, "宏钢贸易乙")
    sa, sb = make_supplier(customer=a), make_supplier(customer=b)
    customer_merge(actor=owner, target=b, source=a)
    sa.refresh_from_db()
    sb.refresh_from_db()
    assert (sa.customer_id, sb.customer_id) == (None, b.pk)
    assert not Customer.objects.filter(pk=a.pk).exists()
    assert Supplier.objects.filter(pk=sa.pk).exists()


def test_as_supplier_panel_shows_open_orders_and_payables(beta: Any) -> None:
    with schema_context(beta.schema):
        owner = beta.users["owner"]
        c = customer(owner, "华智工控")
        s = make_supplier(customer=c, code="GYS900")
        order = confirmed_order(owner, s, [(make_product(), "2", "113")], make_warehouse())
        services.bill_create(
            actor=owner, supplier=s, number="FP-9001", amount_incl=Decimal("226"), bill_date=tenant_today()
        )
        plain = customer(owner, "普通客户")
        url = reverse(
            "core:customer_panel",
            kwargs={"pk": c.pk, "module": "purchasing", "index": 0},
            urlconf="config.urls_tenant",
        )
        other = reverse(
            "core:customer_panel",
            kwargs={"pk": plain.pk, "module": "purchasing", "index": 0},
            urlconf="config.urls_tenant",
        )
    page = beta.client("owner").get(url, headers={"accept-language": "zh-hans"})
    assert page.status_code == 200
    html = page.content.decode()
    assert order.number in html and "GYS900" in html and "FP-9001" in html and "226.00" in html
    # (new msgids are translated once zh_p.json is merged into the catalogue)
    assert "purchasing-panel" in beta.client("owner").get(other).content.decode()
    assert beta.client("sales").get(url).status_code in (403, 404)
