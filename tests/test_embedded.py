"""The embedded PostgreSQL starts from a checkout in a folder nobody else may enter (a clone in /root, a
0700 folder), as root, without changing the permissions of any folder above the project (issue 13, 3)."""

from __future__ import annotations

import ast
import os
import socket
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.skipif(os.geteuid() != 0, reason="the private-folder case exists only for root")
def test_embedded_postgres_starts_from_a_private_folder_as_root() -> None:
    # Given: a project data folder inside a 0700 folder, and a server root of the test's own.
    private = Path(tempfile.mkdtemp(prefix="crm-private-"))
    private.chmod(0o700)
    server_root = Path(tempfile.mkdtemp(prefix="crm-embedded-"))
    server_root.chmod(0o755)
    modes_before = {p: stat.S_IMODE(p.stat().st_mode) for p in [private, *private.parents]}
    env = dict(
        os.environ,
        CRM_DATA_DIR=str(private / ".data"),
        CRM_PG_PORT=str(free_port()),
        CRM_REDIS_PORT=str(free_port()),
        CRM_EMBEDDED_ROOT=str(server_root),
    )
    env.pop("DATABASE_URL", None)
    env.pop("REDIS_URL", None)
    # When: a command runs with the embedded servers (started here, stopped afterwards).
    probe = (
        "import os, psycopg; c = psycopg.connect(os.environ['DATABASE_URL']);"
        "pid = c.execute('select pg_backend_pid()').fetchone()[0];"
        "status = open(f'/proc/{pid}/status').read().splitlines();"
        "print([l for l in status if l.startswith(('Uid:', 'Groups:'))]);"
        "print(c.execute('select current_user').fetchone()[0])"
    )
    result = subprocess.run(
        [sys.executable, str(ROOT / "deploy" / "embedded.py"), "run", "--", sys.executable, "-c", probe],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    # Then: the server answered, and no folder above (or at) the private one changed its mode.
    assert result.returncode == 0, result.stderr[-2000:]
    *_, ids, user = result.stdout.strip().splitlines()
    assert user == "postgres"
    # The server runs as the unprivileged user, with none of root's supplementary groups (the group bits of
    # a root folder must not let it in).
    uid_line, groups_line = ast.literal_eval(ids)
    assert uid_line.split()[1] != "0"
    assert groups_line.split()[1:] == []
    assert {p: stat.S_IMODE(p.stat().st_mode) for p in modes_before} == modes_before
    # Its data live in a folder the server user owns, outside the private folder.
    pgdirs = list(server_root.glob("data-*/pg"))
    assert len(pgdirs) == 1 and pgdirs[0].stat().st_uid != 0
    subprocess.run(["rm", "-rf", str(private), str(server_root)], check=False)
