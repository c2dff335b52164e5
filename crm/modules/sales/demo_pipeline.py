"""Demo data: pipeline. The default stages and about 60 opportunities of a consulting firm over the last
twelve months on the demo customers, each with a stage history that walks the pipeline (won ones to 赢单,
lost ones with a reason); the rest open at various stages. Idempotent: a workspace that has opportunities
is left alone."""

from __future__ import annotations

import random
from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone
from django_tenants.utils import schema_context

from crm.modules.core.public import Customer
from crm.platform.permissions import Role
from crm.tenants.accounts.models import User

from .models import Opportunity, OpportunityStageLog, Stage
from .services_pipeline import stages_ensure

COUNT = 60
PROJECTS = [
    "数字化转型咨询",
    "ERP 实施服务",
    "数据治理项目",
    "信息安全等保测评",
    "年度运维服务",
    "BI 报表平台建设",
    "供应链优化咨询",
    "组织架构诊断",
    "CRM 系统实施",
    "云迁移服务",
    "IT 规划咨询",
    "培训服务包",
]
SOURCES = ["老客户推荐", "展会", "官网咨询", "电话营销", "合作伙伴"]
COMPETITORS = ["", "", "德勤咨询", "用友", "金蝶", "本地服务商"]
LOST_REASONS = ["价格高于竞争对手", "客户预算取消", "选择了竞争对手", "项目延期", "需求不匹配"]


def seed(tenant: Any) -> None:
    """Runs inside the tenant schema; idempotent."""
    with schema_context(tenant.schema_name):
        if Opportunity.objects.exists():  # seeded before (or the workspace has its own pipeline)
            return
        _seed(random.Random(f"pipeline-{tenant.schema_name}"))


@transaction.atomic
def _seed(rng: random.Random) -> None:
    stages = stages_ensure()
    opens = [s for s in stages if s.kind == Stage.Kind.OPEN and s.is_active]
    won = next(s for s in stages if s.kind == Stage.Kind.WON)
    lost = next(s for s in stages if s.kind == Stage.Kind.LOST)
    reps = list(User.objects.filter(role__in=(Role.SALES, Role.MANAGER), is_active=True).order_by("id"))
    reps = reps or list(User.objects.filter(role=Role.OWNER).order_by("id")[:1])
    if not reps or not opens:
        return
    customers = list(Customer.objects.filter(owner__isnull=False).order_by("id")[:40])
    if not customers:
        customers = [
            Customer.objects.create(name=name, owner=reps[i % len(reps)])
            for i, name in enumerate(
                ["上海启明科技有限公司", "杭州云帆信息技术有限公司", "成都锦程咨询有限公司"]
            )
        ]
    now = timezone.now()
    for i in range(COUNT):
        customer = customers[i % len(customers)]
        owner = (
            customer.owner
            if customer.owner and customer.owner.role in (Role.SALES, Role.MANAGER)
            else reps[i % len(reps)]
        )
        created = now - timedelta(days=rng.randint(5, 360), hours=rng.randint(0, 10))
        roll = rng.random()
        age = (now - created).days
        # Older ones are more often closed.
        outcome = "won" if roll < 0.3 and age > 20 else "lost" if roll < 0.5 and age > 20 else "open"
        reach = rng.randint(1, len(opens)) if outcome != "lost" else rng.randint(1, max(1, len(opens) - 1))
        path = opens[:reach] + ([won] if outcome == "won" else [lost] if outcome == "lost" else [])
        final = path[-1]
        # Steps spread over the opportunity's life (closed ones finish before today).
        span = max(age - 1, len(path)) if outcome != "open" else age
        times = sorted(created + timedelta(days=rng.uniform(0, span)) for _ in path[1:])
        times = [created, *times]
        amount = Decimal(rng.choice([30, 45, 60, 80, 120, 180, 250, 400]) * 1000)
        closed_at = times[-1] if outcome != "open" else None
        expected = (closed_at or now + timedelta(days=rng.randint(10, 150))).date()
        opp = Opportunity.objects.create(
            name=f"{customer.name[:12]} {PROJECTS[i % len(PROJECTS)]}",
            customer=customer,
            owner=owner,
            stage=final,
            status=outcome,
            amount=amount,
            probability=final.probability,
            expected_close=expected,
            source=rng.choice(SOURCES),
            competitor=rng.choice(COMPETITORS),
            lost_reason=rng.choice(LOST_REASONS) if outcome == "lost" else "",
            stage_changed_at=times[-1],
            reached_position=max(s.position for s in path if s.kind != Stage.Kind.LOST),
            closed_at=closed_at,
            created_by=owner,
        )
        Opportunity.objects.filter(pk=opp.pk).update(created_at=created, updated_at=times[-1])
        previous = None
        for stage, at in zip(path, times, strict=True):
            log = OpportunityStageLog.objects.create(
                opportunity=opp, from_stage=previous, to_stage=stage, actor=owner
            )
            OpportunityStageLog.objects.filter(pk=log.pk).update(created_at=at, updated_at=at)
            previous = stage
