"""Operator console writes: suspensions, comps, impersonation (support sessions) with audit."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from crm.platform.models import ImpersonationSession


def impersonation_started(*, session_id: int) -> ImpersonationSession:
    with transaction.atomic():
        session = ImpersonationSession.objects.select_for_update().select_related("operator").get(pk=session_id)
        if session.started_at is None:
            session.started_at = timezone.now()
            session.token_used = True
            session.save(update_fields=["started_at", "token_used", "updated_at"])
    return session


def impersonation_ended(*, session_id: int) -> None:
    ImpersonationSession.objects.filter(pk=session_id, ended_at__isnull=True).update(ended_at=timezone.now())
