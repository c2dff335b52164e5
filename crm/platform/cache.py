"""A Redis cache that never takes the site down with it.

Every read has a short socket timeout and treats a Redis error as a miss; every write is dropped with a log
line. After one error the cache is skipped for `BREAKER_SECONDS` (per process), so a hung Redis costs one
timeout per process every few seconds instead of one per cache call. After that window the next call tries
Redis again: when Redis is back, nothing needs a restart (redis-py reconnects on the next command).

What each caller does on a miss decides the direction it degrades in (deploy/docs/runbook.md, "Faults"):
- enabled modules, permissions, import progress: read from the database;
- API throttling: no history, the request is let through (fails open);
- one-time tokens (TOTP replay, console hand-off) use `add()`: it answers False when Redis is away, so the
  token is refused (fails closed);
- login lockout (django-axes) keeps its counters in the database, not the cache: unchanged.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from django.core.cache.backends.redis import RedisCache
from redis.backoff import NoBackoff
from redis.exceptions import RedisError
from redis.retry import Retry

log = logging.getLogger(__name__)

BREAKER_SECONDS = 5.0
CACHE_ERRORS = (RedisError, OSError)


class ResilientRedisCache(RedisCache):
    """Django's Redis cache with short timeouts, no client retries, errors as misses and a breaker."""

    _lock = threading.Lock()
    _down_until = 0.0  # shared by every instance in the process (one Redis)

    def __init__(self, server: str, params: dict[str, Any]) -> None:
        options = dict(params.get("OPTIONS") or {})
        options.setdefault("socket_connect_timeout", 0.25)
        options.setdefault("socket_timeout", 0.25)
        # redis-py retries a failed command with backoff by default (seconds per call when Redis hangs).
        options.setdefault("retry", Retry(NoBackoff(), 0))
        super().__init__(server, {**params, "OPTIONS": options})

    @classmethod
    def is_down(cls) -> bool:
        return time.monotonic() < cls._down_until

    @classmethod
    def _trip(cls, op: str, exc: BaseException) -> None:
        with cls._lock:
            was_up = not cls.is_down()
            cls._down_until = time.monotonic() + BREAKER_SECONDS
        if was_up:
            log.warning("cache unavailable (%s: %s); serving without it for %ss", op, exc, BREAKER_SECONDS)

    @classmethod
    def reset_breaker(cls) -> None:
        cls._down_until = 0.0

    def _safe(self, op: str, default: Any, func: Any, *args: Any, **kwargs: Any) -> Any:
        if self.is_down():
            return default
        try:
            return func(*args, **kwargs)
        except CACHE_ERRORS as exc:
            self._trip(op, exc)
            return default

    def get(self, key: Any, default: Any = None, version: int | None = None) -> Any:
        return self._safe("get", default, super().get, key, default, version)

    def get_many(self, keys: Any, version: int | None = None) -> Any:
        return self._safe("get_many", {}, super().get_many, keys, version)

    def has_key(self, key: Any, version: int | None = None) -> bool:
        return bool(self._safe("has_key", False, super().has_key, key, version))

    def set(self, key: Any, value: Any, timeout: Any = 300, version: int | None = None) -> None:
        self._safe("set", None, super().set, key, value, timeout, version)

    def add(self, key: Any, value: Any, timeout: Any = 300, version: int | None = None) -> bool:
        # False = "already there": callers using add() as a once-only guard refuse while Redis is away.
        return bool(self._safe("add", False, super().add, key, value, timeout, version))

    def set_many(self, data: Any, timeout: Any = 300, version: int | None = None) -> list[Any]:
        return list(self._safe("set_many", list(data), super().set_many, data, timeout, version))

    def touch(self, key: Any, timeout: Any = 300, version: int | None = None) -> bool:
        return bool(self._safe("touch", False, super().touch, key, timeout, version))

    def delete(self, key: Any, version: int | None = None) -> bool:
        # A delete lost while Redis is away (module cache invalidation) is bounded by the entry's timeout.
        return bool(self._safe("delete", False, super().delete, key, version))

    def delete_many(self, keys: Any, version: int | None = None) -> None:
        self._safe("delete_many", None, super().delete_many, keys, version)

    def incr(self, key: Any, delta: int = 1, version: int | None = None) -> int:
        missing = object()
        value = self._safe("incr", missing, super().incr, key, delta, version)
        if value is missing:
            raise ValueError("cache unavailable")  # what callers already handle for a missing key
        return int(value)

    def clear(self) -> None:
        self._safe("clear", None, super().clear)

    def ping(self) -> bool:
        """Whether Redis answers now (ignores and resets the breaker): the health endpoint's probe."""
        try:
            client = self._cache.get_client(write=False)  # type: ignore[attr-defined]
            ok = bool(client.ping())
        except CACHE_ERRORS:
            return False
        if ok:
            self.reset_breaker()
        return ok
