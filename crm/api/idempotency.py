"""`Idempotency-Key` on every API POST: a retried request with the same key gets the first response again
(header `Idempotent-Replayed: true`) and nothing is created twice.

As payment APIs do it: the key is scoped to the workspace and the caller (API key or signed-in user); the
same key with a different method, path or body answers 422 `idempotency_key_reused`; while the first
request is still running a retry answers 409 `idempotency_in_progress`; a first answer of 5xx is not kept
(nothing was written: the request ran in a transaction), so the retry runs again. Records expire after
IDEMPOTENCY_TTL_HOURS (24) and are purged by a periodic task.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from django.utils.translation import gettext as _

HEADER = "Idempotency-Key"
MAX_BODY = 1_000_000  # larger answers are not kept (their retry runs again)


def _error(status: int, code: str, message: str) -> JsonResponse:
    return JsonResponse({"error": {"code": code, "message": message, "fields": {}}}, status=status)


def _principal(request: HttpRequest) -> str | None:
    auth = request.headers.get("Authorization", "")
    if auth:
        return hashlib.sha256(auth.encode()).hexdigest()
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        return f"user:{user.pk}"
    return None  # anonymous: the request will be refused anyway; nothing to remember


def _ttl() -> timedelta:
    return timedelta(hours=int(getattr(settings, "IDEMPOTENCY_TTL_HOURS", 24)))


class IdempotencyMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        key = request.headers.get(HEADER)
        schema = getattr(connection, "schema_name", "public")
        if (
            key is None
            or request.method != "POST"
            or not request.path.startswith("/api/")
            or schema == "public"
        ):
            return self.get_response(request)
        if not key or len(key) > 255 or not key.isprintable():
            return _error(
                400,
                "invalid_idempotency_key",
                _("The Idempotency-Key header must be 1 to 255 printable characters."),
            )
        principal = _principal(request)
        if principal is None:
            return self.get_response(request)
        return self._handle(request, schema=schema, principal=principal, key=key)

    def _handle(self, request: HttpRequest, *, schema: str, principal: str, key: str) -> HttpResponse:
        from crm.platform.models import IdempotencyRecord

        digest = hashlib.sha256(f"{request.method} {request.path}\n".encode() + request.body).hexdigest()
        records = IdempotencyRecord.objects.filter(schema_name=schema, principal=principal, key=key)
        records.filter(created_at__lt=timezone.now() - _ttl()).delete()  # an expired key starts afresh
        try:
            with transaction.atomic():
                record = IdempotencyRecord.objects.create(
                    schema_name=schema, principal=principal, key=key, request_hash=digest
                )
        except IntegrityError:
            first = records.first()
            if first is None:  # expired and purged between the two statements: run it
                return self.get_response(request)
            if first.request_hash != digest:
                return _error(
                    422,
                    "idempotency_key_reused",
                    _("This Idempotency-Key was used for a different request; use a new key."),
                )
            if first.status_code is None:
                return _error(
                    409,
                    "idempotency_in_progress",
                    _("A request with this Idempotency-Key is still being processed; retry shortly."),
                )
            replay = HttpResponse(
                bytes(first.body), status=first.status_code, content_type=first.content_type
            )
            replay["Idempotent-Replayed"] = "true"
            return replay
        try:
            response = self.get_response(request)
        except Exception:
            IdempotencyRecord.objects.filter(pk=record.pk).delete()
            raise
        body = getattr(response, "content", None) if not getattr(response, "streaming", False) else None
        if response.status_code >= 500 or body is None or len(body) > MAX_BODY:
            IdempotencyRecord.objects.filter(pk=record.pk).delete()
        else:
            IdempotencyRecord.objects.filter(pk=record.pk).update(
                status_code=response.status_code,
                content_type=response.get("Content-Type", "")[:100],
                body=body,
            )
        return response


def purge() -> int:
    """Delete records older than the time-to-live; returns how many."""
    from crm.platform.models import IdempotencyRecord

    deleted, _rows = IdempotencyRecord.objects.filter(created_at__lt=timezone.now() - _ttl()).delete()
    return deleted


def document_header(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict[str, Any]:
    """drf-spectacular post-processing hook: the optional header and its two answers on every POST."""
    parameter = {
        "in": "header",
        "name": HEADER,
        "required": False,
        "schema": {"type": "string", "minLength": 1, "maxLength": 255},
        "description": "Send the same key again to retry safely: the first response is replayed (24 hours).",
    }
    ref = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    for operations in result.get("paths", {}).values():
        post = operations.get("post")
        if post is None:
            continue
        post.setdefault("parameters", []).append(parameter)
        responses = post.setdefault("responses", {})
        responses.setdefault(
            "409", {"description": "A request with this key is still running.", "content": ref}
        )
        responses.setdefault(
            "422", {"description": "This key was used for a different request.", "content": ref}
        )
    return result
