"""Child process of the kernel bench (test settings, for the dummy order): ms per confirm transition
without a rule, with a matching but approved rule, and the difference. Prints one JSON line."""

from __future__ import annotations

import json
import os
import statistics
import time
from decimal import Decimal
from typing import Any


def main() -> None:
    import django

    django.setup()
    from django.db import connection, transaction

    from crm.tenants import provisioning

    n = int(os.environ.get("BENCH_KERNEL_TRANSITIONS", "200"))
    name = provisioning.new_schema_name("bench_kg")
    with transaction.atomic():
        provisioning.schema_clone(name)
    try:
        connection.set_schema(name)  # type: ignore[attr-defined]
        out = _measure(n)
    finally:
        connection.set_schema_to_public()  # type: ignore[attr-defined]
        with connection.cursor() as cursor:
            cursor.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
    print(json.dumps(out))


def _measure(n: int) -> dict[str, Any]:
    from django.db import connection

    from crm.kernel.approvals import approval_decide
    from crm.kernel.documents import LineData, document_create
    from crm.kernel.models import ApprovalRequest, ApprovalRule, ApprovalStep
    from crm.kernel.states import transition
    from crm.tenants.accounts.models import Team, User
    from tests.dummy_module.models import DummyOrder, DummyOrderLine

    with connection.schema_editor() as editor:
        editor.create_model(DummyOrder)
        editor.create_model(DummyOrderLine)
    rep = User.objects.create_user("rep@bench.example.com", None, name="rep", role="sales")
    boss = User.objects.create_user("boss@bench.example.com", None, name="boss", role="manager")
    team = Team.objects.create(name="bench", manager=boss)
    User.objects.filter(pk=rep.pk).update(team=team)
    rep.refresh_from_db()
    line = [LineData(description="x", quantity=Decimal("1"), unit_price_incl=Decimal("200000"))]

    def confirm_ms(docs: list[Any]) -> list[float]:
        samples = []
        for doc in docs:
            started = time.perf_counter()
            transition(actor=rep, document=doc, name="confirm")
            samples.append((time.perf_counter() - started) * 1000)
        return samples

    def prepared(approve: bool) -> list[Any]:
        docs = []
        for _ in range(n):
            doc = document_create(actor=rep, model=DummyOrder, lines=line)
            transition(actor=rep, document=doc, name="submit")
            if approve:
                for req in ApprovalRequest.objects.filter(object_id=doc.pk, status="pending"):
                    approval_decide(actor=boss, request=req, approve=True)
            docs.append(doc)
        return docs

    without = confirm_ms(prepared(False))
    rule = ApprovalRule.objects.create(doc_type=DummyOrder.doc_type, name="big", metric="amount", threshold=0)
    ApprovalStep.objects.create(rule=rule, position=1, kind="manager")
    docs = prepared(True)
    with_rule = confirm_ms(docs)
    a, b = statistics.median(without), statistics.median(with_rule)
    return {
        "transitions_per_case": n,
        "confirm_ms_without_rule_median": round(a, 3),
        "confirm_ms_with_rule_median": round(b, 3),
        "guard_overhead_ms": round(b - a, 3),
    }


if __name__ == "__main__":
    main()
