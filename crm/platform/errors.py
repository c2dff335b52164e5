"""Service-layer errors: a code for machines, a translated message for people."""

from __future__ import annotations

from typing import Any


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


def show_on_form(form: Any, exc: ServiceError) -> None:
    """Show a service refusal on a Django form: each per-field message next to its field (at the top when
    the form has no such field), the general message at the top when there are no per-field ones."""
    for field, messages in exc.fields.items():
        for message in messages:
            form.add_error(field if field in form.fields else None, message)
    if not exc.fields:
        form.add_error(None, str(exc.message))
