"""The trial banner (issue 10 section 2): owners and admins of a workspace in its trial see the days left and
a link to billing on every page; reps and clerks do not; a paying workspace shows nothing."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone
from django_tenants.utils import schema_context

from crm.tenants.accounts.models import User
from crm.tenants.models import Tenant


def _set(tenant, **fields):
    Tenant.objects.filter(pk=tenant.pk).update(**fields)


def test_owner_sees_the_days_left_of_the_trial_and_a_link_to_billing(alpha):
    _set(alpha.tenant, status="trial", trial_ends_at=timezone.now() + timedelta(days=6, hours=3))
    page = alpha.client("owner").get("/customers/").content.decode()
    assert 'data-testid="trial-banner"' in page
    assert "7" in page.split('data-testid="trial-banner"')[1].split("</div>")[0]  # 6 days 3 h: 7 days left
    assert 'href="/billing/"' in page
    assert 'data-testid="trial-banner"' in alpha.client("admin").get("/customers/").content.decode()
    assert 'data-testid="trial-banner"' not in alpha.client("sales").get("/customers/").content.decode()


def test_the_last_day_still_counts_and_english_speaks_english(alpha):
    _set(alpha.tenant, status="trial", trial_ends_at=timezone.now() + timedelta(hours=2))
    page = alpha.client("owner").get("/customers/").content.decode()
    banner = page.split('data-testid="trial-banner"')[1].split("</div>")[0]
    assert "试用" in banner and "1 天" in banner
    with schema_context(alpha.schema):
        User.objects.filter(pk=alpha.users["admin"].pk).update(language="en")
    english = alpha.client("admin").get("/customers/").content.decode()
    assert "Your trial ends in 1 day." in english.split('data-testid="trial-banner"')[1].split("</div>")[0]


def test_an_active_workspace_shows_no_trial_banner(alpha):
    _set(alpha.tenant, status="active", trial_ends_at=timezone.now() + timedelta(days=3))
    assert 'data-testid="trial-banner"' not in alpha.client("owner").get("/customers/").content.decode()
