"""In-app notices: a row per user, an unread count for the page header."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.utils import timezone

from crm.kernel.models import Notice


def notice_send(*, user: Any, title: str, url: str = "") -> Notice:
    return Notice.objects.create(user=user, title=title[:200], url=url)


def notice_unread_count(user: Any) -> int:
    if user is None or not user.is_authenticated:
        return 0
    return Notice.objects.filter(user=user, read_at__isnull=True).count()


def notice_list(user: Any, *, limit: int = 50) -> QuerySet[Notice]:
    return Notice.objects.filter(user=user)[:limit]


def notice_mark_read(*, actor: Any) -> int:
    return Notice.objects.filter(user=actor, read_at__isnull=True).update(read_at=timezone.now())
