"""`make run`: web + Celery worker + beat in one terminal; Ctrl-C stops all of them and the embedded
servers this run started."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def main() -> int:
    env = dict(os.environ, DJANGO_SETTINGS_MODULE=os.environ.get("DJANGO_SETTINGS_MODULE", "config.settings.dev"))
    port = env.get("CRM_SITE_PORT", "8000")
    commands = {
        "web": [str(BIN / "python"), "manage.py", "runserver", f"0.0.0.0:{port}", "--noreload"],
        "worker": [str(BIN / "celery"), "-A", "config", "worker", "-l", "info", "--concurrency", "2"],
        "beat": [str(BIN / "celery"), "-A", "config", "beat", "-l", "info",
                 "--schedule", str(ROOT / ".data" / "celerybeat-schedule")],
    }
    procs = {name: subprocess.Popen(cmd, cwd=ROOT, env=env) for name, cmd in commands.items()}
    domain = env.get("CRM_BASE_DOMAIN", "localhost")
    print(f"\n  Public site and signup: http://{domain}:{port}/\n"
          f"  Operator console:       http://{domain}:{port}/console/  (ops@{domain}.example / see README)\n"
          f"  Demo workspaces:        http://<slug>.{domain}:{port}/  (run `python manage.py demo_seed --list`)\n"
          f"  Ctrl-C stops everything.\n", flush=True)
    stopping = False

    def stop(*_args: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    code = 0
    while not stopping:
        for name, proc in procs.items():
            if proc.poll() is not None:
                print(f"{name} exited with {proc.returncode}; stopping", flush=True)
                code = proc.returncode or 1
                stopping = True
        time.sleep(0.5)
    for proc in procs.values():
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    for proc in procs.values():
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
    subprocess.run([sys.executable, str(ROOT / "deploy" / "embedded.py"), "stop"], check=False)
    return code


if __name__ == "__main__":
    sys.exit(main())
