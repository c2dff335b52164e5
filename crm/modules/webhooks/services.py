"""Writes of outbound webhooks: endpoints, emitting events, delivering them with retries.

Delivery: each event becomes one Delivery row per subscribed active endpoint, written in the transaction of
the change that caused it; the first attempt is queued on commit, retries are picked up by the periodic
`sweep` (backoff 30 s, 1, 2, 4 ... min, at most WEBHOOK_MAX_ATTEMPTS); an endpoint that keeps failing is
switched off after WEBHOOK_DISABLE_AFTER failed attempts in a row. A row is claimed (claimed_until) before
the HTTP call, so two workers never send the same delivery at once and no transaction stays open across
the network.
"""

from __future__ import annotations

import ipaddress
import json
import socket
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Sequence
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from crm.platform.errors import NotFound, ServiceError
from crm.platform.permissions import check_perm
from crm.tenants.accounts.models import User
from crm.tenants.accounts.services import audit

from . import signing
from .events import event_names
from .models import Delivery, DeliveryStatus, Endpoint

BODY_LIMIT = 2000
TIMEOUT_SECONDS = 5


def _setting(name: str, default: Any) -> Any:
    return getattr(settings, name, default)


# --- endpoints ------------------------------------------------------------------------------------------


def _private(host: str) -> bool:
    """True when `host` is, or resolves to, an address inside this network (loopback, private, link-local):
    a workspace must not make the server call its own neighbours."""
    try:
        infos = socket.getaddrinfo(host, None)
    except (socket.gaierror, UnicodeError):
        return False  # unresolvable now: delivery will fail and be retried, nothing is reached
    for info in infos:
        addr = ipaddress.ip_address(info[4][0])
        if addr.is_private or addr.is_loopback or addr.is_link_local or addr.is_reserved or addr.is_multicast:
            return True
    return False


def _clean(*, url: str, events: Sequence[str], description: str) -> tuple[str, list[str], str]:
    errors: dict[str, list[str]] = {}
    url = (url or "").strip()
    parts = urlsplit(url)
    allow_http = _setting("WEBHOOKS_ALLOW_HTTP", False)
    if parts.scheme not in (("http", "https") if allow_http else ("https",)) or not parts.hostname:
        errors["url"] = [_("Enter a full https:// address.") if not allow_http else _("Enter a full URL.")]
    elif "\x00" in url or len(url) > 500:
        errors["url"] = [_("Enter a valid URL of at most 500 characters.")]
    elif not _setting("WEBHOOKS_ALLOW_PRIVATE_TARGETS", False) and _private(parts.hostname):
        errors["url"] = [_("This address is inside a private network; webhooks go to public addresses only.")]
    known = event_names()
    chosen = sorted({str(e) for e in events})
    if not chosen:
        errors["events"] = [_("Choose at least one event.")]
    elif unknown := [e for e in chosen if e not in known]:
        errors["events"] = [_("Unknown event: %(names)s") % {"names": ", ".join(unknown)}]
    description = (description or "").strip()
    if len(description) > 200 or "\x00" in description:
        errors["description"] = [_("At most 200 characters.")]
    if errors:
        raise ServiceError(_("Please correct the errors below."), fields=errors)
    return url, chosen, description


def endpoint_create(*, actor: User, url: str, events: Sequence[str], description: str = "") -> Endpoint:
    check_perm(actor, "webhooks.manage")
    url, chosen, description = _clean(url=url, events=events, description=description)
    with transaction.atomic():
        endpoint = Endpoint.objects.create(url=url, events=chosen, description=description, created_by=actor)
        audit(actor=actor, action="webhook.create", target=endpoint, detail={"url": url, "events": chosen})
    return endpoint


def endpoint_get(*, actor: User, pk: int) -> Endpoint:
    check_perm(actor, "webhooks.manage")
    endpoint = Endpoint.objects.filter(pk=pk).first()
    if endpoint is None:
        raise NotFound(_("No such webhook endpoint."))
    return endpoint


def endpoint_update(
    *,
    actor: User,
    endpoint: Endpoint,
    url: str | None = None,
    events: Sequence[str] | None = None,
    description: str | None = None,
    is_active: bool | None = None,
) -> Endpoint:
    check_perm(actor, "webhooks.manage")
    url, chosen, description = _clean(
        url=endpoint.url if url is None else url,
        events=endpoint.events if events is None else events,
        description=endpoint.description if description is None else description,
    )
    with transaction.atomic():
        endpoint.url, endpoint.events, endpoint.description = url, chosen, description
        if is_active is not None and is_active != endpoint.is_active:
            endpoint.is_active = is_active
            if is_active:  # switched on again by a person: start counting afresh
                endpoint.consecutive_failures = 0
                endpoint.disabled_reason = ""
        endpoint.save()
        audit(actor=actor, action="webhook.update", target=endpoint, detail={"url": url, "events": chosen})
    return endpoint


def endpoint_rotate_secret(*, actor: User, endpoint: Endpoint) -> Endpoint:
    from .models import new_secret

    check_perm(actor, "webhooks.manage")
    with transaction.atomic():
        endpoint.secret = new_secret()
        endpoint.save(update_fields=["secret", "updated_at"])
        audit(actor=actor, action="webhook.rotate_secret", target=endpoint)
    return endpoint


def endpoint_delete(*, actor: User, endpoint: Endpoint) -> None:
    check_perm(actor, "webhooks.manage")
    with transaction.atomic():
        audit(actor=actor, action="webhook.delete", target=endpoint, detail={"url": endpoint.url})
        endpoint.delete()


def _workspace() -> str:
    """The workspace's slug (its address), as receivers know it; the schema name is internal."""
    from crm.tenants.models import Tenant

    tenant = getattr(connection, "tenant", None)
    slug = getattr(tenant, "slug", "")
    if not slug:
        schema = getattr(connection, "schema_name", "")
        slug = Tenant.objects.filter(schema_name=schema).values_list("slug", flat=True).first() or ""
    return str(slug)


# --- events -----------------------------------------------------------------------------------------------


def _envelope(event: str, data: dict[str, Any]) -> dict[str, Any]:
    """The JSON body every delivery of one event carries (the same id for every endpoint)."""
    return {
        "id": f"evt_{uuid.uuid4().hex}",
        "type": event,
        "created": timezone.now().isoformat(),
        "workspace": _workspace(),
        "data": data,
    }


def emit(event: str, *, data: dict[str, Any]) -> list[int]:
    """Record `event` for every active endpoint of this workspace subscribed to it, in the caller's
    transaction, and queue the first attempts on commit. Returns the delivery ids (none: nobody listens)."""
    if event not in event_names():
        raise ValueError(f"unknown webhook event {event!r}: declare it in a manifest's webhook_events")
    endpoints = list(Endpoint.objects.filter(is_active=True, events__contains=[event]).only("pk"))
    if not endpoints:
        return []
    body = _envelope(event, data)
    now = timezone.now()
    rows = Delivery.objects.bulk_create(
        [
            Delivery(endpoint=e, event=event, event_id=body["id"], payload=body, next_attempt_at=now)
            for e in endpoints
        ]
    )
    ids = [d.pk for d in rows]
    transaction.on_commit(lambda: _queue(ids))
    return ids


def _queue(ids: list[int]) -> None:
    from .tasks import deliver

    for pk in ids:
        try:
            deliver.delay(pk)
        except Exception:  # broker away: the periodic sweep sends it (the row is pending and due)
            return


def send_test(*, actor: User, endpoint: Endpoint) -> Delivery:
    """A `ping` event to this endpoint only, attempted right away; the result is on the delivery."""
    check_perm(actor, "webhooks.manage")
    body = _envelope("ping", {"message": "ping"})
    delivery = Delivery.objects.create(
        endpoint=endpoint, event="ping", event_id=body["id"], payload=body, next_attempt_at=timezone.now()
    )
    attempt(delivery_id=delivery.pk, force=True)
    delivery.refresh_from_db()
    return delivery


def delivery_retry(*, actor: User, delivery: Delivery) -> Delivery:
    """A person asks for one more try of a failed delivery (and its endpoint gets a fresh start)."""
    check_perm(actor, "webhooks.manage")
    Delivery.objects.filter(pk=delivery.pk).update(
        status=DeliveryStatus.PENDING, next_attempt_at=timezone.now(), claimed_until=None
    )
    attempt(delivery_id=delivery.pk, force=True)
    delivery.refresh_from_db()
    return delivery


# --- delivery ---------------------------------------------------------------------------------------------


def _claim(delivery_id: int, *, force: bool) -> bool:
    now = timezone.now()
    due = Q(next_attempt_at__lte=now) | Q(next_attempt_at__isnull=True)
    qs = Delivery.objects.filter(pk=delivery_id, status=DeliveryStatus.PENDING).filter(
        Q(claimed_until__isnull=True) | Q(claimed_until__lt=now)
    )
    if not force:
        qs = qs.filter(due, endpoint__is_active=True)
    return qs.update(claimed_until=now + timedelta(seconds=TIMEOUT_SECONDS * 6)) == 1


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # a redirect is an answer like any other: not followed (it could point anywhere)


_opener = urllib.request.build_opener(_NoRedirect)


def _post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int | None, str, str]:
    """(status, first part of the body, error) of one POST."""
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")  # noqa: S310 (validated)
    try:
        with _opener.open(request, timeout=TIMEOUT_SECONDS) as response:
            return response.status, response.read(BODY_LIMIT).decode("utf-8", "replace"), ""
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read(BODY_LIMIT).decode("utf-8", "replace"), ""
    except (urllib.error.URLError, TimeoutError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        return None, "", f"{type(exc).__name__}: {reason}"[:300]


def backoff(attempts: int) -> timedelta:
    return timedelta(seconds=min(30 * 2 ** max(attempts - 1, 0), 6 * 3600))


def attempt(*, delivery_id: int, force: bool = False) -> bool | None:
    """Try one delivery once. True: delivered; False: failed (a retry is scheduled or it gave up); None:
    nothing done (not pending, not due, endpoint off, or another worker holds it). Safe to call twice."""
    if not _claim(delivery_id, force=force):
        return None
    delivery = Delivery.objects.select_related("endpoint").get(pk=delivery_id)
    endpoint = delivery.endpoint
    body = json.dumps(delivery.payload, ensure_ascii=False, separators=(",", ":")).encode()
    headers = {
        "Content-Type": "application/json; charset=utf-8",
        "User-Agent": "SMB-CRM-Webhooks/1",
        "X-CRM-Event": delivery.event,
        "X-CRM-Delivery": str(delivery.pk),
        "X-CRM-Event-Id": delivery.event_id,
        signing.HEADER: signing.header_value(endpoint.secret, body),
    }
    started = time.perf_counter()
    code, text, error = _post(endpoint.url, body, headers)
    elapsed = int((time.perf_counter() - started) * 1000)
    ok = code is not None and 200 <= code < 300
    attempts = delivery.attempts + 1
    max_attempts = int(_setting("WEBHOOK_MAX_ATTEMPTS", 8))
    with transaction.atomic():
        fields: dict[str, Any] = {
            "attempts": attempts,
            "response_status": code,
            "response_body": text,
            "error": error,
            "duration_ms": elapsed,
            "claimed_until": None,
        }
        if ok:
            fields.update(status=DeliveryStatus.SUCCEEDED, delivered_at=timezone.now(), next_attempt_at=None)
        elif attempts >= max_attempts:
            fields.update(status=DeliveryStatus.FAILED, next_attempt_at=None)
        else:
            fields.update(next_attempt_at=timezone.now() + backoff(attempts))
        Delivery.objects.filter(pk=delivery.pk).update(**fields)
        locked = Endpoint.objects.select_for_update().get(pk=endpoint.pk)
        if ok:
            if locked.consecutive_failures:
                locked.consecutive_failures = 0
                locked.save(update_fields=["consecutive_failures", "updated_at"])
        else:
            locked.consecutive_failures += 1
            if locked.is_active and locked.consecutive_failures >= int(_setting("WEBHOOK_DISABLE_AFTER", 15)):
                locked.is_active = False
                locked.disabled_reason = _("Switched off after %(n)s failed deliveries in a row.") % {
                    "n": locked.consecutive_failures
                }
            locked.save(update_fields=["consecutive_failures", "is_active", "disabled_reason", "updated_at"])
    return ok


def sweep(*, limit: int = 100) -> int:
    """Attempt the due pending deliveries of this workspace (oldest first). Returns how many were tried."""
    now = timezone.now()
    due = list(
        Delivery.objects.filter(
            status=DeliveryStatus.PENDING, endpoint__is_active=True, next_attempt_at__lte=now
        )
        .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lt=now))
        .order_by("next_attempt_at", "id")
        .values_list("pk", flat=True)[:limit]
    )
    return sum(1 for pk in due if attempt(delivery_id=pk) is not None)
