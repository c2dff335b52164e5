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
