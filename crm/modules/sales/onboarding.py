"""Done checks of the sales capability's getting-started steps (crm.modules.core.onboarding)."""

from __future__ import annotations

from crm.kernel.models import ApprovalRule

from .models import Opportunity


def has_opportunity() -> bool:
    return Opportunity.objects.exists()


def has_approval_rules() -> bool:
    return ApprovalRule.objects.filter(doc_type__startswith="sales.", is_active=True).exists()
