"""`make test` runs on two pytest-xdist workers (`-n 2 --dist loadgroup`); this plugin keeps that safe.

- Groups: tests that share an expensive server of their own run on one worker: the browser tests (one
  live server and Chromium per package), the fault tests (their own Redis and Celery worker), the OpenAPI
  schema tests (one generated schema per module).
- Exclusive tests (`@pytest.mark.exclusive`) restart or stop the PostgreSQL server both workers use. They
  take a run-wide write lock, so the other worker waits between two tests, with no transaction open,
  until the server is back; it then drops its dead connections before its next test. Every other test
  takes the lock shared. A turnstile keeps a waiting exclusive test from being starved by shared ones.

Without xdist (a plain `pytest`, or `-p no:xdist`) nothing here does anything but the grouping marks.
"""

from __future__ import annotations

import fcntl
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

GROUPS = (
    ("tests/e2e/", "e2e"),
    ("tests/test_faults.py", "faults"),
    ("tests/test_faults_db.py", "faults-db"),
    ("tests/test_openapi.py", "openapi"),
)


def pytest_configure(config: pytest.Config) -> None:
    # Known to --strict-markers also when xdist is not loaded (`-p no:xdist`), where the mark does nothing.
    config.addinivalue_line("markers", "xdist_group(name): run these tests on one xdist worker")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    root = Path(str(config.rootpath))
    for item in items:
        rel = Path(str(item.path)).relative_to(root).as_posix()
        for prefix, group in GROUPS:
            if rel.startswith(prefix):
                item.add_marker(pytest.mark.xdist_group(group))
                break


class _RunLock:
    """A readers-writer lock shared by the workers of one run (flock on files named by the run's id)."""

    def __init__(self, run_id: str) -> None:
        base = Path(tempfile.gettempdir()) / f"crm-test-run-{run_id}"
        self.turnstile = open(f"{base}.turnstile", "a+")  # noqa: SIM115 - held for the worker's life
        self.lock = open(f"{base}.lock", "a+")  # noqa: SIM115
        self.generation_path = Path(f"{base}.generation")
        self.seen = self._generation()

    def _generation(self) -> str:
        try:
            return self.generation_path.read_text()
        except FileNotFoundError:
            return ""

    def acquire(self, exclusive: bool) -> None:
        fcntl.flock(self.turnstile, fcntl.LOCK_EX)
        try:
            fcntl.flock(self.lock, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        finally:
            fcntl.flock(self.turnstile, fcntl.LOCK_UN)
        current = self._generation()
        if current != self.seen:
            # An exclusive test restarted the database since this worker's last test: its connections
            # are dead. Close them; Django opens new ones on the next query.
            from django.db import connections

            connections.close_all()
            self.seen = current

    def release(self, exclusive: bool) -> None:
        if exclusive:
            self.seen = str(int(self._generation() or 0) + 1)
            self.generation_path.write_text(self.seen)
        fcntl.flock(self.lock, fcntl.LOCK_UN)


_lock: _RunLock | None = None


def _run_lock(config: pytest.Config) -> _RunLock | None:
    global _lock
    workerinput: dict[str, Any] | None = getattr(config, "workerinput", None)
    if workerinput is None:
        return None
    if _lock is None:
        _lock = _RunLock(str(workerinput["testrunuid"]))
    return _lock


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    lock = _run_lock(item.config)
    if lock is None:
        yield
        return
    exclusive = item.get_closest_marker("exclusive") is not None
    lock.acquire(exclusive)
    try:
        yield
    finally:
        lock.release(exclusive)
