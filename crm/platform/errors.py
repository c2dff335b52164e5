"""Service-layer errors: a code for machines, a translated message for people."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


class ServiceError(Exception):
    """A business rule refused the request; nothing was changed."""

    code = "invalid"
    status = 400

    def __init__(
        self,
        message: Any,
        *,
        code: str | None = None,
        field: str | None = None,
        fields: dict[str, list[str]] | None = None,
    ) -> None:
        super().__init__(str(message))
        self.message = message
        if code:
            self.code = code
        self.field = field
        self.fields = fields or ({field: [str(message)]} if field else {})


class PermissionDenied(ServiceError):
    code = "permission_denied"
    status = 403


class NotFound(ServiceError):
    code = "not_found"
    status = 404


class ReadOnly(ServiceError):
    code = "tenant_read_only"
    status = 423


def flash_call(request: Any, call: Callable[[], T], success: str | Callable[[T], str] | None = None) -> bool:
    """Run a service call for a view that answers with a redirect: a refusal becomes an error message (the
    service changed nothing), success the `success` message (a text, or made from the call's result).
    Returns whether the call went through."""
    from django.contrib import messages

    try:
        result = call()
    except ServiceError as exc:
        messages.error(request, str(exc.message))
        return False
    if success is not None:
        messages.success(request, success(result) if callable(success) else success)
    return True


def show_on_form(form: Any, exc: ServiceError) -> None:
    """Show a service refusal on a Django form: each per-field message next to its field (at the top when
    the form has no such field), the general message at the top when there are no per-field ones."""
    for field, messages in exc.fields.items():
        for message in messages:
            form.add_error(field if field in form.fields else None, message)
    if not exc.fields:
        form.add_error(None, str(exc.message))
