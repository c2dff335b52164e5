"""Demo data of the sales capability, called by the selling modules' seeders (service, trade): each area adds
its part in `demo_<area>.py`; `seed(tenant)` runs them in order and is idempotent (each part checks for its
own rows first)."""

from __future__ import annotations

from typing import Any


def seed(tenant: Any) -> None:
    """Stages, opportunities, quotes, contracts, plans, receipts, fapiao and targets for a demo workspace."""
    from django_tenants.utils import schema_context

    from . import demo_documents, demo_money, demo_pipeline, demo_receivables

    with schema_context(tenant.schema_name):
        for part in (demo_pipeline, demo_documents, demo_receivables, demo_money):
            part.seed(tenant)
