"""Browser tests: a real server on a real database, driven by headless Chromium.

For the e2e package (not per test): a database of its own (`crm_e2e_<slot>` next to the test database on
the same PostgreSQL), migrated by `manage.py platform_setup` as `make run` does; static files collected into
a temporary STATIC_ROOT (served by whitenoise, DEBUG off as in production); `manage.py runserver` on a
free port; Debian's chromium through Playwright. Tenant hosts are `<slug>.localhost:<port>`: Chromium
resolves `*.localhost` to loopback by itself.

Package scope matters: Playwright's sync API keeps an asyncio loop on the main thread while it is alive,
and Django refuses ORM calls from a thread with a running loop, so the browser must be gone before the
database tests that run after this package.
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import pytest
from django.conf import settings

ROOT = Path(__file__).resolve().parent.parent.parent
ARTIFACTS = ROOT / ".artifacts"
CHROMIUM = os.environ.get("CRM_CHROMIUM", "/usr/bin/chromium")
# Without the background-networking flags Chromium keeps trying to reach Google on a closed network.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PASSWORD = "E2e-Strong-Pass-2026"
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _admin_connection(db: dict[str, Any]) -> psycopg.Connection[Any]:
    return psycopg.connect(
        host=db["HOST"] or "127.0.0.1",
        port=int(db["PORT"] or 5432),
        user=db["USER"],
        password=db["PASSWORD"] or None,
        dbname="postgres",
        autocommit=True,
    )


@dataclass
class LiveServer:
    port: int
    env: dict[str, str]
    log_path: Path
    accounts: dict[str, str] = field(default_factory=dict)

    @property
    def public_url(self) -> str:
        return f"http://localhost:{self.port}"

    def tenant_url(self, slug: str, path: str = "/") -> str:
        return f"http://{slug}.localhost:{self.port}{path}"

    def manage(self, *args: str, timeout: int = 300) -> str:
        """Run a management command against the server's database (same environment as the server).
        `shell -c` output is only what the code prints (Django 5.2's automatic imports are turned off)."""
        if args[:1] == ("shell",) and "--no-imports" not in args:
            args = ("shell", "--no-imports", *args[1:])
        result = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if result.returncode != 0:
            raise AssertionError(f"manage.py {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
        return result.stdout

    def create_tenant(self, slug: str, modules: list[str]) -> str:
        """A workspace made by the signup service (not the browser), for flows that start logged out on a
        tenant host. Returns the owner's e-mail."""
        email = f"owner@{slug}.e2e.example.com"
        self.manage(
            "shell",
            "-c",
            "from crm.tenants.services import tenant_signup; "
            f"tenant_signup(company='{slug.title()} 测试有限公司', slug='{slug}', owner_name='{slug} owner', "
            f"email='{email}', password='{PASSWORD}', modules={modules!r}, language='en')",
        )
        return email


def _server_log_tail(path: Path) -> str:
    try:
        return path.read_text(errors="replace")[-4000:]
    except OSError:
        return ""


@pytest.fixture(scope="package")
def e2e_server() -> Iterator[LiveServer]:
    # The slot and, under pytest-xdist, the worker (the e2e tests run on one worker, but a developer may
    # run them in two slots or two workers at once): one database, log and static folder each.
    slot = (os.environ.get("CRM_TEST_SLOT", "0") or "0") + os.environ.get("PYTEST_XDIST_WORKER", "")
    db = settings.DATABASES["default"]
    name = f"crm_e2e_{slot}"
    with _admin_connection(db) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    database_url = f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{name}"
    port = _free_port()
    static_root = Path(tempfile.mkdtemp(prefix=f"crm-e2e-static-{slot}-"))
    ARTIFACTS.mkdir(exist_ok=True)
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.dev",
        "DJANGO_DEBUG": "0",
        "DATABASE_URL": database_url,
        "REDIS_URL": settings.REDIS_URL,
        # Same Redis database as other servers: a prefix of its own, new for every run, keeps the caches
        # apart (schema names repeat across databases) and drops state of earlier runs (signup counters).
        "CACHE_KEY_PREFIX": f"crm-e2e-{slot}-{secrets.token_hex(4)}",
        # Every browser signup comes from 127.0.0.1; the per-address hourly limit is tested elsewhere.
        "CRM_SIGNUP_LIMIT_PER_HOUR": "1000",
        "CELERY_TASK_ALWAYS_EAGER": "1",
        "CRM_BASE_DOMAIN": "localhost",
        "CRM_SITE_PORT": str(port),
        "CRM_POOL_SIZE": "1",
        "CRM_POOL_LOW_WATER": "1",
        "DJANGO_STATIC_ROOT": str(static_root),
        "EMAIL_BACKEND": "django.core.mail.backends.console.EmailBackend",
        "SENTRY_DSN": "",
        "PYTHONUNBUFFERED": "1",
    }
    env.pop("CRM_TEST_SLOT", None)
    server = LiveServer(port=port, env=env, log_path=ARTIFACTS / f"e2e-server-{slot}.log")
    started = time.perf_counter()
    server.manage("platform_setup", timeout=900)
    # The public site is the tenant row of the public schema routed by the base domain; platform_setup
    # does not create it (demo_seed does), so make sure it exists. Idempotent.
    server.manage("shell", "-c", "from crm.tenants.provisioning import public_ensure; public_ensure()")
    server.manage("collectstatic", "--noinput", "-v", "0")
    setup_seconds = time.perf_counter() - started
    log = server.log_path.open("w")
    proc = subprocess.Popen(
        [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                request = urllib.request.Request(
                    f"http://127.0.0.1:{port}/healthz", headers={"Host": "localhost"}
                )
                with urllib.request.urlopen(request, timeout=2) as response:  # loopback only
                    if response.status == 200:
                        break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"e2e server did not start:\n{_server_log_tail(server.log_path)}")
            time.sleep(0.2)
        print(f"\ne2e server on port {port} (setup {setup_seconds:.1f}s), log: {server.log_path}")
        yield server
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
        shutil.rmtree(static_root, ignore_errors=True)
        with _admin_connection(db) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="package")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: `make browser` installs Debian's chromium package")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture(params=["desktop", "phone"])
def viewport(request: pytest.FixtureRequest) -> tuple[str, dict[str, int]]:
    """Each flow runs on a desktop window and on a phone-sized one (iPhone 12-15 class: 390x844)."""
    return request.param, DESKTOP if request.param == "desktop" else PHONE


@pytest.fixture
def page(browser: Any, viewport: tuple[str, dict[str, int]]) -> Iterator[Any]:
    name, size = viewport
    context = browser.new_context(
        viewport=size,
        locale="en-US",
        is_mobile=name == "phone",
        has_touch=name == "phone",
        device_scale_factor=1,
    )
    # English UI in the browser tests: selectors and screenshots stay readable whatever the default.
    context.add_cookies([{"name": "django_language", "value": "en", "domain": "localhost", "path": "/"}])
    context.set_default_timeout(15_000)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        yield page
    finally:
        context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


def login(page: Any, server: LiveServer, slug: str, email: str) -> None:
    """Sign in through the workspace's login page (password PASSWORD) and land inside the workspace."""
    page.goto(server.tenant_url(slug, "/auth/login/"))
    page.locator("input[name=username]").fill(email)
    page.locator("input[name=password]").fill(PASSWORD)
    page.locator("form:has(input[name=password]) button[type=submit]").click()
    page.wait_for_url(server.tenant_url(slug, "/**"))
    assert "/auth/login" not in page.url


def status_of(page: Any, url: str) -> int:
    """HTTP status of `url` fetched by the browser (its resolver knows *.localhost; Playwright's request
    API resolves through the system and does not), with the page's cookies."""
    other = page.context.new_page()
    try:
        response = other.goto(url)
        assert response is not None
        return int(response.status)
    finally:
        other.close()


def htmx_idle(page: Any) -> None:
    """Wait until htmx has no request in flight and has swapped and settled its last answer: a response
    alone is not enough, the swap that follows it can replace what the test types next."""
    page.wait_for_function("() => !document.querySelector('.htmx-request, .htmx-settling, .htmx-swapping')")
    page.wait_for_timeout(50)  # htmx processes new content right after the settle class goes


def screenshot(page: Any, name: str, viewport: tuple[str, dict[str, int]]) -> Path:
    """Full-page screenshot under .artifacts/ (e.g. .artifacts/signup-landed-phone.png)."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}-{viewport[0]}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
