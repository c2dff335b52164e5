"""Approval rules settings (generic over the document types of `doc_types`): create and edit a rule with
its ordered steps, deactivate it, and a one-click preset of the usual rules for a document type."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from crm.kernel.doc_types import document_types
from crm.kernel.models import ApprovalRule, ApprovalStep
from crm.platform.errors import ServiceError
from crm.platform.permissions import Role, check_perm, is_tenant_role

PERM = "workspace.manage_settings"


@dataclass(frozen=True)
class StepData:
    kind: str
    role: str = ""
    user_id: int | None = None


def _check(
    doc_type: str, metric: str, comparison: str, threshold: Decimal, steps: Sequence[StepData]
) -> None:
    if doc_type not in {d.doc_type for d in document_types()}:
        raise ServiceError(_("Choose a document type."), field="doc_type")
    if metric not in ApprovalRule.Metric.values:
        raise ServiceError(_("Choose what the rule measures."), field="metric")
    if comparison not in ApprovalRule.Comparison.values:
        raise ServiceError(_("Choose a comparison."), field="comparison")
    if threshold < 0 or (metric != ApprovalRule.Metric.AMOUNT and threshold > 100):
        raise ServiceError(_("The threshold is out of range."), field="threshold")
    if not steps:
        raise ServiceError(_("A rule needs at least one approval step."), field="steps")
    from crm.tenants.accounts.models import User

    for n, step in enumerate(steps, start=1):
        if step.kind == ApprovalStep.Kind.ROLE and not is_tenant_role(step.role):
            raise ServiceError(_("Step %(n)s: choose a role.") % {"n": n}, field="steps")
        if step.kind == ApprovalStep.Kind.USER and not (
            step.user_id and User.objects.filter(pk=step.user_id, is_active=True).exists()
        ):
            raise ServiceError(_("Step %(n)s: choose a user.") % {"n": n}, field="steps")
        if step.kind not in ApprovalStep.Kind.values:
            raise ServiceError(_("Step %(n)s: choose who approves.") % {"n": n}, field="steps")


def rule_save(
    *,
    actor: Any,
    rule: ApprovalRule | None,
    doc_type: str,
    name: str,
    metric: str,
    comparison: str,
    threshold: Decimal,
    steps: Sequence[StepData],
    is_active: bool = True,
) -> ApprovalRule:
    """Create (rule=None) or change a rule and replace its steps, in one transaction."""
    check_perm(actor, PERM)
    if not name.strip():
        raise ServiceError(_("A name is required."), field="name")
    _check(doc_type, metric, comparison, threshold, steps)
    with transaction.atomic():
        if rule is None:
            rule = ApprovalRule(doc_type=doc_type)
        rule.doc_type, rule.name, rule.metric = doc_type, name.strip()[:100], metric
        rule.comparison, rule.threshold, rule.is_active = comparison, threshold, is_active
        rule.save()
        rule.steps.all().delete()
        ApprovalStep.objects.bulk_create(
            ApprovalStep(
                rule=rule,
                position=i,
                kind=s.kind,
                role=s.role if s.kind == ApprovalStep.Kind.ROLE else "",
                user_id=s.user_id if s.kind == ApprovalStep.Kind.USER else None,
            )
            for i, s in enumerate(steps, start=1)
        )
    return rule


def rule_set_active(*, actor: Any, rule: ApprovalRule, active: bool) -> ApprovalRule:
    """Deactivate (or reactivate) a rule; documents already approved under it keep their approval."""
    check_perm(actor, PERM)
    ApprovalRule.objects.filter(pk=rule.pk).update(is_active=active)
    rule.is_active = active
    return rule


def rules_preset(*, actor: Any, doc_type: str) -> list[ApprovalRule]:
    """The usual rules for a document type: discount over 15 % or amount over 100,000 -> the owner's
    manager; margin under 10 % -> the workspace owner. Idempotent: a rule of the same name is kept."""
    check_perm(actor, PERM)
    preset = (
        (_("Discount over 15%"), ApprovalRule.Metric.DISCOUNT, "gt", Decimal("15"), StepData("manager")),
        (_("Amount over 100,000"), ApprovalRule.Metric.AMOUNT, "gt", Decimal("100000"), StepData("manager")),
        (
            _("Margin under 10%"),
            ApprovalRule.Metric.MARGIN,
            "lt",
            Decimal("10"),
            StepData("role", Role.OWNER),
        ),
    )
    made = []
    with transaction.atomic():
        for name, metric, comparison, threshold, step in preset:
            if ApprovalRule.objects.filter(doc_type=doc_type, name=name).exists():
                continue
            made.append(
                rule_save(
                    actor=actor,
                    rule=None,
                    doc_type=doc_type,
                    name=name,
                    metric=metric,
                    comparison=comparison,
                    threshold=threshold,
                    steps=[step],
                )
            )
    return made
