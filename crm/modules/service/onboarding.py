"""Done checks of the service module's getting-started steps (crm.modules.core.onboarding)."""

from __future__ import annotations

from .models import Agreement, ServiceOrder


def has_agreement() -> bool:
    return Agreement.objects.exists()


def has_order() -> bool:
    return ServiceOrder.objects.exists()
