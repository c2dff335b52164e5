"""Idempotency keys of the documents that capabilities post (stock moves, receipts, deliveries, payments).

One shape for all: "<module>:<kind>:<token>", where the token is what the caller retries with (an
Idempotency-Key header, a form's one-time token, a demo's fixed name) or, without one, a fresh uuid: a
call without a token is never merged with another. The token is cut to 150 characters so that the key
fits the 200-character columns whatever a client sends.
"""

from __future__ import annotations

import uuid

TOKEN_MAX = 150


def document_key(module: str, kind: str, token: str | None) -> str:
    return f"{module}:{kind}:{(token or '').strip()[:TOKEN_MAX] or uuid.uuid4().hex}"
