"""Rows for the webhook list routes, for the generic module suite (see crm/modules/core/suite.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .models import Delivery, Endpoint


def endpoints(*, n: int, owner: Any) -> None:
    start = Endpoint.objects.count()
    Endpoint.objects.bulk_create(
        Endpoint(url=f"https://hooks.example.com/{start + i}", events=["customer.created"], created_by=owner)
        for i in range(n)
    )


def deliveries(*, n: int, owner: Any) -> None:
    endpoint = Endpoint.objects.create(url="https://hooks.example.com/suite", events=["customer.created"])
    Delivery.objects.bulk_create(
        Delivery(endpoint=endpoint, event="customer.created", event_id=f"evt_suite_{i}", payload={})
        for i in range(n)
    )


LIST_FACTORIES: dict[str, Callable[..., None]] = {
    "webhooks:endpoint_list": endpoints,
    "api-webhooks:endpoint-list": endpoints,
    "api-webhooks:delivery-list": deliveries,
}
