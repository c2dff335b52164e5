"""Dummy-module test data (run inside a tenant schema_context): draft orders and the approval rule fixture
(an order over 100,000 needs the owner's manager)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from crm.kernel.documents import LineData, document_create
from crm.kernel.models import ApprovalRule, ApprovalStep
from tests.dummy_module.models import DummyOrder


def order(owner: Any, amount: Decimal | str = "1000", *, quantity: str = "1", **fields: Any) -> DummyOrder:
    """A draft dummy order with one line of `amount` (tax included, 13 %)."""
    return document_create(
        actor=owner,
        model=DummyOrder,
        lines=[LineData(description="钢材", quantity=Decimal(quantity), unit_price_incl=Decimal(amount))],
        **fields,
    )


def manager_rule(threshold: str = "100000", **kw: Any) -> ApprovalRule:
    """The dummy module's rule: an order over 100,000 needs the owner's manager."""
    rule = ApprovalRule.objects.create(
        doc_type=DummyOrder.doc_type,
        name=kw.pop("name", "大额订单"),
        metric=kw.pop("metric", ApprovalRule.Metric.AMOUNT),
        comparison=kw.pop("comparison", ApprovalRule.Comparison.GT),
        threshold=Decimal(threshold),
    )
    ApprovalStep.objects.create(rule=rule, position=1, kind=ApprovalStep.Kind.MANAGER)
    return rule
