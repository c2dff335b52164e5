"""Suite rows for the pipeline routes (see suite.py)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from django.utils import timezone

from crm.modules.core.public import Customer

from .models import Opportunity, OpportunityStageLog, Stage
from .services_pipeline import stages_ensure


def opportunities(*, n: int, owner: Any) -> None:
    """`n` opportunities spread over every stage (the board shows each column), each with a log row."""
    stages = stages_ensure()
    start = Customer.objects.count()
    customer = Customer.objects.create(name=f"套件商机客户{start}", owner=owner)
    now = timezone.now()
    made = Opportunity.objects.bulk_create(
        Opportunity(
            name=f"套件商机{start}-{i}",
            customer=customer,
            owner=owner,
            stage=stages[i % len(stages)],
            status={"won": "won", "lost": "lost"}.get(stages[i % len(stages)].kind, "open"),
            amount=Decimal(1000 + i),
            probability=stages[i % len(stages)].probability,
            expected_close=date.today() + timedelta(days=i % 90),
            closed_at=now if stages[i % len(stages)].kind != Stage.Kind.OPEN else None,
            lost_reason="价格" if stages[i % len(stages)].kind == Stage.Kind.LOST else "",
        )
        for i in range(n)
    )
    OpportunityStageLog.objects.bulk_create(
        OpportunityStageLog(opportunity=o, to_stage_id=o.stage_id, actor=owner) for o in made
    )


def stages(*, n: int, owner: Any) -> None:
    stages_ensure()
    start = Stage.objects.count()
    Stage.objects.bulk_create(
        Stage(name=f"套件阶段{start + i}", position=start + i, probability=20) for i in range(n)
    )


LIST_FACTORIES: dict[str, Callable[..., None]] = {
    "sales:opportunity_list": opportunities,
    "sales:opportunity_kanban": opportunities,
    "api-sales:opportunity-list": opportunities,
    "api-sales:stage-list": stages,
}
