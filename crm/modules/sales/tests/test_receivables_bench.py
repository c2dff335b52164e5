"""bench/sales.py at a tiny size in the test tenant: the bulk rows are consistent and every timing runs."""

from __future__ import annotations

from django.db import connection
from django.db.models import F, Sum
from django_tenants.utils import schema_context

from bench import sales as bench_sales
from crm.modules.sales.models import Contract, Installment, Receipt


def test_bench_fill_and_measure_small(alpha):
    n = {
        "contracts": 60,
        "customers": 7,
        "installments_per_contract": 3,
        "receipts": 3,
        "calls": 2,
        "create": 2,
    }
    client = alpha.client("finance")
    with schema_context(alpha.schema):
        reps = [alpha.users["sales"], alpha.users["sales2"]]
        bench_sales.fill(n, reps)
        bulk = Contract.objects.filter(number__startswith="HTB-")
        assert bulk.count() == 60
        assert Installment.objects.filter(contract__in=bulk).count() == 180
        for c in bulk:
            plan = Installment.objects.filter(contract=c).aggregate(t=Sum("amount"), p=Sum("paid_amount"))
            assert plan["t"] == c.total_incl and plan["p"] == c.paid_amount
        assert not Installment.objects.filter(paid_amount__gt=F("amount")).exists()
        assert Receipt.objects.filter(number__startswith="SKB-").exists()
        result = bench_sales.measure(
            n,
            finance=alpha.users["finance"],
            rep=alpha.users["sales"],
            owner=alpha.users["owner"],
            client=client,
        )
    connection.set_schema_to_public()  # type: ignore[attr-defined]
    assert result["contract_create_20_lines"]["count"] == 2
    assert set(result["http"]) == {"aging_page", "forecast_page", "open_list_page", "open_list_api"}
    assert result["server"]["aging_all"]["p95_ms"] >= 0
    assert result["rows"]["contracts"] >= 62
