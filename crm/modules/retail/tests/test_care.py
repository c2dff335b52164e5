"""Member care: each event sent once per channel under repeated runs, opt-out, Chinese defaults, tenant
edits, tenant time zone, module off → skipped, and the managers' care page."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_tenants.utils import schema_context

from crm.modules.messaging import services as messaging
from crm.modules.messaging.models import OutboundMessage
from crm.modules.messaging.tests.fake_yunpian import FakeYunpian, fake_yunpian
from crm.modules.retail import care, services, tasks
from crm.modules.retail.models import PointsEntry
from crm.platform.tasks import module_run
from crm.tenants.services import module_set_enabled

from .factories import Shop, to_public

SHANGHAI = ZoneInfo("Asia/Shanghai")
CARE_TASK = "crm.modules.retail.tasks.care"


@pytest.fixture
def yunpian(settings: Any) -> Iterator[FakeYunpian]:
    with fake_yunpian() as fake:
        settings.SMS_API_URL, settings.SMS_API_KEY, settings.SMS_SIGN_NAME = fake.url, "k", "阿尔法"
        yield fake


def _today() -> date:
    return timezone.localtime(timezone.now(), SHANGHAI).date()


def _kinds() -> list[tuple[str, str, str]]:
    return sorted(OutboundMessage.objects.values_list("kind", "channel", "recipient"))


def test_each_event_is_sent_once_under_repeated_runs(shop: Shop, yunpian: FakeYunpian, alpha: Any) -> None:
    # Given: 张三 has a birthday today and points lapsing in 5 days; 李四's membership ends in 10 days and
    # a sale lifts 张三 to 银卡.
    member, other = shop.member, shop.other
    member.phone, member.email, member.birthday = "13800138000", "zs@example.com", _today().replace(year=1990)
    member.save()
    other.email, other.valid_until = "ls@example.com", _today() + timedelta(days=10)
    other.save()
    services.sale_record(actor=alpha.users["clerk"], member=member, store=shop.store, amount=Decimal("1200"))
    PointsEntry.objects.create(
        member=member, kind="earn", points=50, expires_at=timezone.now() + timedelta(days=5)
    )
    member.refresh_from_db()
    member.points_balance += 50
    member.save(update_fields=["points_balance"])

    # When: the care task runs, runs again, and is retried through Celery.
    first = care.care_run()
    care.care_run()
    tasks.care.apply(throw=True)

    # Then: one message per (event, channel), sent once each.
    assert first.counts == {
        "birthday": 2,
        "tier_upgrade": 2,
        "points_expiring": 2,
        "membership_expiring": 1,
    }
    assert _kinds() == [
        ("birthday", "email", "zs@example.com"),
        ("birthday", "sms", "13800138000"),
        ("membership_expiring", "email", "ls@example.com"),
        ("points_expiring", "email", "zs@example.com"),
        ("points_expiring", "sms", "13800138000"),
        ("tier_upgrade", "email", "zs@example.com"),
        ("tier_upgrade", "sms", "13800138000"),
    ]
    assert len(yunpian.requests) == 3 and len(mail.outbox) == 4
    assert set(OutboundMessage.objects.values_list("status", flat=True)) == {"sent"}
    # Chinese defaults, with the store, tier and points filled in and the SMS signature added.
    texts = {r["form"]["text"] for r in yunpian.requests}
    assert "【阿尔法】亲爱的张三，春熙路店祝您生日快乐！" in texts
    assert "【阿尔法】恭喜张三，您已升级为银卡会员，感谢您对春熙路店的支持！" in texts
    expiry = timezone.localtime(timezone.now() + timedelta(days=5), SHANGHAI).date().isoformat()
    assert f"【阿尔法】张三您好，您有 50 积分将于{expiry}到期，欢迎到春熙路店使用。" in texts


def test_opt_out_is_respected_per_channel(shop: Shop, yunpian: FakeYunpian) -> None:
    member = shop.member
    member.phone, member.email, member.birthday = "13800138000", "zs@example.com", _today().replace(year=1990)
    member.opt_out_sms = True
    member.save()
    shop.other.phone, shop.other.birthday, shop.other.opt_out_sms = "13900000000", member.birthday, True
    shop.other.save()

    care.care_run()

    assert _kinds() == [("birthday", "email", "zs@example.com")]
    assert yunpian.requests == []


def test_failed_sms_is_retried_in_place_on_the_next_run(shop: Shop, yunpian: FakeYunpian) -> None:
    member = shop.member
    member.phone, member.birthday = "13800138000", _today().replace(year=1990)
    member.save()
    yunpian.errors.append((400, 33, "发送频率过快"))

    care.care_run()
    (failed,) = OutboundMessage.objects.all()
    assert failed.status == "failed" and "33" in failed.error
    care.care_run()

    (sent,) = OutboundMessage.objects.all()
    assert sent.pk == failed.pk and sent.status == "sent" and sent.attempts == 2
    assert len(yunpian.requests) == 2


def test_failed_tier_upgrade_is_retried_after_the_cursor_moved(
    shop: Shop, yunpian: FakeYunpian, alpha: Any
) -> None:
    shop.member.phone = "13800138000"
    shop.member.save()
    services.sale_record(actor=alpha.users["clerk"], member=shop.member, store=shop.store, amount="1500")
    yunpian.errors.append((500, -50, "系统内部错误"))

    care.care_run()
    care.care_run()
    care.care_run()

    (message,) = OutboundMessage.objects.filter(kind="tier_upgrade")
    assert message.status == "sent" and message.attempts == 2
    assert len(yunpian.requests) == 2


def test_birthday_uses_the_tenant_time_zone(shop: Shop, settings: Any) -> None:
    settings.SMS_API_URL = ""
    # 17:30 UTC on 1 March is already 2 March in Shanghai.
    now = datetime(2026, 3, 1, 17, 30, tzinfo=ZoneInfo("UTC"))
    shop.member.email, shop.member.birthday = "zs@example.com", date(1990, 3, 2)
    shop.member.save()
    shop.other.email, shop.other.birthday = "ls@example.com", date(1990, 3, 1)
    shop.other.save()

    care.care_run(now=now)

    assert _kinds() == [("birthday", "email", "zs@example.com")]


def test_tenant_edits_template(shop: Shop, alpha: Any, beta: Any) -> None:
    messaging.template_update(
        actor=alpha.users["owner"],
        perm="retail.manage",
        kind="birthday",
        channel="email",
        subject="{{ name }}，生日快乐",
        body="{{ store }}送您一张{{ tier }}会员生日券。",
    )
    shop.member.email, shop.member.birthday = "zs@example.com", _today().replace(year=1990)
    shop.member.save()

    care.care_run()

    (email,) = mail.outbox
    assert email.subject == "张三，生日快乐"
    assert email.body == "春熙路店送您一张普通会员生日券。"
    # Another tenant keeps its own (default) template.
    with schema_context(beta.schema):
        assert messaging.template_get(kind="birthday", channel="email").subject == "生日快乐，{{ name }}"


def test_module_off_skips_the_tenant(shop: Shop, alpha: Any, settings: Any) -> None:
    settings.SMS_API_URL = ""
    shop.member.email, shop.member.birthday = "zs@example.com", _today().replace(year=1990)
    shop.member.save()
    module_set_enabled(
        tenant=alpha.tenant, module="retail", enabled=False, actor_email="owner@alpha.example.com"
    )

    assert module_run.apply(args=("retail", CARE_TASK), throw=True).get() is False
    assert not OutboundMessage.objects.exists()

    module_set_enabled(
        tenant=alpha.tenant, module="retail", enabled=True, actor_email="owner@alpha.example.com"
    )
    assert module_run.apply(args=("retail", CARE_TASK), throw=True).get() is True
    assert _kinds() == [("birthday", "email", "zs@example.com")]


def _outbound(n: int) -> None:
    OutboundMessage.objects.bulk_create(
        OutboundMessage(
            channel="sms", recipient=f"138{i:08d}", body="x", kind="birthday", idempotency_key=f"view:{n}:{i}"
        )
        for i in range(n)
    )


def test_care_page_for_managers_with_constant_queries(shop: Shop, alpha: Any) -> None:
    messaging.templates_ensure()
    to_public()
    owner, clerk = alpha.client("owner", language="en"), alpha.client("clerk")
    owner.get("/retail/care/")  # warm the per-tenant caches (module set, menus) so both counts compare
    counts = []
    for n in (1, 30):
        with schema_context(alpha.schema):
            _outbound(n)
        to_public()
        with CaptureQueriesContext(connection) as queries:
            response = owner.get("/retail/care/")
        assert response.status_code == 200
        counts.append(len(queries))
    assert counts[0] == counts[1]
    html = response.content.decode()
    assert "Member care" in html and 'href="/retail/care/"' in html
    assert html.count("<tr>") == 1 + 31  # header + every recent message
    assert clerk.get("/retail/care/").status_code == 403


def test_care_page_saves_a_template_and_refuses_bad_syntax(shop: Shop, alpha: Any) -> None:
    to_public()
    owner = alpha.client("owner", language="en")
    form = {"kind": "birthday", "channel": "sms", "body": "{{ name }}生日快乐", "is_active": "on"}

    assert owner.post("/retail/care/", form).status_code == 302
    bad = owner.post("/retail/care/", {**form, "body": "{% if %}"})

    assert bad.status_code == 200 and "not valid" in bad.content.decode()
    with schema_context(alpha.schema):
        assert messaging.template_get(kind="birthday", channel="sms").body == "{{ name }}生日快乐"
    settings_form = {"settings": "1", "points_notice_days": "7", "membership_notice_days": "14"}
    assert owner.post("/retail/care/", settings_form).status_code == 302
    with schema_context(alpha.schema):
        assert messaging.care_settings_get().points_notice_days == 7
