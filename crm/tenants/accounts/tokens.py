"""Password-reset tokens bound to the workspace: a token made on one tenant never validates on another,
even for a user with the same id there."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.tokens import PasswordResetTokenGenerator
from django.db import connection


class TenantPasswordResetTokenGenerator(PasswordResetTokenGenerator):
    def _make_hash_value(self, user: Any, timestamp: int) -> str:
        # django-tenants sets schema_name on the connection for every request and schema_context().
        schema = getattr(connection, "schema_name", "public")
        return f"{schema}:{super()._make_hash_value(user, timestamp)}"


tenant_token_generator = TenantPasswordResetTokenGenerator()
