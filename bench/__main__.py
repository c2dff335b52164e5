"""Run every benchmark section (or the ones named on the command line) and print ONE JSON document.

A section that fails or does not exist is reported as {"error": ...} in its slot; the others still run.
"""

from __future__ import annotations

import importlib
import json
import os
import pkgutil
import sys
import time
import traceback
from typing import Any


def discover() -> list[str]:
    import bench

    return sorted(m.name for m in pkgutil.iter_modules(bench.__path__) if not m.name.startswith("_"))


def run_section(name: str) -> dict[str, Any]:
    try:
        module = importlib.import_module(f"bench.{name}")
    except ModuleNotFoundError as exc:
        if exc.name == f"bench.{name}":
            return {"error": f"unknown section {name!r}; known: {', '.join(discover())}"}
        raise
    run = getattr(module, "run", None)
    if not callable(run):
        return {"error": f"bench.{name} has no run() function"}
    started = time.perf_counter()
    result = dict(run())
    result.setdefault("section_seconds", round(time.perf_counter() - started, 2))
    return result


def main(argv: list[str]) -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.dev")
    import django

    django.setup()
    names = argv or discover()
    report: dict[str, Any] = {}
    for name in names:
        try:
            report[name] = run_section(name)
        except Exception as exc:  # a broken section must not hide the others' numbers
            report[name] = {
                "error": f"{type(exc).__name__}: {exc}",
                "traceback": traceback.format_exc(limit=5),
            }
    print(json.dumps(report, indent=2, ensure_ascii=False, default=str))
    # Still one complete JSON document on stdout; the exit status tells scripts something went wrong.
    return 1 if any("error" in section for section in report.values()) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
