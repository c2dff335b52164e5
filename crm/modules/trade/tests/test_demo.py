"""The trade demo workspace: the core, purchasing and trade seeders together give a trading firm's year in
which orders were shipped from the stock that was bought (partly and fully), a few came back, samples are out
in every state, the ledger agrees with its balances, the overview has margins and payables to show, and a
second run adds nothing."""

from __future__ import annotations

from typing import Any

from django_tenants.utils import schema_context

from crm.modules.core import demo as core_demo
from crm.modules.inventory.models import Delivery, Sample, SampleLine, StockMove
from crm.modules.inventory.services import ledger_mismatches
from crm.modules.purchasing import demo as purchasing_demo
from crm.modules.sales.models import Contract, ContractLine
from crm.modules.trade import demo, selectors


def _seed(tenant: Any) -> None:
    core_demo.seed(tenant)
    purchasing_demo.seed(tenant)
    demo.seed(tenant)


def _counts() -> tuple[int, ...]:
    return (
        Contract.objects.count(),
        Delivery.objects.count(),
        Sample.objects.count(),
        StockMove.objects.count(),
    )


def test_trade_demo_ships_what_was_bought_and_is_idempotent(beta: Any) -> None:
    # Given the demo workspace's seeders in the order the demo command runs them
    _seed(beta.tenant)
    with schema_context(beta.schema):
        first = _counts()
        # Then orders were shipped from stock, fully and partly, at a cost taken from the ledger
        assert Delivery.objects.count() >= 10
        statuses = set(Contract.objects.values_list("delivery_status", flat=True))
        assert {"full", "partial"} <= statuses
        delivered = ContractLine.objects.filter(delivered_quantity__gt=0)
        assert delivered.exists() and not delivered.filter(actual_cost_excl__isnull=True).exists()
        assert StockMove.objects.filter(kind="delivery").exists()
        assert StockMove.objects.filter(kind="return_in").exists()
        assert set(SampleLine.objects.values_list("outcome", flat=True)) == {
            "out",
            "returned",
            "consumed",
            "converted",
        }
        # The ledger agrees with every balance
        assert ledger_mismatches() == []
        # The owner's overview has something in every card
        ctx = selectors.dashboard_context(beta.users["owner"])
        assert ctx["margin"]["totals"]["act_margin"] > 0
        assert ctx["stock_value"] > 0 and ctx["payables"]["open"] > 0
    # When the seeders run again, nothing is added
    _seed(beta.tenant)
    with schema_context(beta.schema):
        assert _counts() == first
