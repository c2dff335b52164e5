"""Core extension points (issue 9 section 2.6): customer links moved by merge and handover, follow-ups
recorded by modules, customer panels and dashboard widgets fetched lazily; proven on the dummy module."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.apps import apps
from django.db import connection, models
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from django_tenants.utils import schema_context

from crm.kernel import hooks
from crm.modules.core import public, services
from crm.modules.core.models import Customer, Document, Task
from crm.modules.core.tests.factories import customer
from crm.platform.registry import CustomerLink, ModuleManifest, ModuleRegistry
from crm.tenants.accounts.models import AuditEntry
from crm.tenants.selectors import enabled_modules
from crm.tenants.services import module_set_enabled
from tests.dummy_module.models import DummyNote


def dummy(tenant: Any, on: bool) -> None:
    if (on and "dummy" not in enabled_modules(tenant)) or (not on and "dummy" in enabled_modules(tenant)):
        module_set_enabled(tenant=tenant, module="dummy", enabled=on, actor_email="hooks@test")
    connection.set_schema_to_public()  # type: ignore[attr-defined]


# --- merge -------------------------------------------------------------------------------------------------


def test_merge_keeps_documents_and_the_records_of_a_switched_off_module(alpha):
    dummy(alpha.tenant, False)  # a disabled module's data must survive a merge too
    with schema_context(alpha.schema):
        rep = alpha.users["sales"]
        target, source = customer(rep, "明达科技"), customer(rep, "明达科技有限公司")
        Document.objects.create(customer=source, name="合同.pdf", file="alpha/documents/a.pdf")
        Document.objects.create(customer=target, name="报价.pdf", file="alpha/documents/b.pdf")
        notes = [DummyNote.objects.create(customer=source, owner=rep, text=f"n{i}") for i in range(3)]

        services.customer_merge(actor=rep, target=target, source=source)

        assert not Customer.objects.filter(pk=source.pk).exists()
        assert sorted(Document.objects.filter(customer=target).values_list("name", flat=True)) == [
            "合同.pdf",
            "报价.pdf",
        ]
        assert set(DummyNote.objects.filter(customer=target).values_list("pk", flat=True)) == {
            n.pk for n in notes
        }
        detail = AuditEntry.objects.filter(action="customer.merge").latest("id").detail
        assert detail["documents"] == 1 and detail["linked"] == {"dummy.DummyNote": 3}


def test_every_foreign_key_to_customer_is_a_declared_link_or_handled_by_core():
    declared = {(link.model.lower(), link.field) for _m, link in hooks.customer_links()}
    handled = {(label.lower(), f) for label, f in services.MERGE_HANDLED_CUSTOMER_FKS}
    missing = []
    for model in apps.get_models():
        for f in model._meta.get_fields():
            if not f.concrete or not f.is_relation or f.related_model is not Customer:
                continue
            key = (model._meta.label_lower, f.name)
            if isinstance(f, models.ManyToManyField) or key not in declared | handled:
                missing.append(key)
    assert not missing, f"declare these in the module's manifest customer_links: {missing}"
    assert ("dummy.dummynote", "customer") in declared


def test_declared_links_name_real_customer_foreign_keys():
    for _manifest, link in hooks.customer_links():
        field = hooks.link_model(link)._meta.get_field(link.field)
        assert field.related_model is Customer, link


# --- handover ----------------------------------------------------------------------------------------------


def test_handover_moves_open_linked_records_with_the_customers_and_the_preview_counts_them(alpha):
    with schema_context(alpha.schema):
        u = alpha.users
        leaving, heir = u["sales"], u["sales2"]
        mine, other = customer(leaving, "甲公司"), customer(u["manager"], "乙公司")
        open_note = DummyNote.objects.create(customer=mine, owner=leaving, text="open")
        done_note = DummyNote.objects.create(customer=mine, owner=leaving, text="done", done=True)
        # Someone else's open note on the customer, and the rep's note on a customer not moved, stay put.
        foreign = DummyNote.objects.create(customer=mine, owner=u["manager"], text="theirs")
        elsewhere = DummyNote.objects.create(customer=other, owner=leaving, text="elsewhere")

        plan = services.customer_handover_preview(actor=u["admin"], from_user=leaving, to_users=[heir])
        counts = {c.model: c.count for c in plan.links if c.count}
        assert counts == {"dummy.DummyNote": 1}
        open_note.refresh_from_db()
        assert open_note.owner_id == leaving.pk  # the preview wrote nothing

        services.customer_handover(actor=u["admin"], from_user=leaving, to_users=[heir])
        owners = dict(DummyNote.objects.values_list("pk", "owner_id"))
        assert owners == {
            open_note.pk: heir.pk,
            done_note.pk: leaving.pk,
            foreign.pk: u["manager"].pk,
            elsewhere.pk: leaving.pk,
        }


def test_handover_page_shows_linked_counts(alpha):
    with schema_context(alpha.schema):
        u = alpha.users
        c = customer(u["sales"], "甲公司")
        DummyNote.objects.create(customer=c, owner=u["sales"], text="open")
    client = alpha.client("owner", language="en")
    response = client.post(
        reverse("core:handover"),
        {"from_user": alpha.users["sales"].pk, "to_users": [alpha.users["sales2"].pk]},
    )
    html = response.content.decode()
    assert 'data-testid="handover-link"' in html and "Dummy notes" in html and ": 1" in html


# --- follow-up from a module ----------------------------------------------------------------------------


def test_customer_touch_keeps_an_active_customer_out_of_the_pool(alpha, django_capture_on_commit_callbacks):
    with schema_context(alpha.schema):
        rep = alpha.users["sales"]
        now = timezone.now()
        stale = now - timedelta(days=40)
        ordered, idle = (
            customer(rep, "有订单", last_activity_at=stale),
            customer(rep, "无人跟进", last_activity_at=stale),
        )
        later = now + timedelta(days=30)
        with django_capture_on_commit_callbacks(execute=True):
            warned = services.pool_sweep(now=now).warned
        assert set(warned) >= {ordered.pk, idle.pk}

        # An order recorded today by a module is a follow-up: the warning is lifted.
        assert public.customer_touch(customer_id=ordered.pk, at=now, source="dummy.order") is True
        # An older event does not move the last follow-up back.
        assert public.customer_touch(customer_id=ordered.pk, at=stale, source="dummy.order") is False
        ordered.refresh_from_db()
        assert ordered.last_activity_at == now and ordered.pool_warned_at is None

        with django_capture_on_commit_callbacks(execute=True):
            returned = services.pool_sweep(now=later).returned
        assert idle.pk in returned and ordered.pk not in returned
        ordered.refresh_from_db()
        assert ordered.owner_id == rep.pk and not ordered.in_pool


def test_customer_touch_refuses_naive_times(alpha):
    with schema_context(alpha.schema), pytest.raises(ValueError):
        public.customer_touch(customer_id=1, at=timezone.now().replace(tzinfo=None), source="x")


# --- customer panels -------------------------------------------------------------------------------------


def _panel_url(pk: int) -> str:
    return reverse("core:customer_panel", args=[pk, "dummy", 0])


def test_customer_page_lazily_shows_panels_of_enabled_modules_the_user_may_see(alpha):
    with schema_context(alpha.schema):
        c = customer(alpha.users["sales"], "甲公司")
        DummyNote.objects.create(customer=c, owner=alpha.users["sales"], text="记得回访")
    detail = reverse("core:customer_detail", args=[c.pk])
    rep = alpha.client("sales")

    dummy(alpha.tenant, False)
    assert f'hx-get="{_panel_url(c.pk)}"' not in rep.get(detail).content.decode()
    assert rep.get(_panel_url(c.pk)).status_code == 404

    dummy(alpha.tenant, True)
    assert f'hx-get="{_panel_url(c.pk)}"' in rep.get(detail).content.decode()
    panel = rep.get(_panel_url(c.pk))
    assert panel.status_code == 200 and "记得回访" in panel.content.decode()

    # Finance sees customers but not the panel's permission: neither placeholder nor panel.
    finance = alpha.client("finance")
    assert f'hx-get="{_panel_url(c.pk)}"' not in finance.get(detail).content.decode()
    assert finance.get(_panel_url(c.pk)).status_code == 404
    # A rep who cannot see the customer cannot read its panel either.
    assert alpha.client("sales2").get(_panel_url(c.pk)).status_code == 404
    assert rep.get(reverse("core:customer_panel", args=[c.pk, "dummy", 5])).status_code == 404


def test_customer_page_query_count_does_not_grow_with_panel_data(alpha):
    dummy(alpha.tenant, True)
    with schema_context(alpha.schema):
        c = customer(alpha.users["sales"], "甲公司")
    client = alpha.client("sales")
    url = reverse("core:customer_detail", args=[c.pk])

    def queries() -> int:
        client.get(url)  # warm caches (enabled modules, session)
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(url).status_code == 200
        return len(ctx.captured_queries)

    before = queries()
    with schema_context(alpha.schema):
        DummyNote.objects.bulk_create(DummyNote(customer=c, owner=alpha.users["sales"]) for _ in range(50))
    connection.set_schema_to_public()  # type: ignore[attr-defined]
    assert queries() == before


# --- dashboard widgets -------------------------------------------------------------------------------------


def test_widget_fetches_its_own_data_and_is_gone_when_the_module_is_off(alpha):
    with schema_context(alpha.schema):
        c = customer(alpha.users["sales"], "甲公司")
        DummyNote.objects.create(customer=c, owner=alpha.users["sales"])
        DummyNote.objects.create(customer=c, owner=alpha.users["sales"])
        DummyNote.objects.create(customer=c, owner=alpha.users["sales"], done=True)
    url = reverse("core:widget", args=["dummy", 0])
    rep = alpha.client("sales")
    dummy(alpha.tenant, True)
    assert f'hx-get="{url}"' in rep.get("/").content.decode()
    assert 'data-open-notes="2"' in rep.get(url).content.decode()
    assert 'data-open-notes="0"' in alpha.client("manager").get(url).content.decode()
    dummy(alpha.tenant, False)
    assert f'hx-get="{url}"' not in rep.get("/").content.decode()
    assert rep.get(url).status_code == 404


def test_open_tasks_still_follow_the_customer_in_a_handover(alpha):
    # The core's own Task link is excluded from the generic move; its rule stays (one owner per task).
    with schema_context(alpha.schema):
        u = alpha.users
        c = customer(u["sales"], "甲公司")
        t = Task.objects.create(title="回访", due_at=timezone.now(), owner=u["sales"], customer=c)
        services.customer_handover(actor=u["admin"], from_user=u["sales"], to_users=[u["sales2"]])
        t.refresh_from_db()
        assert t.owner_id == u["sales2"].pk


def test_a_callable_open_filter_decides_what_a_handover_moves(alpha):
    reg = ModuleRegistry()
    reg.register(
        ModuleManifest(
            slug="notes",
            name="Notes",
            summary="",
            kind="capability",
            app_label="dummy",
            customer_links=(
                CustomerLink(
                    model="dummy.DummyNote",
                    owner_field="owner",
                    open_filter="tests.dummy_module.hooks.open_notes",
                ),
            ),
        )
    )
    with schema_context(alpha.schema):
        u = alpha.users
        c = customer(u["sales"], "甲公司")
        keep = DummyNote.objects.create(customer=c, owner=u["sales"], text="archived")
        move = DummyNote.objects.create(customer=c, owner=u["sales"], text="live")
        counts = hooks.links_handover_counts(customer_ids=[c.pk], from_user_id=u["sales"].pk, reg=reg)
        assert [(x.model, x.label, x.count) for x in counts] == [("dummy.DummyNote", "dummy notes", 1)]
        moved = hooks.links_handover_move(
            by_target={u["sales2"].pk: [c.pk]}, from_user_id=u["sales"].pk, reg=reg
        )
        assert moved == {"dummy.DummyNote": 1}
        assert dict(DummyNote.objects.values_list("pk", "owner_id")) == {
            keep.pk: u["sales"].pk,
            move.pk: u["sales2"].pk,
        }
