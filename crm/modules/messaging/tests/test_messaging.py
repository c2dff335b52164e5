from __future__ import annotations

from typing import Any

import pytest
from django.core import mail
from django_tenants.utils import schema_context

from crm.modules.messaging import services
from crm.modules.messaging.models import MessageTemplate, OutboundMessage
from crm.modules.messaging.providers import DefaultProvider, DeliveryError
from crm.platform.errors import PermissionDenied, ServiceError

from .fake_yunpian import PATH, FakeYunpian

PERM = "retail.manage"
CTX: dict[str, Any] = {
    "name": "张三",
    "tier": "金卡",
    "points": 120,
    "expiry_date": "2026-12-01",
    "store": "春熙路店",
}


def test_sms_adapter_sends_yunpian_wire_format(yunpian: FakeYunpian) -> None:
    sid = DefaultProvider().send_sms("13800138000", "生日快乐")

    assert sid == "3310228982"
    (request,) = yunpian.requests
    assert request["path"] == PATH
    assert request["headers"]["Content-Type"] == "application/x-www-form-urlencoded;charset=utf-8"
    assert request["headers"]["Accept"] == "application/json;charset=utf-8"
    assert request["form"] == {
        "apikey": "test-api-key",
        "mobile": "13800138000",
        "text": "【阿尔法】生日快乐",
    }


def test_sms_adapter_does_not_sign_twice(yunpian: FakeYunpian) -> None:
    DefaultProvider().send_sms("13800138000", "【阿尔法】你好")
    assert yunpian.requests[0]["form"]["text"] == "【阿尔法】你好"


def test_sms_adapter_raises_provider_error(yunpian: FakeYunpian) -> None:
    yunpian.errors.append((400, 2, "请求参数格式错误"))
    with pytest.raises(DeliveryError, match="code 2: 请求参数格式错误"):
        DefaultProvider().send_sms("bad", "x")


def test_sms_unreachable_is_a_delivery_error(settings: Any) -> None:
    settings.SMS_API_URL = "http://127.0.0.1:9/v2/sms/single_send.json"  # discard port: connection refused
    with pytest.raises(DeliveryError):
        DefaultProvider().send_sms("13800138000", "x")


def test_templates_seeded_in_chinese_once(alpha: Any) -> None:
    with schema_context(alpha.schema):
        first = services.templates_ensure()
        second = services.templates_ensure()
        assert len(first) == len(second) == 8 == MessageTemplate.objects.count()
        birthday = services.template_get(kind="birthday", channel="sms")
        assert services.render(birthday.body, CTX) == "亲爱的张三，春熙路店祝您生日快乐！"


def test_render_exposes_only_plain_names(alpha: Any) -> None:
    # Unknown names render empty; dunder lookups, file includes and tag libraries are refused.
    assert services.render("{{ secret }}{{ name }}", CTX) == "张三"
    with pytest.raises(ServiceError):
        services.render("{{ name.__class__ }}", CTX)
    with pytest.raises(ServiceError):
        services.render('{% include "base.html" %}', CTX)
    with pytest.raises(ServiceError):
        services.render("{% load static %}", CTX)
    with pytest.raises(ServiceError):
        services.render("{% debug %}", CTX)


def test_template_update_validates_and_checks_permission(alpha: Any) -> None:
    with schema_context(alpha.schema):
        owner, clerk = alpha.users["owner"], alpha.users["clerk"]
        with pytest.raises(PermissionDenied):
            services.template_update(
                actor=clerk, perm="retail.manage", kind="birthday", channel="sms", body="x"
            )
        with pytest.raises(ServiceError) as exc:
            services.template_update(
                actor=owner, perm="retail.manage", kind="birthday", channel="sms", body="{% if %}"
            )
        assert "body" in exc.value.fields
        with pytest.raises(ServiceError) as exc:
            services.template_update(
                actor=owner, perm="retail.manage", kind="birthday", channel="email", body="x"
            )
        assert "subject" in exc.value.fields
        # Bad input changed nothing.
        assert services.template_get(kind="birthday", channel="sms").body.startswith("亲爱的")


def test_send_once_per_key_and_retry_failed_in_place(alpha: Any, yunpian: FakeYunpian) -> None:
    with schema_context(alpha.schema):
        yunpian.errors.append((400, 33, "发送频率过快"))
        kw: dict[str, Any] = {
            "kind": "birthday",
            "channel": "sms",
            "recipient": "13800138000",
            "idempotency_key": "k1",
        }
        failed = services.message_send(**kw, context=CTX)
        assert failed is not None and failed.status == "failed" and "33" in failed.error
        retried = services.message_send(**kw, context=CTX)
        assert retried is not None and retried.pk == failed.pk and retried.status == "sent"
        assert retried.provider_id == "3310228982" and retried.attempts == 2 and retried.error == ""
        again = services.message_send(**kw, context=CTX)
        assert again is not None and again.pk == failed.pk
        assert len(yunpian.requests) == 2
        assert OutboundMessage.objects.filter(idempotency_key="k1").count() == 1


def test_failed_sends_stop_after_max_attempts(alpha: Any, yunpian: FakeYunpian) -> None:
    with schema_context(alpha.schema):
        yunpian.errors.extend([(400, 33, "x")] * 5)
        kw: dict[str, Any] = {"kind": "birthday", "channel": "sms", "recipient": "1", "idempotency_key": "k2"}
        for _ in range(5):
            services.message_send(**kw, context=CTX)
        assert len(yunpian.requests) == services.MAX_ATTEMPTS


def test_sms_without_url_is_recorded_as_failed(alpha: Any, settings: Any) -> None:
    settings.SMS_API_URL = ""
    with schema_context(alpha.schema):
        message = services.message_send(
            kind="birthday", channel="sms", recipient="13800138000", idempotency_key="k3", context=CTX
        )
        assert message is not None and message.status == "failed"
        assert "SMS_API_URL" in message.error


def test_email_goes_through_django_backend(alpha: Any) -> None:
    with schema_context(alpha.schema):
        message = services.message_send(
            kind="tier_upgrade", channel="email", recipient="a@example.com", idempotency_key="k4", context=CTX
        )
        assert message is not None and message.status == "sent" and message.provider_id
        (email,) = mail.outbox
        assert email.to == ["a@example.com"]
        assert email.subject == "恭喜升级为金卡会员"
        assert "张三" in email.body


def test_inactive_template_sends_nothing(alpha: Any) -> None:
    with schema_context(alpha.schema):
        services.template_update(
            actor=alpha.users["owner"],
            perm="retail.manage",
            kind="birthday",
            channel="email",
            subject="s",
            body="b",
            is_active=False,
        )
        sent = services.message_send(
            kind="birthday", channel="email", recipient="a@example.com", idempotency_key="k5", context=CTX
        )
        assert sent is None and not mail.outbox and not OutboundMessage.objects.exists()
