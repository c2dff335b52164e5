"""Production configuration: the settings load from the environment alone and pass Django's deployment
checks; the container, compose and Kubernetes definitions are well-formed and name what they must.

Docker and a cluster are not available where the tests run, so the images are not built here; what can be
checked without them (settings, gunicorn config, collectstatic with the production storage, manifests) is.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"


def prod_env(**overrides: str) -> dict[str, str]:
    """A clean environment, like a container's: nothing from the developer's shell or .env leaks in."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", "/tmp"),
        "LANG": "C.UTF-8",
        "DJANGO_SETTINGS_MODULE": "config.settings.prod",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(64),
        # Nothing listens on port 9: the checks and collectstatic must not need the database or Redis.
        "DATABASE_URL": "postgres://crm:secret@127.0.0.1:9/crm",
        "REDIS_URL": "redis://127.0.0.1:9/0",
        "CRM_BASE_DOMAIN": "crm.example.com",
        "SENTRY_DSN": "",
    }
    env.update(overrides)
    return {k: v for k, v in env.items() if v is not None}


def run(args: list[str], env: dict[str, str], timeout: int = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout
    )


def test_production_settings_pass_the_security_checks() -> None:
    result = run(
        ["manage.py", "check", "--deploy", "--tag", "security", "--fail-level", "WARNING"], prod_env()
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_production_settings_pass_check_deploy() -> None:
    # Every check, the OpenAPI generation warnings of drf-spectacular included (all views are documented).
    result = run(["manage.py", "check", "--deploy", "--fail-level", "WARNING"], prod_env())
    assert result.returncode == 0, result.stdout + result.stderr


def test_production_settings_come_from_the_environment() -> None:
    script = (
        "import json, django; django.setup(); from django.conf import settings as s; print(json.dumps({"
        "'debug': s.DEBUG, 'hosts': s.ALLOWED_HOSTS, 'csrf': s.CSRF_TRUSTED_ORIGINS,"
        "'db': [s.DATABASES['default'][k] for k in ('ENGINE', 'HOST', 'PORT', 'NAME')],"
        "'cache': s.CACHES['default']['LOCATION'], 'broker': s.CELERY_BROKER_URL,"
        "'scheme': s.SITE_SCHEME, 'ssl': s.SECURE_SSL_REDIRECT, 'secure_cookie': s.SESSION_COOKIE_SECURE}))"
    )
    result = run(["-c", script], prod_env(REDIS_URL="redis://cache.internal:6380/3"))
    assert result.returncode == 0, result.stderr
    values: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    assert values["debug"] is False
    # The apex (public site) and every tenant subdomain, nothing else.
    assert values["hosts"] == ["crm.example.com", ".crm.example.com"]
    assert values["csrf"] == ["https://crm.example.com", "https://*.crm.example.com"]
    assert values["db"] == ["django_tenants.postgresql_backend", "127.0.0.1", 9, "crm"]
    assert values["cache"] == values["broker"] == "redis://cache.internal:6380/3"
    assert values["scheme"] == "https" and values["ssl"] is True and values["secure_cookie"] is True


@pytest.mark.parametrize("missing", ["DJANGO_SECRET_KEY", "DATABASE_URL", "REDIS_URL"])
def test_production_refuses_to_start_without_required_settings(missing: str) -> None:
    env = prod_env()
    del env[missing]
    result = run(["manage.py", "check"], env)
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr and missing in result.stderr


def test_gunicorn_config_loads_the_production_app() -> None:
    # --check-config imports the config and (preload_app) the WSGI application, as the container does.
    gunicorn = str(Path(sys.executable).parent / "gunicorn")
    result = subprocess.run(
        [gunicorn, "--check-config", "-c", "deploy/gunicorn.conf.py", "config.wsgi:application"],
        cwd=ROOT,
        env=prod_env(WEB_CONCURRENCY="3"),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_collectstatic_with_the_production_storage(tmp_path: Path) -> None:
    # What the Dockerfile runs: hashed + compressed files, and a manifest the templates resolve through.
    result = run(
        ["manage.py", "collectstatic", "--noinput", "-v", "0"],
        prod_env(DJANGO_STATIC_ROOT=str(tmp_path)),
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    manifest = json.loads((tmp_path / "staticfiles.json").read_text())
    for name in ("css/app.css", "vendor/htmx.min.js", "vendor/echarts.min.js"):
        hashed = manifest["paths"][name]
        assert hashed != name and (tmp_path / hashed).exists() and (tmp_path / f"{hashed}.gz").exists()


def test_compose_names_the_five_services_with_production_settings() -> None:
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    services = compose["services"]
    assert {"postgres", "redis", "web", "worker", "beat"} <= set(services)
    assert services["postgres"]["image"] == "postgres:16"
    assert services["redis"]["image"] == "redis:7"
    for name in ("web", "worker", "beat", "migrate"):
        service = services[name]
        assert service["build"]["dockerfile"] == "deploy/Dockerfile"
        assert service["env_file"] == "../.env"
        assert service["environment"]["DJANGO_SETTINGS_MODULE"] == "config.settings.prod"
        assert "@postgres:5432/" in service["environment"]["DATABASE_URL"]
        assert service["environment"]["REDIS_URL"].startswith("redis://redis:6379/")
    assert services["web"]["command"][0] == "gunicorn"
    assert services["worker"]["command"][:4] == ["celery", "-A", "config", "worker"]
    assert services["beat"]["command"][:4] == ["celery", "-A", "config", "beat"]
    # The app waits for migrations, and migrations for a healthy database.
    assert services["web"]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"


def test_kubernetes_manifests_cover_every_role() -> None:
    kustomization = yaml.safe_load((DEPLOY / "k8s" / "kustomization.yaml").read_text())
    docs: list[dict[str, Any]] = []
    for name in kustomization["resources"]:
        docs.extend(d for d in yaml.safe_load_all((DEPLOY / "k8s" / name).read_text()) if d)
    by_kind: dict[str, dict[str, dict[str, Any]]] = {}
    for doc in docs:
        by_kind.setdefault(doc["kind"], {})[doc["metadata"]["name"]] = doc
    assert {"crm-web", "crm-worker", "crm-beat"} <= set(by_kind["Deployment"])
    assert "crm-migrate" in by_kind["Job"]
    assert "crm-web" in by_kind["Service"]
    # Beat must never run twice.
    assert by_kind["Deployment"]["crm-beat"]["spec"]["replicas"] == 1
    hosts = {rule["host"] for rule in by_kind["Ingress"]["crm-web"]["spec"]["rules"]}
    assert hosts == {"crm.example.com", "*.crm.example.com"}
    for workload in [*by_kind["Deployment"].values(), *by_kind["Job"].values()]:
        pod = workload["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        env_from = pod["containers"][0]["envFrom"]
        assert {"configMapRef": {"name": "crm-config"}} in env_from
        assert {"secretRef": {"name": "crm-secrets"}} in env_from
    assert by_kind["ConfigMap"]["crm-config"]["data"]["DJANGO_SETTINGS_MODULE"] == "config.settings.prod"


def test_dockerfile_builds_a_non_root_gunicorn_image() -> None:
    lines = [
        line.strip()
        for line in (DEPLOY / "Dockerfile").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert lines[0] == "FROM python:3.11-slim"
    user = [line for line in lines if line.startswith("USER ")]
    assert user and user[-1] not in ("USER root", "USER 0")
    text = "\n".join(lines)
    assert "collectstatic --noinput" in text
    assert lines[-1].startswith("CMD") and "gunicorn" in lines[-1] and "deploy/gunicorn.conf.py" in lines[-1]
