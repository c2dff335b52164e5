"""Rows for the sales list routes, for the generic module suite (crm/modules/core/suite.py): each area keeps
its own `suite_<area>.py`; ``make_rows(*, n, owner)`` bulk-creates ``n`` more rows the route lists."""

from __future__ import annotations

from collections.abc import Callable

from . import suite_documents, suite_margin, suite_money, suite_pipeline, suite_receivables

LIST_FACTORIES: dict[str, Callable[..., None]] = {
    **suite_pipeline.LIST_FACTORIES,
    **suite_documents.LIST_FACTORIES,
    **suite_receivables.LIST_FACTORIES,
    **suite_money.LIST_FACTORIES,
    **suite_margin.LIST_FACTORIES,
}
