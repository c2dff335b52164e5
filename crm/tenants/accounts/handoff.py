"""One-time login links across hosts: signup (public host) lands the owner logged in on the tenant host,
and an operator's support session starts on the tenant host. Signed, short-lived, single use."""

from __future__ import annotations

import secrets
from typing import Any

from django.core import signing
from django.core.cache import cache
from django_tenants.utils import schema_context

MAX_AGE_SECONDS = 120


def _salt(schema: str) -> str:
    return f"crm.handoff:{schema}"


def make_token(*, schema: str, user_id: int, purpose: str, extra: dict[str, Any] | None = None) -> str:
    payload = {"u": user_id, "p": purpose, "j": secrets.token_hex(8), **(extra or {})}
    return signing.dumps(payload, salt=_salt(schema), compress=True)


def consume_token(*, schema: str, token: str) -> dict[str, Any] | None:
    """The payload if the token is valid for this schema, fresh and unused; None otherwise."""
    try:
        payload = signing.loads(token, salt=_salt(schema), max_age=MAX_AGE_SECONDS)
    except signing.BadSignature:
        return None
    with schema_context(schema):
        # add() is atomic in Redis: only the first use of a token wins.
        if not cache.add(f"handoff-used:{payload['j']}", 1, MAX_AGE_SECONDS * 2):
            return None
    return dict(payload)
