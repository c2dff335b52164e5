"""The getting-started checklist (issue 10 section 2): steps chosen by the workspace's modules, ticked as the
owner does them, hidden from the dashboard and shown again from settings, the same in the API; only owners
and admins see it; labels in zh-Hans and en."""

from __future__ import annotations

import json

from django.utils import timezone
from django_tenants.utils import schema_context

from crm.modules.core.models import Activity, CoreSettings, Product
from tests.test_module_contract import set_module

from .factories import customer

CARD = "/onboarding/card/"
PAGE = "/onboarding/"
API = "/api/v1/core/onboarding/"


def _steps(tenant) -> dict[str, bool]:
    body = json.loads(tenant.client("owner").get(API).content)
    return {s["key"]: s["done"] for s in body["steps"]}


def test_steps_follow_the_modules_and_tick_as_the_owner_works(alpha):
    set_module(alpha.tenant, "retail", False)
    set_module(alpha.tenant, "service", False)
    without = _steps(alpha)
    core_only = ["core.customers", "core.products", "core.colleague", "core.visit"]
    assert list(without)[:4] == core_only  # core first
    assert not [k for k in without if k.startswith(("retail.", "service."))]
    set_module(alpha.tenant, "retail", True)
    set_module(alpha.tenant, "service", True)
    steps = _steps(alpha)
    assert {"retail.store", "retail.tier", "retail.members", "service.agreement", "sales.opportunity"} <= set(
        steps
    )
    assert list(steps)[:4] == core_only
    # The fixture workspace has colleagues; whatever else it has, adding the rows ticks the steps.
    assert steps["core.colleague"] is True
    with schema_context(alpha.schema):
        owner = alpha.users["owner"]
        c = customer(owner, "入门清单测试有限公司")
        Product.objects.create(name="入门产品", price=1)
        Activity.objects.create(customer=c, author=owner, result="首次拜访", occurred_at=timezone.now())
    steps = _steps(alpha)
    assert steps["core.customers"] and steps["core.products"] and steps["core.visit"]


def test_the_dashboard_card_hides_and_comes_back_from_settings(alpha):
    owner = alpha.client("owner")
    with schema_context(alpha.schema):
        CoreSettings.objects.update(onboarding_dismissed=False)
        Product.objects.all().update(is_active=True)
    set_module(alpha.tenant, "retail", True)
    home = owner.get("/")
    assert b'data-testid="onboarding-slot"' in home.content
    card = owner.get(CARD)
    if _all_done(alpha):  # a complete list is not shown on the dashboard
        assert card.content == b""
    else:
        assert b'data-testid="onboarding-card"' in card.content
    response = owner.post(PAGE, {"action": "hide", "next": "home"})
    assert response.status_code == 302 and response["Location"] == "/"
    assert owner.get(CARD).content == b""
    page = owner.get(PAGE)
    assert page.status_code == 200 and b'data-testid="onboarding-show"' in page.content
    assert b'data-testid="settings-onboarding-card"' in owner.get("/settings/").content
    owner.post(PAGE, {"action": "show"})
    with schema_context(alpha.schema):
        assert CoreSettings.objects.get().onboarding_dismissed is False


def _all_done(tenant) -> bool:
    return all(_steps(tenant).values())


def test_api_patch_hides_and_shows(alpha):
    owner = alpha.client("owner")
    body = json.loads(owner.patch(API, {"dismissed": True}, content_type="application/json").content)
    assert body["dismissed"] is True and body["total"] == len(body["steps"])
    assert 0 <= body["percent"] <= 100 and body["done"] == sum(s["done"] for s in body["steps"])
    assert (
        json.loads(owner.patch(API, {"dismissed": False}, content_type="application/json").content)[
            "dismissed"
        ]
        is False
    )
    bad = owner.patch(API, {"dismissed": "maybe"}, content_type="application/json")
    assert bad.status_code == 400 and "dismissed" in json.loads(bad.content)["error"]["fields"]


def test_only_owners_and_admins_see_or_change_it(alpha):
    assert alpha.client("admin").get(PAGE).status_code == 200
    for role in ("manager", "sales", "clerk"):
        client = alpha.client(role)
        assert client.get(PAGE).status_code == 403
        assert client.get(CARD).status_code == 403
        assert client.post(PAGE, {"action": "hide"}).status_code == 403
        assert client.get(API).status_code == 403
        assert client.patch(API, {"dismissed": True}, content_type="application/json").status_code == 403
    assert b"onboarding-slot" not in alpha.client("sales").get("/").content
    with schema_context(alpha.schema):
        assert CoreSettings.objects.filter(onboarding_dismissed=True).count() == 0


def test_labels_are_translated(alpha):
    zh = alpha.client("owner", language="zh-hans").get(PAGE).content.decode()
    en = alpha.client("owner", language="en").get(PAGE).content.decode()
    assert "Invite a colleague" in en and "邀请同事" in zh
    assert "Invite a colleague" not in zh
