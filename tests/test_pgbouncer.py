"""The cross-tenant walk through a real PgBouncer (issue 13, section 4; deploy/docs/runbook.md, scale path).

The runbook recommends PgBouncer in *session* mode and warns that *transaction* mode leaks `search_path`
between clients, because django-tenants sends `SET search_path` as a statement of its own before each
query. Both claims are checked here against Debian's pgbouncer (installed by `make test`, like chromium):

1. Session mode, at most 2 server connections: a real server process (`manage.py runserver`) reaches the
   test database only through pgbouncer; alpha's owner walks every GET route of the tenant urlconf on
   beta's host and gets nothing, and interleaved concurrent requests for alpha and beta (more clients than
   server connections, so the two server connections serve both tenants in turn) always see their own data.
2. Transaction mode: the leak is real. Two Django connections (django-tenants' own backend) each set their
   tenant; alpha's next query runs on the server connection that carries beta's `search_path` and reads
   beta's users. The same sequence in session mode reads alpha's.

The tenants are the session fixtures alpha and beta (committed, so another process sees them).
"""

from __future__ import annotations

import http.client
import os
import pwd
import re
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import psycopg
import pytest
from django.db import connection
from django_tenants.postgresql_backend.base import DatabaseWrapper

from tests import urlwalk
from tests.fixtures import PASSWORD

ROOT = Path(__file__).resolve().parent.parent
PGBOUNCER = shutil.which("pgbouncer") or (
    "/usr/sbin/pgbouncer" if Path("/usr/sbin/pgbouncer").exists() else ""
)
# The password clients give pgbouncer (its auth file); pgbouncer logs in to the trust-auth test server.
POOL_PASSWORD = "pgb-" + secrets.token_hex(8)
DENIED = {401, 403, 404, 405}
LOGIN = "/auth/login/"

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(
        not PGBOUNCER, reason="pgbouncer is not installed (`make test` installs Debian's package)"
    ),
]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_for_port(port: int, proc: subprocess.Popen[Any], what: str, log: Path, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(
                f"{what} exited with {proc.returncode}:\n{log.read_text(errors='replace')[-3000:]}"
            )
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise AssertionError(f"{what} did not listen on {port}:\n{log.read_text(errors='replace')[-3000:]}")


@dataclass
class Bouncer:
    port: int
    dbname: str

    def settings_dict(self) -> dict[str, Any]:
        """The test database's settings, reached through pgbouncer (a new connection alias's settings)."""
        return {
            **connection.settings_dict,
            "HOST": "127.0.0.1",
            "PORT": str(self.port),
            "PASSWORD": POOL_PASSWORD,
        }

    @property
    def url(self) -> str:
        user = connection.settings_dict["USER"]
        return f"postgres://{user}:{POOL_PASSWORD}@127.0.0.1:{self.port}/{self.dbname}"

    def admin(self, command: str) -> list[dict[str, Any]]:
        """A `SHOW ...` on pgbouncer's admin console (simple query protocol: a client-side cursor)."""
        with psycopg.connect(
            host="127.0.0.1",
            port=self.port,
            user=connection.settings_dict["USER"],
            password=POOL_PASSWORD,
            dbname="pgbouncer",
            autocommit=True,
            cursor_factory=psycopg.ClientCursor,
        ) as conn:
            cur = conn.execute(command)
            names = [c.name for c in cur.description or []]
            return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


@contextmanager
def pgbouncer(mode: str, pool_size: int) -> Iterator[Bouncer]:
    """A pgbouncer in `mode` with at most `pool_size` server connections to the test database, on a free
    port, with its own config and auth file in a temporary folder; stopped afterwards."""
    db = connection.settings_dict
    user = db["USER"]
    port = _free_port()
    folder = Path(tempfile.mkdtemp(prefix="crm-pgbouncer-"))
    ini = folder / "pgbouncer.ini"
    (folder / "userlist.txt").write_text(f'"{user}" "{POOL_PASSWORD}"\n')
    ini.write_text(
        f"[databases]\n{db['NAME']} = host={db['HOST'] or '127.0.0.1'} port={db['PORT'] or 5432} "
        f"dbname={db['NAME']}\n"
        "[pgbouncer]\n"
        f"listen_addr = 127.0.0.1\nlisten_port = {port}\nunix_socket_dir =\n"
        f"auth_type = md5\nauth_file = {folder / 'userlist.txt'}\nadmin_users = {user}\n"
        f"pool_mode = {mode}\ndefault_pool_size = {pool_size}\nmax_db_connections = {pool_size}\n"
        "min_pool_size = 0\nreserve_pool_size = 0\nmax_client_conn = 100\n"
        "ignore_startup_parameters = extra_float_digits,options\n"
        f"logfile = {folder / 'pgbouncer.log'}\npidfile = {folder / 'pgbouncer.pid'}\n"
    )
    log = folder / "pgbouncer.log"
    log.touch()
    kwargs: dict[str, Any] = {}
    if os.getuid() == 0:  # pgbouncer refuses to run as root
        nobody = pwd.getpwnam("nobody")
        for path in (folder, *folder.iterdir()):
            os.chown(path, nobody.pw_uid, nobody.pw_gid)
        kwargs = {"user": nobody.pw_uid, "group": nobody.pw_gid, "extra_groups": []}
    proc = subprocess.Popen(
        [PGBOUNCER, str(ini)], stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, **kwargs
    )
    try:
        _wait_for_port(port, proc, "pgbouncer", log)
        yield Bouncer(port=port, dbname=str(db["NAME"]))
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        shutil.rmtree(folder, ignore_errors=True)


@dataclass(frozen=True)
class Answer:
    status: int
    location: str
    text: str


class Site:
    """A `manage.py runserver` process whose only way to the database is `bouncer`."""

    def __init__(self, port: int) -> None:
        self.port = port

    def request(
        self, host: str, path: str, *, cookie: str = "", method: str = "GET", body: str = ""
    ) -> Answer:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        headers = {"Host": host, "Accept-Language": "en"}
        if cookie:
            headers["Cookie"] = cookie
        if body:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        try:
            conn.request(method, path, body=body or None, headers=headers)
            resp = conn.getresponse()
            return Answer(resp.status, resp.getheader("Location") or "", resp.read().decode(errors="replace"))
        finally:
            conn.close()

    def login(self, host: str, email: str) -> str:
        """Logs in through the login form; returns the Cookie header of the session."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            conn.request("GET", LOGIN, headers={"Host": host})
            resp = conn.getresponse()
            page = resp.read().decode()
            csrf = re.search(r"csrftoken=([^;]+)", resp.getheader("Set-Cookie") or "")
            token = re.search(r'name="csrfmiddlewaretoken"\s+value="([^"]+)"', page)
            assert csrf and token, f"no CSRF token on the login page ({resp.status}): {page[:2000]}"
            body = urlencode({"csrfmiddlewaretoken": token[1], "username": email, "password": PASSWORD})
            headers = {
                "Host": host,
                "Cookie": f"csrftoken={csrf[1]}",
                "Content-Type": "application/x-www-form-urlencoded",
            }
            conn.request("POST", LOGIN, body=body, headers=headers)
            resp = conn.getresponse()
            resp.read()
            session = re.search(r"sessionid=([^;]+)", resp.getheader("Set-Cookie") or "")
            assert resp.status == 302 and session, f"login of {email} failed ({resp.status})"
            return f"sessionid={session[1]}; csrftoken={csrf[1]}"
        finally:
            conn.close()


@contextmanager
def site_through(bouncer: Bouncer) -> Iterator[Site]:
    port = _free_port()
    log = Path(tempfile.mkstemp(prefix="crm-pgbouncer-site-", suffix=".log")[1])
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "DATABASE_URL": bouncer.url,
        # One connection per request, returned at its end: with persistent connections each server thread
        # would keep a session-mode server connection and a pool of 2 would stall the third thread.
        "DB_CONN_MAX_AGE": "0",
        "PYTHONPATH": str(ROOT),
    }
    with open(log, "w") as out:
        proc = subprocess.Popen(
            [sys.executable, "manage.py", "runserver", "--noreload", "--skip-checks", f"127.0.0.1:{port}"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        _wait_for_port(port, proc, "runserver", log, timeout=60)
        yield Site(port)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.unlink(missing_ok=True)


def beta_ids(beta: Any) -> list[int]:
    return sorted({u.pk for u in beta.users.values()})


def test_session_mode_keeps_every_request_on_its_own_tenant(alpha: Any, beta: Any) -> None:
    # Given: the site reaches PostgreSQL only through pgbouncer in session mode with 2 server connections.
    with pgbouncer("session", pool_size=2) as bouncer, site_through(bouncer) as site:
        cookies = {
            "alpha": site.login(alpha.host, "owner@alpha.example.com"),
            "beta": site.login(beta.host, "owner@beta.example.com"),
        }
        beta_marker, alpha_marker = "@beta.example.com", "@alpha.example.com"

        # When: alpha's owner requests every GET route of the tenant urlconf on beta's host (4 at a time:
        # the walk also interleaves over the 2 server connections).
        paths = [
            path
            for route in urlwalk.routes("config.urls_tenant")
            for path in urlwalk.paths(route, beta_ids(beta), "config.urls_tenant")
        ]

        def check(path: str) -> list[str]:
            found: list[str] = []
            answer = site.request(beta.host, path, cookie=cookies["alpha"])
            if beta_marker in answer.text:
                found.append(f"GET {path}: beta's data")
            refused = answer.status in DENIED or (answer.status in (301, 302) and "login" in answer.location)
            if not refused and answer.status != site.request(beta.host, path).status:
                found.append(f"GET {path}: {answer.status} for alpha's session")
            if path.startswith("/api/") and answer.status not in DENIED:
                found.append(f"GET {path}: API answered {answer.status}")
            return found

        with ThreadPoolExecutor(max_workers=4) as pool:
            failures = [f for found in pool.map(check, paths) for f in found]
        # Then: nothing of beta's, and the walk was the whole urlconf.
        assert failures == []
        assert len(paths) > 100

        # When: concurrent requests for alpha and beta interleave over the 2 server connections.
        def own_users(slug: str) -> tuple[str, Answer]:
            host = alpha.host if slug == "alpha" else beta.host
            return slug, site.request(host, "/api/v1/users/?page_size=100", cookie=cookies[slug])

        with ThreadPoolExecutor(max_workers=6) as pool:
            answers = list(pool.map(own_users, ["alpha", "beta"] * 30))
        # Then: every answer has its own tenant's users and none of the other's.
        for slug, answer in answers:
            own, other = (alpha_marker, beta_marker) if slug == "alpha" else (beta_marker, alpha_marker)
            assert answer.status == 200, (slug, answer.status, answer.text[:300])
            assert own in answer.text and other not in answer.text, slug
        # And the pool really was shared: never more than 2 server connections for many more clients.
        servers = [s for s in bouncer.admin("SHOW SERVERS") if s["database"] == bouncer.dbname]
        assert 1 <= len(servers) <= 2
        stats = next(s for s in bouncer.admin("SHOW STATS") if s["database"] == bouncer.dbname)
        assert stats["total_xact_count"] > len(answers)


def _tenant_connection(bouncer: Bouncer, alias: str, tenant: Any) -> DatabaseWrapper:
    """A Django connection of django-tenants' backend, through pgbouncer, set to `tenant`."""
    conn = DatabaseWrapper(bouncer.settings_dict(), alias=alias)
    conn.set_tenant(tenant)
    return conn


def _emails_seen_by_alpha_after_beta_sets_its_path(bouncer: Bouncer, alpha: Any, beta: Any) -> set[str]:
    alpha_conn = _tenant_connection(bouncer, "pgb_alpha", alpha.tenant)
    beta_conn = _tenant_connection(bouncer, "pgb_beta", beta.tenant)
    try:
        # Django opens a cursor: django-tenants sends `SET search_path` (a transaction of its own in
        # autocommit), then the query. In between, beta's request does the same on its connection.
        alpha_cursor = alpha_conn.cursor()
        with beta_conn.cursor() as beta_cursor:
            beta_cursor.execute("SELECT count(*) FROM accounts_user")
        alpha_cursor.execute("SELECT email FROM accounts_user")
        return {row[0] for row in alpha_cursor.fetchall()}
    finally:
        alpha_conn.close()
        beta_conn.close()


def test_transaction_mode_leaks_the_search_path_between_tenants(alpha: Any, beta: Any) -> None:
    # Given: pgbouncer in transaction mode with one server connection (the pool any busy site ends up with).
    with pgbouncer("transaction", pool_size=1) as bouncer:
        # When: alpha's connection sets its path, beta's sets its own, alpha queries.
        seen = _emails_seen_by_alpha_after_beta_sets_its_path(bouncer, alpha, beta)
    # Then: alpha read beta's users — the leak the runbook warns about is real.
    assert seen and all(email.endswith("@beta.example.com") for email in seen)

    # Control: the same sequence in session mode (2 server connections) reads alpha's own users.
    with pgbouncer("session", pool_size=2) as bouncer:
        seen = _emails_seen_by_alpha_after_beta_sets_its_path(bouncer, alpha, beta)
    assert seen and all(email.endswith("@alpha.example.com") for email in seen)
