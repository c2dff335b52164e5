"""Runs of migrate_tenants as heartbeat jobs (issue 14, item 3: migrations of tenants): the command records
its run with progress; a run whose process died is resumed by the jobs sweeper and completes once; one
migrator at a time; the operator console shows the last runs."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from django.db import connections
from django.test import Client
from django.utils import timezone
from django_tenants.utils import schema_context

from crm.platform.jobs import jobs_sweep
from crm.tenants.migration_runs import LOCK_KEY, migration_run_resume
from crm.tenants.models import MigrationRun

pytestmark = pytest.mark.django_db


def _console(user: Any) -> Client:
    client = Client(HTTP_HOST="localhost", HTTP_ACCEPT_LANGUAGE="en")
    with schema_context("public"):
        client.force_login(user, backend="crm.tenants.accounts.backends.EmailBackend")
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    return client


def test_the_command_records_its_run_and_the_console_shows_it(alpha, beta, operator):
    # When the operator migrates two workspaces that are already current
    call_command("migrate_tenants", "--schema", alpha.schema, "--schema", beta.schema, "--workers", "1")
    # Then the run is recorded as done, with both found current and nothing failed
    run = MigrationRun.objects.get()
    assert (run.status, run.migrated, run.current, run.failed_schemas) == ("done", 0, 2, [])
    assert run.schemas == sorted([alpha.schema, beta.schema]) and run.finished_at and run.heartbeat_at
    # And the console's overview shows it
    page = _console(operator).get("/console/").content.decode()
    assert 'data-testid="migration-run" data-status="done"' in page
    assert "0 migrated, 2 already current" in page


def test_a_run_whose_process_died_is_resumed_once_by_the_sweeper(alpha, django_capture_on_commit_callbacks):
    # Given a run whose command was killed: running, its heartbeat stopped ten minutes ago
    old = timezone.now() - timedelta(minutes=10)
    run = MigrationRun.objects.create(
        status="running", schemas=[alpha.schema], workers=2, started_at=old, heartbeat_at=old, total=1
    )
    # When the jobs sweeper runs (the requeued task runs in process here)
    with django_capture_on_commit_callbacks(execute=True):
        assert jobs_sweep()["requeued"] == 1
    # Then the run went again and is done, marked as resumed after one interruption
    run.refresh_from_db()
    assert (run.status, run.recovery, run.attempts, run.current) == ("done", "resumed", 1, 1)
    # And a second delivery of the requeued task finds nothing to claim
    assert migration_run_resume(run.pk) is None
    assert MigrationRun.objects.count() == 1


def test_a_run_that_keeps_dying_is_failed_with_the_reason(alpha):
    old = timezone.now() - timedelta(minutes=10)
    run = MigrationRun.objects.create(
        status="running", schemas=[alpha.schema], started_at=old, heartbeat_at=old, attempts=3
    )
    assert jobs_sweep()["failed"] == 1
    run.refresh_from_db()
    assert (run.status, run.recovery) == ("failed", "gave_up")
    assert "stopped" in run.recovery_reason


def test_one_migrator_at_a_time(alpha):
    # Given another migrator holds the lock (a second deploy job, or the original of a requeued run)
    other = connections.create_connection("default")
    try:
        with other.cursor() as cur:
            cur.execute("SELECT pg_advisory_lock(%s)", [LOCK_KEY])
        # When the command runs, it refuses and records why; nothing else happens
        with pytest.raises(CommandError, match="another migrate_tenants"):
            call_command("migrate_tenants", "--schema", alpha.schema, "--workers", "1")
        run = MigrationRun.objects.get()
        assert run.status == "failed" and "another" in run.error
        # And a requeued run finds the live migrator and leaves the row to it
        queued = MigrationRun.objects.create(status="queued", schemas=[alpha.schema])
        assert migration_run_resume(queued.pk) is None
        queued.refresh_from_db()
        assert queued.status == "running" and queued.finished_at is None
    finally:
        other.close()
