"""Authentication against the current schema's user table (so logins are per tenant host)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.backends import ModelBackend
from django.http import HttpRequest


class EmailBackend(ModelBackend):
    def authenticate(
        self,
        request: HttpRequest | None,
        username: str | None = None,
        password: str | None = None,
        **kwargs: Any,
    ) -> Any:
        if username:
            username = username.strip().lower()
        return super().authenticate(request, username=username, password=password, **kwargs)


def axes_username(request: HttpRequest | None, credentials: dict[str, Any] | None = None) -> str:
    """The account django-axes counts failures for: the email as the backend sees it (trimmed, lower
    case), so varying the letter case does not buy an attacker fresh attempts."""
    value: Any = None
    if credentials:
        value = credentials.get("username")
    if value is None and request is not None:
        value = request.POST.get("username")
    return str(value or "").strip().lower()
