"""One error shape for the whole API: {"error": {"code", "message", "fields"}}; 400s (bad input) add
"field_codes" (the same keys as "fields", each with machine-readable codes: required, max_length, invalid,
null, does_not_exist, ...), so that an integrator can branch on a code rather than on translated text."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.db import DataError
from django.http import Http404, HttpRequest, HttpResponse
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from crm.platform.errors import ServiceError
from crm.platform.middleware import error_payload


def _flatten(detail: Any, prefix: str = "") -> dict[str, list[str]]:
    """Field messages keyed by dotted path (``lines.0.quantity``): nested serializers' errors come out as
    text, never as the repr of DRF's ErrorDetail structures."""
    out: dict[str, list[str]] = {}
    if isinstance(detail, dict):
        for key, value in detail.items():
            out.update(_flatten(value, f"{prefix}.{key}" if prefix else str(key)))
    elif isinstance(detail, list):
        if all(not isinstance(x, (dict, list)) for x in detail):
            if prefix and detail:
                out[prefix] = [str(x) for x in detail]
        else:
            for i, value in enumerate(detail):
                out.update(_flatten(value, f"{prefix}.{i}" if prefix else str(i)))
    elif prefix:
        out[prefix] = [str(detail)]
    return out


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, ServiceError):
        fields = exc.fields or {}
        error = {"code": exc.code, "message": str(exc.message), "fields": fields}
        if exc.status == status.HTTP_400_BAD_REQUEST:
            error["field_codes"] = {key: [exc.code] * len(value) for key, value in fields.items()}
        return Response({"error": error}, status=exc.status)
    if isinstance(exc, DataError):
        # Input the database refused (a value out of range, a NUL byte in text a serializer let through):
        # the client's input, so a 400 rather than a 500; DRF rolls the request's transaction back.
        exc = exceptions.ValidationError(_("The database refused a value of this request."))
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    field_codes: dict[str, list[str]] = {}
    if isinstance(exc, exceptions.ValidationError):
        code, message, fields = "invalid", _("Please correct the errors."), _flatten(exc.detail)
        if isinstance(exc.detail, list):
            message = " ".join(str(x) for x in exc.detail)
        field_codes = {key: value for key, value in _flatten(exc.get_codes()).items() if key in fields}
    else:
        detail = getattr(exc, "detail", "")
        code = str(getattr(detail, "code", None) or getattr(exc, "default_code", "error"))
        message, fields = str(detail), {}
    response.data = {"error": {"code": code, "message": message, "fields": fields}}
    if response.status_code == status.HTTP_400_BAD_REQUEST:
        response.data["error"]["field_codes"] = field_codes
    if response.status_code == status.HTTP_429_TOO_MANY_REQUESTS:
        response.data["error"]["code"] = "throttled"
    return response


@csrf_exempt
def not_found(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
    """Unknown paths under /api/: the same JSON error shape as every other API error."""
    return error_payload("not_found", _("Not found."), 404)
