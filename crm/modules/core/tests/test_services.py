"""Service rules: duplicates, products, custom fields, activities, merge, handover, the public pool."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.core import mail
from django.utils import timezone
from django_tenants.utils import schema_context

from crm.modules.core import selectors, services
from crm.modules.core.models import Activity, Contact, Customer, CustomerShare, Product, Task
from crm.platform.errors import PermissionDenied, ServiceError
from crm.tenants.accounts.models import AuditEntry

from .factories import customer


def test_duplicate_by_phone_email_or_normalised_name_across_owners(alpha):
    with schema_context(alpha.schema):
        u = alpha.users
        existing = services.customer_create(
            actor=u["sales2"], name="上海明达科技有限公司", phone="021-5555 1234", email="Info@mingda.cn"
        )
        cases: list[dict[str, Any]] = [
            {"name": "上海 明达科技"},
            {"name": "新名字", "phone": "02155551234"},
            {"name": "另一个", "email": "info@MINGDA.cn"},
        ]
        for kwargs in cases:
            with pytest.raises(services.DuplicateCustomer) as exc:
                services.customer_create(actor=u["sales"], **kwargs)
            assert [d.pk for d in exc.value.duplicates] == [existing.pk]
        assert Customer.objects.count() == 1  # refused input wrote nothing
        # The rep confirms it is a different company.
        services.customer_create(actor=u["sales"], name="上海明达科技", allow_duplicate=True)
        assert Customer.objects.count() == 2


def test_customer_create_validates_and_audits(alpha):
    with schema_context(alpha.schema):
        u = alpha.users
        with pytest.raises(ServiceError) as exc:
            services.customer_create(actor=u["sales"], name="  ")
        assert exc.value.fields == {"name": [str(exc.value.message)]}
        with pytest.raises(ServiceError):
            services.customer_create(actor=u["sales"], name="甲", email="not-an-email")
        with pytest.raises(PermissionDenied):
            services.customer_create(actor=u["clerk"], name="甲")
        with pytest.raises(PermissionDenied):  # a rep cannot create for a colleague
            services.customer_create(actor=u["sales"], name="甲", owner=u["sales2"])
        c = services.customer_create(
            actor=u["sales"],
            name="甲",
            phone="+86 138-0013-8000",
            tags="钢材, 华东,钢材",
            contact_name="王经理",
        )
        assert (c.phone, c.tags, c.owner_id) == ("13800138000", ["钢材", "华东"], u["sales"].pk)
        assert c.contacts.get().is_primary
        services.customer_update(actor=u["sales"], customer=c, stage="prospect")
        entry = AuditEntry.objects.filter(action="customer.update", target_id=str(c.pk)).get()
        assert entry.detail == {"stage": ["lead", "prospect"]}


def test_custom_fields_validated_on_write(alpha):
    with schema_context(alpha.schema):
        u = alpha.users
        services.custom_field_define(
            actor=u["admin"],
            key="industry",
            label="行业",
            field_type="choice",
            choices=["钢铁", "化工"],
            required=True,
        )
        services.custom_field_define(actor=u["admin"], key="staff", label="人数", field_type="number")
        with pytest.raises(PermissionDenied):
            services.custom_field_define(actor=u["sales"], key="x", label="x", field_type="text")
        with pytest.raises(ServiceError) as exc:
            services.customer_create(
                actor=u["sales"], name="甲", custom_fields={"industry": "食品", "staff": "abc"}
            )
        assert set(exc.value.fields) == {"custom_fields.industry", "custom_fields.staff"}
        with pytest.raises(ServiceError):
            services.customer_create(actor=u["sales"], name="甲", custom_fields={})  # required missing
        c = services.customer_create(
            actor=u["sales"], name="甲", custom_fields={"industry": "钢铁", "staff": "12"}
        )
        assert c.custom_fields == {"industry": "钢铁", "staff": "12"}


def test_product_duplicate_on_code_name_spec_refused(alpha):
    with schema_context(alpha.schema):
        u = alpha.users
        p = services.product_save(
            actor=u["manager"],
            code="A1",
            name="螺纹钢",
            specification="HRB400 Φ12",
            unit="吨",
            price="4200.50",
            cost="3900",
        )
        assert p.price == Decimal("4200.50") and p.currency == "CNY"
        with pytest.raises(ServiceError) as exc:
            services.product_save(
                actor=u["manager"], code="A1", name="螺纹钢", specification="HRB400 Φ12", price="1"
            )
        assert exc.value.code == "duplicate" and "code" in exc.value.fields
        services.product_save(
            actor=u["manager"], code="A1", name="螺纹钢", specification="HRB400 Φ16", price="1"
        )
        assert Product.objects.count() == 2
        with pytest.raises(PermissionDenied):
            services.product_save(actor=u["sales"], name="x", price="1")
        with pytest.raises(ServiceError):
            services.product_save(actor=u["manager"], name="y", price="-1")


def test_visit_with_next_step_creates_task_and_resets_pool_clock(alpha):
    with schema_context(alpha.schema):
        u = alpha.users
        c = customer(
            u["sales"], last_activity_at=timezone.now() - timedelta(days=40), pool_warned_at=timezone.now()
        )
        due = timezone.now() + timedelta(days=3)
        a = services.activity_create(
            actor=u["sales"],
            customer=c,
            purpose="介绍新产品",
            result="有兴趣",
            next_step="送样品",
            next_step_at=due,
        )
        c.refresh_from_db()
        assert c.last_activity_at == a.occurred_at and c.pool_warned_at is None
        assert c.stage == Customer.Stage.PROSPECT  # met in person: qualified
        task = Task.objects.get(activity=a)
        assert (task.title, task.due_at, task.owner_id, task.customer_id) == (
            "送样品",
            due,
            u["sales"].pk,
            c.pk,
        )
        with pytest.raises(ServiceError):
            services.activity_create(actor=u["sales"], customer=c)  # nothing said
        with pytest.raises(PermissionDenied):
            services.activity_create(actor=u["sales2"], customer=c, result="x")  # not visible to sales2
        assert Activity.objects.count() == 1


def test_manager_comments_on_rep_visit(alpha):
    with schema_context(alpha.schema):
        u = alpha.users
        a = services.activity_create(actor=u["sales"], customer=customer(u["sales"]), result="谈了价格")
        services.activity_comment(actor=u["manager"], activity=a, body="先确认预算")
        assert a.comments.get().body == "先确认预算"
        with pytest.raises(PermissionDenied):
            services.activity_comment(actor=u["sales2"], activity=a, body="x")


def test_merge_moves_contacts_activities_tasks(alpha):
    with schema_context(alpha.schema):
        u = alpha.users
        target = customer(u["sales"], "甲公司")
        source = customer(u["sales"], "甲公司（重复）", phone="13900000000")
        Contact.objects.create(customer=source, name="李四")
        services.activity_create(
            actor=u["sales"],
            customer=source,
            result="x",
            next_step="回访",
            next_step_at=timezone.now() + timedelta(days=1),
        )
        services.customer_merge(actor=u["sales"], target=target, source=source)
        target.refresh_from_db()
        assert target.phone == "13900000000"
        assert (target.contacts.count(), target.activities.count(), target.tasks.count()) == (1, 1, 1)
        assert not Customer.objects.filter(pk=source.pk).exists()
        other = customer(u["sales2"], "乙公司")
        with pytest.raises(PermissionDenied):
            services.customer_merge(actor=u["sales"], target=target, source=other)


def test_handover_round_robin_moves_everything_in_one_audited_step(alpha):
    with schema_context(alpha.schema):
        u = alpha.users
        leaving, a, b = u["sales"], u["sales2"], u["manager"]
        mine = [customer(leaving, f"客户{i}") for i in range(5)]
        Contact.objects.create(customer=mine[0], name="张三")
        Task.objects.create(title="回访", due_at=timezone.now(), owner=leaving, customer=mine[1])
        Task.objects.create(title="写周报", due_at=timezone.now(), owner=leaving)
        done = Task.objects.create(title="旧", due_at=timezone.now(), owner=leaving, done_at=timezone.now())
        CustomerShare.objects.create(customer=customer(u["admin"], "别人的"), user=leaving)

        with pytest.raises(PermissionDenied):
            services.customer_handover_preview(actor=u["manager"], from_user=leaving, to_users=[a])
        preview = services.customer_handover_preview(actor=u["admin"], from_user=leaving, to_users=[a, b])
        assert (len(preview.assignments), preview.contacts, preview.open_tasks, preview.shares) == (
            5,
            1,
            2,
            1,
        )
        assert Customer.objects.filter(owner=leaving).count() == 5  # a preview writes nothing

        result = services.customer_handover(actor=u["admin"], from_user=leaving, to_users=[a, b])
        assert result.assignments == preview.assignments
        assert Customer.objects.filter(owner=a).count() == 3 and Customer.objects.filter(owner=b).count() == 2
        assert not selectors.customers_visible(leaving).exists()  # the former owner loses access at once
        assert Task.objects.get(title="回访").owner_id == result.assignments[mine[1].pk]
        assert Task.objects.get(title="写周报").owner_id == a.pk
        assert Task.objects.get(pk=done.pk).owner_id == leaving.pk  # history stays
        entry = AuditEntry.objects.get(action="customer.handover")
        assert entry.actor_id == u["admin"].pk and len(entry.detail["customers"]) == 5


def test_handover_explicit_mapping_and_bad_input(alpha):
    with schema_context(alpha.schema):
        u = alpha.users
        c1, c2 = customer(u["sales"], "一"), customer(u["sales"], "二")
        with pytest.raises(ServiceError):
            services.customer_handover(actor=u["admin"], from_user=u["sales"], to_users=[u["sales"]])
        with pytest.raises(ServiceError):
            services.customer_handover(actor=u["admin"], from_user=u["sales"], to_users=[u["clerk"]])
        with pytest.raises(ServiceError):
            services.customer_handover(
                actor=u["admin"],
                from_user=u["sales"],
                to_users=[u["sales2"]],
                mapping={c1.pk: u["manager"].pk},
            )
        assert Customer.objects.filter(owner=u["sales"]).count() == 2
        services.customer_handover(
            actor=u["admin"],
            from_user=u["sales"],
            to_users=[u["sales2"], u["manager"]],
            mapping={c1.pk: u["manager"].pk, c2.pk: u["manager"].pk},
        )
        assert Customer.objects.filter(owner=u["manager"]).count() == 2


def test_pool_sweep_time_travel_warns_then_returns_idempotently(alpha, django_capture_on_commit_callbacks):
    with schema_context(alpha.schema):
        u = alpha.users
        s = selectors.core_settings()
        s.pool_days, s.pool_warning_days = 30, 3
        s.save()
        now = timezone.now()
        fresh = customer(u["sales"], "新鲜", last_activity_at=now - timedelta(days=5))
        stale = customer(u["sales"], "快过期", last_activity_at=now - timedelta(days=28))
        signed = customer(u["sales"], "已成交", last_activity_at=now - timedelta(days=90), stage="customer")
        mail.outbox.clear()

        with django_capture_on_commit_callbacks(execute=True):
            first = services.pool_sweep(now=now)
        assert first.warned == [stale.pk] and first.returned == []
        assert len(mail.outbox) == 1 and mail.outbox[0].to == [u["sales"].email]
        assert Task.objects.filter(customer=stale, owner=u["sales"]).count() == 1
        assert services.pool_sweep(now=now).warned == []  # idempotent: warned once

        # Three days later, still no follow-up: back to the pool.
        later = now + timedelta(days=3, minutes=1)
        result = services.pool_sweep(now=later)
        assert result.returned == [stale.pk]
        stale.refresh_from_db()
        assert stale.owner is None and stale.in_pool
        assert not Task.objects.filter(customer=stale, done_at__isnull=True).exists()
        assert services.pool_sweep(now=later).returned == []
        fresh.refresh_from_db()
        signed.refresh_from_db()
        assert fresh.owner_id == signed.owner_id == u["sales"].pk
        assert AuditEntry.objects.filter(action="customer.to_pool", target_id=str(stale.pk)).exists()


def test_follow_up_after_warning_keeps_the_customer(alpha):
    with schema_context(alpha.schema):
        u = alpha.users
        now = timezone.now()
        c = customer(u["sales"], "快过期", last_activity_at=now - timedelta(days=28))
        services.pool_sweep(now=now)
        services.activity_create(actor=u["sales"], customer=c, result="打电话了", kind="call")
        assert services.pool_sweep(now=now + timedelta(days=4)).returned == []
        c.refresh_from_db()
        assert c.owner_id == u["sales"].pk


def test_pool_claim_with_daily_limit(alpha):
    with schema_context(alpha.schema):
        u = alpha.users
        s = selectors.core_settings()
        s.pool_claims_per_day = 1
        s.save()
        c1 = customer(None, "池一", in_pool=True)
        c2 = customer(None, "池二", in_pool=True)
        assert {c.pk for c in selectors.pool_list(u["sales"])} == {c1.pk, c2.pk}
        services.pool_claim(actor=u["sales"], customer=c1)
        c1.refresh_from_db()
        assert c1.owner_id == u["sales"].pk and not c1.in_pool
        with pytest.raises(ServiceError) as exc:
            services.pool_claim(actor=u["sales"], customer=c2)
        assert exc.value.code == "limit"
        with pytest.raises(ServiceError) as exc:
            services.pool_claim(actor=u["sales2"], customer=c1)  # already claimed
        assert exc.value.code == "conflict"
        with pytest.raises(PermissionDenied):
            services.pool_claim(actor=u["clerk"], customer=c2)
        services.pool_claim(actor=u["sales2"], customer=c2)


def test_pool_settings_validated(alpha):
    with schema_context(alpha.schema):
        u = alpha.users
        with pytest.raises(ServiceError):
            services.core_settings_update(
                actor=u["admin"], pool_days=5, pool_warning_days=5, pool_claims_per_day=1
            )
        with pytest.raises(PermissionDenied):
            services.core_settings_update(
                actor=u["sales"], pool_days=5, pool_warning_days=1, pool_claims_per_day=1
            )
        services.core_settings_update(
            actor=u["admin"], pool_days=15, pool_warning_days=2, pool_claims_per_day=4
        )
        assert selectors.core_settings().pool_days == 15


def test_pool_sweep_and_reminders_run_from_the_module_beat(alpha):
    from crm.platform.tasks import module_run

    with schema_context(alpha.schema):
        u = alpha.users
        now = timezone.now()
        c = customer(
            u["sales"],
            "久未跟进",
            last_activity_at=now - timedelta(days=40),
            pool_warned_at=now - timedelta(days=5),
        )
        t = Task.objects.create(title="回电话", due_at=now, owner=u["sales2"])
        assert module_run("core", "crm.modules.core.tasks.pool_sweep")
        assert module_run("core", "crm.modules.core.tasks.task_reminders")
        c.refresh_from_db()
        t.refresh_from_db()
        assert c.in_pool and c.owner is None and t.reminder_sent_at is not None


def test_assign_by_manager_within_team_and_by_admin_from_pool(alpha):
    with schema_context(alpha.schema):
        u = alpha.users
        pooled = customer(
            None, "公海客户", in_pool=True, last_activity_at=timezone.now() - timedelta(days=60)
        )
        mine = customer(u["manager"], "经理的")
        Task.objects.create(title="回访", due_at=timezone.now(), owner=u["manager"], customer=mine)
        services.customer_assign(actor=u["manager"], customer=mine, owner=u["sales"])
        mine.refresh_from_db()
        assert mine.owner_id == u["sales"].pk and Task.objects.get(title="回访").owner_id == u["sales"].pk
        with pytest.raises(PermissionDenied):  # sales2 is outside the manager's team
            services.customer_assign(actor=u["manager"], customer=mine, owner=u["sales2"])
        with pytest.raises(PermissionDenied):
            services.customer_assign(actor=u["sales"], customer=mine, owner=u["sales2"])
        with pytest.raises(ServiceError):
            services.customer_assign(actor=u["admin"], customer=pooled, owner=u["clerk"])
        services.customer_assign(actor=u["admin"], customer=pooled, owner=u["sales2"])
        pooled.refresh_from_db()
        assert pooled.owner_id == u["sales2"].pk and not pooled.in_pool
        assert pooled.last_activity_at is not None
        assert pooled.last_activity_at > timezone.now() - timedelta(minutes=1)  # a fresh period
        assert AuditEntry.objects.filter(action="customer.assign").count() == 2


def test_contact_update_keeps_old_values_in_the_audit_trail(alpha):
    with schema_context(alpha.schema):
        u = alpha.users
        c = customer(u["sales"], "甲公司")
        first = services.contact_create(
            actor=u["sales"], customer=c, name="王经理", title="采购经理", phone="13800000000"
        )
        second = services.contact_create(actor=u["sales"], customer=c, name="李工")
        assert first.is_primary and not second.is_primary
        services.contact_update(actor=u["sales"], contact=first, title="副总经理", phone="+86 139 0000 0000")
        services.contact_update(actor=u["sales"], contact=second, is_primary=True)
        first.refresh_from_db()
        assert (first.title, first.phone, first.is_primary) == ("副总经理", "13900000000", False)
        entry = AuditEntry.objects.filter(action="contact.update").order_by("id").first()
        assert entry is not None and entry.detail["title"] == ["采购经理", "副总经理"]
        with pytest.raises(PermissionDenied):
            services.contact_update(actor=u["sales2"], contact=first, name="x")
        with pytest.raises(ServiceError):
            services.contact_update(actor=u["sales"], contact=first, name=" ")
