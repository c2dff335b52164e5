"""Delivery providers: email through Django's email backend, SMS through Yunpian's HTTP API.

SMS wire format (云片 Yunpian API v2, single send; https://www.yunpian.com/official/document/sms/zh_cn/
domestic_single_send): `POST {SMS_API_URL}` (production: https://sms.yunpian.com/v2/sms/single_send.json)
with headers `Accept: application/json;charset=utf-8` and `Content-Type: application/x-www-form-urlencoded;
charset=utf-8`, form fields `apikey`, `mobile`, `text`. The text must begin with the approved signature in
【】 (SMS_SIGN_NAME). Success: HTTP 200 and JSON `{"code": 0, "msg": "发送成功", "count": 1, "fee": 0.05,
"unit": "RMB", "mobile": "...", "sid": 3310228982}`; `sid` is the provider's message id. Failure: HTTP 400
(or another non-2xx) and JSON `{"http_status_code": 400, "code": 2, "msg": "请求参数格式错误", "detail":
"..."}`; any non-zero `code` is a failure.

Settings are read at call time (SMS_API_URL / SMS_API_KEY / SMS_SIGN_NAME), never at import time.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from email.utils import make_msgid
from typing import Protocol

from django.conf import settings
from django.core.mail import EmailMessage
from django.utils.translation import gettext as _

TIMEOUT_SECONDS = 10


class DeliveryError(Exception):
    """The provider refused the message or could not be reached; the text says why (stored on the row)."""


class Provider(Protocol):
    def send_sms(self, to: str, body: str) -> str: ...

    def send_email(self, to: str, subject: str, body: str) -> str: ...


class DefaultProvider:
    """Email via Django's configured backend; SMS via Yunpian when SMS_API_URL is set."""

    def send_email(self, to: str, subject: str, body: str) -> str:
        message_id = make_msgid(domain="crm.localhost")
        email = EmailMessage(subject=subject, body=body, to=[to], headers={"Message-ID": message_id})
        try:
            email.send(fail_silently=False)
        except Exception as exc:  # SMTP and backend errors vary; the row records which one.
            raise DeliveryError(f"{type(exc).__name__}: {exc}") from exc
        return message_id

    def send_sms(self, to: str, body: str) -> str:
        url = settings.SMS_API_URL
        if not url:
            raise DeliveryError(_("SMS is not configured (SMS_API_URL is empty)."))
        sign = settings.SMS_SIGN_NAME
        text = body if not sign or body.startswith(f"【{sign}】") else f"【{sign}】{body}"
        data = urllib.parse.urlencode({"apikey": settings.SMS_API_KEY, "mobile": to, "text": text}).encode()
        request = urllib.request.Request(  # noqa: S310 (the operator's configured https URL)
            url,
            data=data,
            method="POST",
            headers={
                "Accept": "application/json;charset=utf-8",
                "Content-Type": "application/x-www-form-urlencoded;charset=utf-8",
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:  # noqa: S310
                raw = response.read()
        except urllib.error.HTTPError as exc:
            # Yunpian answers errors with a 4xx and a JSON body that says which.
            raw = exc.read()
            reply = _parse(raw)
            raise DeliveryError(_describe(reply, fallback=f"HTTP {exc.code}")) from exc
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            raise DeliveryError(f"{type(exc).__name__}: {exc}") from exc
        reply = _parse(raw)
        if reply.get("code") != 0:
            raise DeliveryError(_describe(reply, fallback=raw[:200].decode("utf-8", "replace")))
        return str(reply.get("sid", ""))


def _parse(raw: bytes) -> dict[str, object]:
    try:
        value = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def _describe(reply: dict[str, object], *, fallback: str) -> str:
    if "code" not in reply:
        return fallback
    parts = [f"code {reply['code']}", str(reply.get("msg", "")), str(reply.get("detail", ""))]
    return ": ".join(p for p in parts if p)


def get_provider() -> Provider:
    return DefaultProvider()
