"""Authentication against the current schema's user table (so logins are per tenant host)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.backends import ModelBackend
from django.http import HttpRequest


class EmailBackend(ModelBackend):
    def authenticate(self, request: HttpRequest | None, username: str | None = None,
                     password: str | None = None, **kwargs: Any) -> Any:
        if username:
            username = username.strip().lower()
        return super().authenticate(request, username=username, password=password, **kwargs)
