"""Random receipts, deliveries, returns, transfers and counts keep every balance equal to the sum of its
moves (quantity and value), the average cost never negative and no value on empty stock; the two return
rules hold (a customer return comes back at the cost given, a return to the supplier leaves at the price
received)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crm.modules.inventory import services
from crm.modules.inventory.models import StockBalance, StockMove
from crm.platform.errors import ServiceError

from .factories import ledger, make_product, make_warehouse

K = StockMove.Kind
qty = st.integers(min_value=1, max_value=40).map(Decimal)
price = st.decimals(min_value=Decimal("0"), max_value=Decimal("99.99"), places=2)
where = st.integers(min_value=0, max_value=1)
op = st.one_of(
    st.tuples(st.just("receipt"), where, qty, price),
    st.tuples(st.just("delivery"), where, qty, st.none()),
    st.tuples(st.just("return_in"), where, qty, price),
    st.tuples(st.just("return_out"), where, qty, price),
    st.tuples(st.just("transfer"), where, qty, st.none()),
    st.tuples(st.just("count"), where, st.integers(min_value=0, max_value=60).map(Decimal), st.none()),
)


class _Rollback(Exception):
    pass


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=st.lists(op, min_size=1, max_size=20))
def test_random_postings_keep_balances_equal_to_the_ledger(inv: Any, ops: list[tuple[Any, ...]]) -> None:
    actor = inv.users["owner"]
    try:
        with transaction.atomic():
            p = make_product()
            whs = [make_warehouse(), make_warehouse()]
            for i, (name, w, q, c) in enumerate(ops):
                wh = whs[w]
                key = f"prop:{i}"
                try:
                    if name == "transfer":
                        services.transfer_create(
                            actor=actor,
                            from_warehouse=wh,
                            to_warehouse=whs[1 - w],
                            lines=[services.LineInput(p.pk, q)],
                            idempotency_key=key,
                        )
                    elif name == "count":
                        services.count_create(
                            actor=actor,
                            warehouse=wh,
                            reason="盘点",
                            lines=[services.LineInput(p.pk, q)],
                            idempotency_key=key,
                        )
                    else:
                        moves = services.stock_post(
                            actor=actor,
                            moves=[services.MoveData(p.pk, wh.pk, q, name, c)],
                            idempotency_key=key,
                        )
                        if name == K.RETURN_IN:
                            assert moves[0].value == services.money(q * c)
                        if name == K.RETURN_OUT:
                            assert moves[0].unit_cost == c
                except ServiceError:
                    pass  # not enough stock: refused, nothing written (checked below)
                for b in StockBalance.objects.filter(product=p):
                    assert (b.on_hand, b.value) == ledger(p, b.warehouse)
                    assert b.on_hand >= 0
                    assert b.average_cost >= 0
                    assert b.value >= 0
                    if b.on_hand == 0:
                        assert b.value == 0
            raise _Rollback
    except _Rollback:
        pass
