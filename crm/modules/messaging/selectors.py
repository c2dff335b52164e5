"""Messaging reads."""

from __future__ import annotations

from django.db.models import QuerySet

from .models import OutboundMessage

RECENT = 50


def outbound_recent(limit: int = RECENT) -> QuerySet[OutboundMessage]:
    return OutboundMessage.objects.order_by("-id")[:limit]
