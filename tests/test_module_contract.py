"""The module contract (architecture section 5), checked for EVERY registered module plus the dummy one:
a module the tenant has not enabled has no reachable URL or API route (404, JSON error shape for the API),
no menu entry, no dashboard widget, and its periodic tasks skip the tenant; enabled, all of it is back.
Core is always on. A new module passes this file before anything else."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.db import connection
from django.urls import reverse
from django_tenants.utils import schema_context

from crm.platform.errors import ServiceError
from crm.platform.permissions import has_perm
from crm.platform.registry import ModuleManifest, registry
from crm.platform.tasks import (
    FANOUT_TASK,
    module_beat_schedule,
    module_fanout,
    module_run,
    periodic_task,
    tenants_with_module,
)
from crm.tenants.models import TenantModule, TenantStatus
from crm.tenants.selectors import enabled_modules, invalidate_modules
from crm.tenants.services import module_set_enabled
from tests import urlwalk

MODULES = registry.all()
URLCONF = "config.urls_tenant"


def test_every_module_is_covered_including_the_dummy():
    assert {
        "core",
        "dummy",
        "retail",
        "project",
        "service",
        "trade",
        "production",
        "volume",
        "distribution",
    } <= {m.slug for m in MODULES}


def module_routes(manifest: ModuleManifest) -> list[urlwalk.Route]:
    own = {manifest.slug, f"api-{manifest.slug}"}
    found = [r for r in urlwalk.routes(URLCONF) if r.namespaces and r.namespaces[0] in own]
    # A manifest that declares URLs but mounts nothing would pass every gate check below vacuously.
    if manifest.urls:
        assert any(r.namespaces[0] == manifest.slug for r in found), f"{manifest.slug}: no HTML routes"
    if manifest.api_urls:
        assert any(r.namespaces[0] == f"api-{manifest.slug}" for r in found), f"{manifest.slug}: no API"
    return found


def providers(slug: str) -> list[str]:
    """Sellable modules whose dependency closure switches `slug` on."""
    return [m.slug for m in registry.sellable() if slug in registry.expand([m.slug])]


def set_module(tenant: Any, slug: str, on: bool) -> None:
    """Given: `slug` on or off for the tenant, switched through the same service as the settings page."""
    if on:
        if slug not in enabled_modules(tenant):
            choice = slug if registry.get(slug).sellable else providers(slug)[0]
            module_set_enabled(
                tenant=tenant,
                module=choice,
                enabled=True,
                actor_email="contract@test",
                allow_unavailable=True,
            )
    else:
        # Turn off every sellable module that brings `slug` in; retry while one still needs another.
        for _round in range(len(registry.all())):
            remaining = [p for p in providers(slug) if p in enabled_modules(tenant)]
            if not remaining:
                break
            for provider in remaining:
                try:
                    module_set_enabled(
                        tenant=tenant, module=provider, enabled=False, actor_email="contract@test"
                    )
                except ServiceError:
                    continue
        TenantModule.objects.filter(tenant=tenant, module__in=providers(slug)).update(comp=False)
        invalidate_modules(tenant)
    assert (slug in enabled_modules(tenant)) is on
    connection.set_schema_to_public()  # type: ignore[attr-defined]


def get(client: Any, path: str) -> Any:
    response = client.get(path)
    connection.set_schema_to_public()  # type: ignore[attr-defined]
    return response


def assert_gated(response: Any, route: urlwalk.Route, path: str) -> None:
    assert response.status_code == 404, f"{route.label} {path}: {response.status_code}"
    if path.startswith("/api/"):
        error = json.loads(response.content)["error"]
        assert error["code"] == "not_found" and set(error) == {"code", "message", "fields"}


def home(client: Any) -> Any:
    response = get(client, "/")
    assert response.status_code == 200
    return response


def visible_menu(manifest: ModuleManifest, user: Any) -> list[str]:
    return [reverse(e.url_name) for e in manifest.menu if not e.permission or has_perm(user, e.permission)]


@pytest.mark.parametrize("manifest", MODULES, ids=lambda m: m.slug)
def test_disabled_module_is_unreachable_and_hidden(alpha, manifest):
    client = alpha.client("owner")
    if manifest.always_on:
        # Core cannot be switched off: the gate keeps it whatever the tenant chose.
        with pytest.raises(ServiceError):
            module_set_enabled(tenant=alpha.tenant, module=manifest.slug, enabled=False, actor_email="x@y.cn")
        for slug in [m.slug for m in registry.sellable()]:
            set_module(alpha.tenant, slug, False)
        assert manifest.slug in enabled_modules(alpha.tenant)
        return
    set_module(alpha.tenant, manifest.slug, False)

    for route in module_routes(manifest):
        for path in urlwalk.paths(route, [1], URLCONF):
            assert_gated(get(client, path), route, path)

    page = home(client)
    html = page.content.decode()
    for entry in manifest.menu:
        assert f'href="{reverse(entry.url_name)}"' not in html, entry.url_name
    # Widgets are placeholders fetching /w/<module>/<index>/: neither the placeholder nor the URL is there.
    for index, _widget in enumerate(manifest.widgets):
        url = reverse("core:widget", args=[manifest.slug, index])
        assert f'hx-get="{url}"' not in html, url
        assert get(client, url).status_code == 404


@pytest.mark.parametrize("manifest", MODULES, ids=lambda m: m.slug)
def test_enabled_module_is_reachable_and_shown(alpha, manifest):
    client = alpha.client("owner")
    if not manifest.always_on:
        set_module(alpha.tenant, manifest.slug, True)
    elif registry.sellable():
        # Core stays on with no sellable module at all.
        for slug in [m.slug for m in registry.sellable()]:
            set_module(alpha.tenant, slug, False)

    reached = 0
    for route in module_routes(manifest):
        for path in urlwalk.paths(route, [1], URLCONF):
            if "(?P<" in "".join(route.regexes):
                continue  # id routes may 404 for a missing object; the gate is checked without ids
            response = get(client, path)
            assert response.status_code != 404 and response.status_code < 500, f"{route.label}: {response}"
            reached += 1
    if manifest.urls or manifest.api_urls:
        assert reached, f"{manifest.slug}: no route without parameters to prove it is reachable"

    html = home(client).content.decode()
    for url in visible_menu(manifest, alpha.users["owner"]):
        assert f'href="{url}"' in html, url


WIDGET_MODULES = [m for m in MODULES if m.widgets]


@pytest.mark.parametrize("manifest", WIDGET_MODULES, ids=lambda m: m.slug)
def test_enabled_module_widgets_show_on_home(alpha, manifest):
    set_module(alpha.tenant, manifest.slug, True)
    client = alpha.client("owner")
    html = home(client).content.decode()
    for index, widget in enumerate(manifest.widgets):
        if not widget.permission or has_perm(alpha.users["owner"], widget.permission):
            url = reverse("core:widget", args=[manifest.slug, index])
            assert f'hx-get="{url}"' in html, url
            assert widget.template in {t.name for t in get(client, url).templates}


# --- periodic tasks ------------------------------------------------------------------------------------


TASK_CASES = [(m, t) for m in MODULES for t in m.periodic_tasks]
TASK_IDS = [f"{m.slug}:{t.name}" for m, t in TASK_CASES]
# Always-on modules cannot be switched off, so only the others have a "skips" case.
OPTIONAL_TASK_CASES = [(m, t) for m, t in TASK_CASES if not m.always_on]


@pytest.mark.parametrize("manifest,task", TASK_CASES, ids=TASK_IDS)
def test_periodic_task_names_a_registered_task(manifest, task):
    assert periodic_task(task.name).name == task.name
    assert task.every_seconds > 0


@pytest.mark.parametrize(
    "manifest,task", OPTIONAL_TASK_CASES, ids=[f"{m.slug}:{t.name}" for m, t in OPTIONAL_TASK_CASES]
)
def test_periodic_task_skips_tenants_without_the_module(alpha, manifest, task):
    set_module(alpha.tenant, manifest.slug, False)

    assert alpha.tenant not in tenants_with_module(manifest.slug)
    with schema_context(alpha.schema):
        # Fan-out happened while it was on, the module went off before the run: the run skips.
        assert module_run.apply(args=(manifest.slug, task.name)).get() is False


@pytest.mark.parametrize("manifest,task", TASK_CASES, ids=TASK_IDS)
def test_periodic_task_runs_for_tenants_with_the_module(alpha, manifest, task):
    if not manifest.always_on:
        set_module(alpha.tenant, manifest.slug, True)

    assert alpha.tenant in tenants_with_module(manifest.slug)
    with schema_context(alpha.schema):
        assert module_run.apply(args=(manifest.slug, task.name)).get() is True


def test_dummy_tick_fans_out_into_each_enabled_tenant_schema(alpha, beta):
    from django.core.cache import cache

    from tests.dummy_module.tasks import TICKS_KEY

    set_module(alpha.tenant, "dummy", True)
    set_module(beta.tenant, "dummy", False)

    module_fanout.delay("dummy", "tests.dummy_module.tasks.tick")

    with schema_context(alpha.schema):
        assert cache.get(TICKS_KEY) == 1  # ran once, inside alpha's schema
    with schema_context(beta.schema):
        assert cache.get(TICKS_KEY) is None  # beta skipped
    with schema_context("public"):
        assert cache.get(TICKS_KEY) is None


def test_fanout_skips_suspended_and_comped_module_counts_as_on(alpha):
    set_module(alpha.tenant, "dummy", True)
    alpha.tenant.status = TenantStatus.SUSPENDED
    alpha.tenant.save(update_fields=["status"])
    assert alpha.tenant not in tenants_with_module("dummy")

    alpha.tenant.status = TenantStatus.ACTIVE
    alpha.tenant.save(update_fields=["status"])
    set_module(alpha.tenant, "dummy", False)
    TenantModule.objects.filter(tenant=alpha.tenant, module="dummy").update(comp=True)
    assert alpha.tenant in tenants_with_module("dummy")


def test_beat_schedule_comes_from_the_registry_at_celery_start():
    from celery.beat import Scheduler
    from django.conf import settings

    from config.celery import app

    # Settings never read the registry (it is filled only when the apps are ready).
    assert not any(k.startswith("module:") for k in settings.CELERY_BEAT_SCHEDULE)
    app.loader.import_default_modules()  # what `celery beat` and `celery worker` do while loading

    entries = Scheduler(app=app, lazy=False).schedule
    expected = module_beat_schedule()
    assert "module:dummy:tests.dummy_module.tasks.tick" in expected
    for name, spec in expected.items():
        assert entries[name].task == FANOUT_TASK
        assert tuple(entries[name].args) == spec["args"]
        assert entries[name].schedule.run_every.total_seconds() == spec["schedule"]
    assert "refill-schema-pool" in entries  # the static entries stay
