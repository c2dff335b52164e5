"""Demo data of the sales capability, called by the selling modules' seeders (service, trade): each area adds
its part in `demo_<area>.py`; `seed(tenant)` runs them in order and is idempotent (each part checks for its
own rows first)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def seed(tenant: Any, products: Sequence[Any] = ()) -> None:
    """Stages, opportunities, quotes, contracts, plans, receipts, fapiao and targets for a demo workspace;
    `products`: the goods a trading firm sells (its documents then sell those instead of services)."""
    from django_tenants.utils import schema_context

    from . import demo_documents, demo_money, demo_pipeline, demo_receivables

    with schema_context(tenant.schema_name):
        demo_pipeline.seed(tenant)
        demo_documents.seed(tenant, products)
        demo_receivables.seed(tenant)
        demo_money.seed(tenant)
