"""`make run`: embedded servers, migrations and demo data, then web + Celery worker + beat in one terminal.

Ctrl-C (or SIGTERM) stops the three processes and the embedded PostgreSQL/Redis this run started; servers
that were already running (another `make run`, DATABASE_URL/REDIS_URL) are left alone.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import FrameType

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
sys.path.insert(0, str(ROOT / "deploy"))

import embedded  # noqa: E402  (a sibling script, not a package)

DEMO_PASSWORD = "Demo-Pass-2026"


class Stop(Exception):
    """Raised by the SIGTERM handler so that cleanup runs as for Ctrl-C."""


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise Stop


def _manage(env: dict[str, str], *args: str) -> None:
    print(f"==> manage.py {' '.join(args)}", flush=True)
    subprocess.run([str(BIN / "python"), "manage.py", *args], cwd=ROOT, env=env, check=True)


def _demo_seed_exists() -> bool:
    return any(ROOT.glob("crm/**/management/commands/demo_seed.py"))


def _banner(env: dict[str, str], seeded: bool) -> str:
    domain = env.get("CRM_BASE_DOMAIN", "localhost")
    port = env.get("CRM_SITE_PORT", "8000")
    lines = [
        "",
        f"  Public site, pricing, signup: http://{domain}:{port}/",
        f"  Operator console:             http://{domain}:{port}/console/",
    ]
    if seeded:
        lines.append(f"  Demo workspaces and logins:   listed above (password {DEMO_PASSWORD})")
    else:
        lines.append("  No demo data (manage.py demo_seed is not there yet): sign up on the public site.")
    lines += ["  Ctrl-C stops everything this run started.", ""]
    return "\n".join(lines)


def _stop_all(procs: dict[str, subprocess.Popen[bytes]]) -> None:
    for proc in procs.values():
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    for name, proc in procs.items():
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            print(f"{name} did not stop in 20 s; killing it", flush=True)
            proc.kill()
            proc.wait()


def main() -> int:
    # Ctrl-C raises KeyboardInterrupt even when started with SIGINT ignored (e.g. from a script's `&`).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _on_sigterm)
    env = dict(os.environ)
    env.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.dev")
    port = env.setdefault("CRM_SITE_PORT", "8000")
    exports, started = embedded.ensure()
    env.update(exports)
    procs: dict[str, subprocess.Popen[bytes]] = {}
    code = 0
    try:
        _manage(env, "platform_setup")
        seeded = _demo_seed_exists()
        if seeded:
            _manage(env, "demo_seed")
        commands = {
            "web": [str(BIN / "python"), "manage.py", "runserver", f"0.0.0.0:{port}", "--noreload"],
            "worker": [str(BIN / "celery"), "-A", "config", "worker", "-l", "info", "--concurrency", "2"],
            "beat": [
                str(BIN / "celery"),
                "-A",
                "config",
                "beat",
                "-l",
                "info",
                "--schedule",
                str(embedded.DATA / "celerybeat-schedule"),
            ],
        }
        for name, command in commands.items():
            procs[name] = subprocess.Popen(command, cwd=ROOT, env=env)
        print(_banner(env, seeded), flush=True)
        while True:
            for name, proc in procs.items():
                if proc.poll() is not None:
                    print(f"{name} exited with {proc.returncode}; stopping the others", flush=True)
                    return proc.returncode or 1
            time.sleep(0.5)
    except (KeyboardInterrupt, Stop):
        # Ctrl-C reaches the whole foreground process group: the children are already stopping too.
        print("\nstopping ...", flush=True)
        code = 0
    except subprocess.CalledProcessError as exc:
        code = exc.returncode or 1
    finally:
        # Second Ctrl-C while cleaning up must not leave servers behind.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        _stop_all(procs)
        if started:
            print(f"stopping embedded {', '.join(started)}", flush=True)
            embedded.stop(started)
    return code


if __name__ == "__main__":
    sys.exit(main())
