"""Concurrent sales on one member from two threads, each with its own PostgreSQL connection: the row lock
on the member means no update is lost and the balance equals the ledger sum.

The threads cannot see an uncommitted transaction, so every write here happens on helper threads (own
connections, autocommit): the test creates its own rows in alpha's schema and deletes them at the end,
leaving the session's shared tenants as they were. It never flushes anything."""

from __future__ import annotations

import threading
from collections.abc import Callable
from decimal import Decimal
from typing import Any, TypeVar

from django.db import connection
from django_tenants.utils import schema_context

from crm.modules.retail import services
from crm.modules.retail.models import Member, PointsEntry, PointsRule, Sale, Store, StoreClerk

SALES_PER_THREAD = 15
T = TypeVar("T")


def _in_thread(fn: Callable[[], T]) -> T:
    """Run `fn` on a fresh thread, so on its own connection, in autocommit: its writes are committed and
    visible to the other threads (the test's own connection stays inside the rolled-back test transaction)."""
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = fn()
        except BaseException as exc:  # re-raised in the calling thread
            box["error"] = exc
        finally:
            connection.close()

    t = threading.Thread(target=target)
    t.start()
    t.join(timeout=120)
    if "error" in box:
        raise box["error"]
    return box["value"]  # type: ignore[no-any-return]


def test_concurrent_sales_on_one_member_lose_no_update(alpha: Any) -> None:
    # `alpha` (the `db` fixture) guarantees the test database is the one in use, never the dev database.
    schema = alpha.schema
    clerk, manager = alpha.users["clerk"], alpha.users["manager"]

    def setup() -> tuple[Store, Member, bool]:
        with schema_context(schema):
            rule_created = not PointsRule.objects.filter(pk=1).exists()
            services.points_rule_get()  # 1 point per RMB, rounded down (defaults)
            store = Store.objects.create(name="并发测试店", code="CONC01")
            StoreClerk.objects.create(store=store, user=clerk)
            member = Member.objects.create(name="并发会员", member_no="CONC0001")
            return store, member, rule_created

    store, member, rule_created = _in_thread(setup)
    errors: list[BaseException] = []
    barrier = threading.Barrier(2)

    def worker(actor: Any, amount: str) -> None:
        try:
            with schema_context(schema):  # this thread's own connection, set to alpha's schema
                barrier.wait(timeout=30)
                for _ in range(SALES_PER_THREAD):
                    services.sale_record(actor=actor, member=member, store=store, amount=amount)
                    services.points_redeem(actor=actor, member=member, points=1, confirm=True)
        except BaseException as exc:  # reported to the main thread below
            errors.append(exc)
        finally:
            connection.close()

    def check() -> tuple[int, int, Decimal, int]:
        with schema_context(schema):
            fresh = Member.objects.get(pk=member.pk)
            sales = Sale.objects.filter(member=fresh).count()
            return fresh.points_balance, services.ledger_sum(fresh), fresh.total_spend, sales

    def cleanup() -> bool:
        with schema_context(schema):
            PointsEntry.objects.filter(member_id=member.pk).delete()
            Sale.objects.filter(member_id=member.pk).delete()
            Member.objects.filter(pk=member.pk).delete()
            StoreClerk.objects.filter(store_id=store.pk).delete()
            Store.objects.filter(pk=store.pk).delete()
            if rule_created:
                PointsRule.objects.filter(pk=1).delete()
            return Member.objects.filter(member_no="CONC0001").exists()

    try:
        threads = [
            threading.Thread(target=worker, args=(clerk, "10")),
            threading.Thread(target=worker, args=(manager, "7.50")),
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
        assert not errors, errors
        balance, ledger, spend, sales = _in_thread(check)
        # Each thread: N × (earned − 1 redeemed); 10.00 → 10 points, 7.50 → 7 points (rounded down).
        expected = SALES_PER_THREAD * (10 - 1) + SALES_PER_THREAD * (7 - 1)
        assert balance == expected == ledger
        assert spend == SALES_PER_THREAD * (Decimal("10") + Decimal("7.50"))
        assert sales == 2 * SALES_PER_THREAD
    finally:
        assert _in_thread(cleanup) is False
