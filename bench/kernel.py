"""Kernel: document numbering throughput with two OS processes (numbers/s, checked gapless and unique),
and the approval guard's cost per transition (ms per "confirm" with vs without a matching rule).

Numbering runs in a throw-away schema cloned from the template; each number is its own transaction
holding the counter row lock, as a document creation does (BENCH_KERNEL_NUMBERS per process, default
2000). The guard needs a concrete document model: the only one is the test-only dummy module's order, so
that part runs in a child process with the test settings, in its own scratch clone where the dummy
tables are created by the schema editor (the template is not touched); BENCH_KERNEL_TRANSITIONS
documents per case (default 200).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

from bench._scratch import scratch_schema


def run() -> dict[str, Any]:
    from crm.kernel.numbering_worker import database_url, run_concurrently

    per_process = int(os.environ.get("BENCH_KERNEL_NUMBERS", "2000"))
    with scratch_schema("bench_krn") as schema:
        result = run_concurrently(
            schema=schema,
            doc_type="bench.numbering",
            per_process=per_process,
            processes=2,
            settings_module=os.environ.get("DJANGO_SETTINGS_MODULE"),
        )
    from django.db import connection

    env = dict(os.environ, DJANGO_SETTINGS_MODULE="config.settings.test")
    env["DATABASE_URL"] = database_url(connection.settings_dict)
    child = subprocess.run(
        [sys.executable, "-m", "bench._kernel_guard"],
        env=env,
        capture_output=True,
        timeout=1800,
        check=False,
    )
    if child.returncode != 0:
        guard: dict[str, Any] = {"error": child.stderr.decode()[-2000:]}
    else:
        guard = json.loads(child.stdout.decode().strip().splitlines()[-1])
    total = len(result["numbers"])
    return {
        "numbering": {
            "processes": 2,
            "numbers": total,
            # Both processes numbering at once (start-up excluded: the slower worker's loop time).
            "numbers_per_second": round(total / max(result["worker_seconds"]), 1),
            "worker_seconds": [round(s, 3) for s in result["worker_seconds"]],
            "wall_seconds_with_startup": round(result["wall_seconds"], 3),
            "gapless": result["gapless"],
            "unique": result["unique"],
        },
        "approval_guard": guard,
    }
