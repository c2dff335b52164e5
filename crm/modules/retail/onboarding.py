"""Done checks of retail's getting-started steps (crm.modules.core.onboarding): one exists() each."""

from __future__ import annotations

from .models import Member, Store, Tier


def has_store() -> bool:
    return Store.objects.exists()


def has_tier() -> bool:
    return Tier.objects.exists()


def has_members() -> bool:
    return Member.objects.exists()
