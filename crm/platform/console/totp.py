"""Time-based one-time passwords (RFC 6238 over RFC 4226 HOTP) for the operators' second factor.

Small enough to own: HMAC-SHA1, 30-second steps, 6 digits, base32 secrets, the format every authenticator
app reads from an otpauth:// URI.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import struct
import time
from urllib.parse import quote, urlencode

STEP_SECONDS = 30
DIGITS = 6
# Accept the previous and the next step too: phones and servers drift by a few seconds.
WINDOW = 1


def generate_secret() -> str:
    """A new random secret, base32 without padding (160 bits, the size RFC 4226 recommends)."""
    return base64.b32encode(secrets.token_bytes(20)).decode("ascii").rstrip("=")


def _key(secret: str) -> bytes:
    cleaned = secret.replace(" ", "").upper()
    return base64.b32decode(cleaned + "=" * (-len(cleaned) % 8))


def hotp(key: bytes, counter: int, *, digits: int = DIGITS, digest: str = "sha1") -> str:
    """RFC 4226: HMAC the 8-byte counter, dynamically truncate, keep the last `digits` decimal digits."""
    mac = hmac.new(key, struct.pack(">Q", counter), getattr(hashlib, digest)).digest()
    offset = mac[-1] & 0x0F
    code = struct.unpack(">I", mac[offset : offset + 4])[0] & 0x7FFFFFFF
    return str(code % 10**digits).zfill(digits)


def counter_at(at: float) -> int:
    return int(at // STEP_SECONDS)


def totp(secret: str, *, at: float | None = None, digits: int = DIGITS) -> str:
    """The code for the step containing `at` (default: now)."""
    return hotp(_key(secret), counter_at(time.time() if at is None else at), digits=digits)


def match(secret: str, code: str, *, at: float | None = None) -> int | None:
    """The step counter whose code equals `code` within ±WINDOW steps of `at`, or None.

    The caller stores accepted counters so a code cannot be replayed (RFC 6238 section 5.2).
    """
    code = (code or "").strip().replace(" ", "")
    if len(code) != DIGITS or not code.isdigit():
        return None
    try:
        key = _key(secret)
    except (ValueError, TypeError):
        return None
    now = counter_at(time.time() if at is None else at)
    for counter in range(now - WINDOW, now + WINDOW + 1):
        # Constant-time comparison: the code is a secret until it is used.
        if hmac.compare_digest(hotp(key, counter), code):
            return counter
    return None


def provisioning_uri(secret: str, *, account: str, issuer: str) -> str:
    """otpauth://totp/<issuer>:<account>?secret=...: what authenticator apps scan (as a QR code) or accept."""
    label = quote(f"{issuer}:{account}")
    query = urlencode(
        {"secret": secret, "issuer": issuer, "algorithm": "SHA1", "digits": DIGITS, "period": STEP_SECONDS}
    )
    return f"otpauth://totp/{label}?{query}"
