"""Reads of outbound webhooks (owners and admins only: the endpoints carry signing secrets)."""

from __future__ import annotations

from django.db.models import Count, Q, QuerySet

from crm.platform.permissions import has_perm
from crm.tenants.accounts.models import User

from .models import Delivery, DeliveryStatus, Endpoint


def endpoints_visible(user: User) -> QuerySet[Endpoint]:
    if not has_perm(user, "webhooks.manage"):
        return Endpoint.objects.none()
    return Endpoint.objects.annotate(
        pending=Count("deliveries", filter=Q(deliveries__status=DeliveryStatus.PENDING)),
        failed=Count("deliveries", filter=Q(deliveries__status=DeliveryStatus.FAILED)),
    )


def deliveries_visible(user: User, *, endpoint: Endpoint | None = None) -> QuerySet[Delivery]:
    if not has_perm(user, "webhooks.manage"):
        return Delivery.objects.none()
    qs = Delivery.objects.select_related("endpoint")
    return qs.filter(endpoint=endpoint) if endpoint is not None else qs
