"""One OS process taking document numbers, for the concurrency test and `make bench` (section kernel).

    python -m crm.kernel.numbering_worker <schema> <doc_type> <count>     prints {"numbers": [...], "seconds"}
    python -m crm.kernel.numbering_worker <schema> <doc_type> --cleanup   deletes the doc type's counters

Each number is taken in its own transaction, as a document creation would. The database is the one
DATABASE_URL names (the caller passes the test or bench database).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from typing import Any
from urllib.parse import quote


def database_url(settings_dict: dict[str, Any]) -> str:
    user = quote(str(settings_dict.get("USER") or ""))
    password = settings_dict.get("PASSWORD")
    auth = f"{user}:{quote(str(password))}@" if password else (f"{user}@" if user else "")
    host = settings_dict.get("HOST") or "127.0.0.1"
    return f"postgres://{auth}{host}:{settings_dict.get('PORT') or 5432}/{settings_dict['NAME']}"


def run_concurrently(
    *, schema: str, doc_type: str, per_process: int, processes: int = 2, settings_module: str | None = None
) -> dict[str, Any]:
    """Start `processes` workers at once against this process's database; wait; clean up; return every
    number taken, the wall time and whether they are gapless and unique."""
    from django.db import connection

    env = dict(os.environ)
    env["DATABASE_URL"] = database_url(connection.settings_dict)
    env["DJANGO_SETTINGS_MODULE"] = settings_module or os.environ.get("DJANGO_SETTINGS_MODULE", "")
    cmd = [sys.executable, "-m", "crm.kernel.numbering_worker", schema, doc_type]
    started = time.perf_counter()
    workers = [
        subprocess.Popen(  # noqa: S603 - our own module with our own arguments
            [*cmd, str(per_process)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        for _ in range(processes)
    ]
    outputs = [w.communicate(timeout=600) for w in workers]
    wall = time.perf_counter() - started
    try:
        for worker, (_out, err) in zip(workers, outputs, strict=True):
            if worker.returncode != 0:
                raise RuntimeError(f"numbering worker failed: {err.decode()[-2000:]}")
        results = [json.loads(out.decode().strip().splitlines()[-1]) for out, _ in outputs]
    finally:
        cleanup = [*cmd, "--cleanup"]
        subprocess.run(cleanup, env=env, check=True, capture_output=True, timeout=120)  # noqa: S603
    numbers = [n for r in results for n in r["numbers"]]
    serials = sorted(int(n.rsplit("-", 1)[1]) for n in numbers)
    return {
        "per_process": [r["numbers"] for r in results],
        "numbers": numbers,
        "wall_seconds": wall,
        "worker_seconds": [r["seconds"] for r in results],
        "unique": len(set(numbers)) == len(numbers),
        "gapless": serials == list(range(1, len(numbers) + 1)),
    }


def main(argv: list[str]) -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")
    import django

    django.setup()
    from django.db import connection, transaction

    from crm.kernel.models import NumberSequence
    from crm.kernel.numbering import number_next

    schema, doc_type, count = argv[0], argv[1], argv[2]
    # The schema alone (a bench's scratch schema has no tenant row): the year is then Asia/Shanghai's.
    connection.set_schema(schema)  # type: ignore[attr-defined]
    if count == "--cleanup":
        NumberSequence.objects.filter(doc_type=doc_type).delete()
        return 0
    numbers = []
    started = time.perf_counter()
    for _ in range(int(count)):
        with transaction.atomic():
            numbers.append(number_next(doc_type=doc_type, prefix="CC"))
    print(json.dumps({"numbers": numbers, "seconds": time.perf_counter() - started}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
