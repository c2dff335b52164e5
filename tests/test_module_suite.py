"""The generic module suite (issue 9 section 2.9): every registered module passes it by being registered,
with no test code of its own. For each module (core, retail, messaging, the dummy module and any added later):

a. every HTML and API route answers only to the roles holding the permission it declares
   (``crm.kernel.api.declared_permission``): 403 for the others, never 403 for the holders; a route that
   declares none must be in ``UNDECLARED`` below with the reason;
b. every list route keeps the same number of queries at 10 and at 500 rows (rows from the module's
   ``suite.py``: ``LIST_FACTORIES``; every API list route must have one);
c. the module imports only the kernel and platform packages, the core's ``public.py`` and the ``public.py``
   of the modules it declares in ``depends`` (read from the source by AST; ``IMPORT_EXCEPTIONS`` lists the
   justified exceptions);
d. its demo seeder and its periodic tasks are idempotent (run twice: the same row count in every table of
   the module);
e. off, its pages and API answer 404; its data is the same after off and on again.

(tests/test_api_bad_input.py walks every API route with bad bodies and query parameters.)

One tenant (the session's ``alpha``) serves every module; each test runs in a transaction rolled back after
it, so modules do not see each other's rows.
"""

from __future__ import annotations

import ast
import importlib
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.apps import apps
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import URLPattern, get_resolver
from django_tenants.utils import schema_context
from rest_framework.mixins import ListModelMixin

from crm.kernel.api import declared_permission
from crm.platform.permissions import has_perm, tenant_role_choices
from crm.platform.registry import ModuleManifest, registry
from crm.tenants.accounts.models import User
from tests import urlwalk
from tests.fixtures import PASSWORD, TenantFixture
from tests.test_module_contract import URLCONF, module_routes, set_module

MODULES = registry.all()
IDS = [m.slug for m in MODULES]
MISSING_ID = 987654321  # id routes are walked with an id no row has: holders get 404, never 403

# Routes that declare no permission, each with the reason. A new route without one fails (a), so that
# "who may open this" is always written down somewhere.
UNDECLARED: dict[str, str] = {
    "core:home": "the dashboard: every signed-in user (each widget checks its own permission)",
    "core:import_start": "each import kind carries its permission, checked per kind here and in the worker",
    "core:import_detail": "the job of the user who uploaded it, whose kind permission is checked again",
    "core:import_errors": "the error report of the user's own import job",
    "core:import_skipped": "the skipped rows of the user's own import job",
    "core:import_retry": "retrying the user's own interrupted import job",
    "core:import_template": "the template of a kind offered to the user (each kind checks its permission)",
    "core:widget": "a dashboard widget: each checks its own permission and module (404 otherwise)",
    "dummy:index": "the contract-test page: every signed-in user",
    "api-dummy:ping": "the contract-test probe: every signed-in user",
}

# Cross-module imports that break the rule (c), each with why it is tolerated for now.
IMPORT_EXCEPTIONS: dict[tuple[str, str], str] = {}

ALLOWED_PACKAGES = ("crm.platform", "crm.tenants", "crm.kernel", "crm.api")


# --- helpers ---------------------------------------------------------------------------------------------


def role_codes() -> list[str]:
    """Every tenant role: the platform's and those modules add in their manifests."""
    return [str(code) for code, _label in tenant_role_choices()]


def role_users(tenant: TenantFixture) -> dict[str, Any]:
    users = {role: tenant.users[role] for role in role_codes() if role in tenant.users}
    with schema_context(tenant.schema):
        for role in role_codes():
            if role not in users:
                users[role] = User.objects.create_user(
                    f"suite-{role}@{tenant.tenant.slug}.example.com",
                    PASSWORD,
                    name=f"suite {role}",
                    role=role,
                )
    connection.set_schema_to_public()  # type: ignore[attr-defined]
    return users


def client_for(tenant: TenantFixture, user: Any) -> Client:
    client = Client(HTTP_HOST=tenant.host)
    with schema_context(tenant.schema):
        client.force_login(user, backend="crm.tenants.accounts.backends.EmailBackend")
    connection.set_schema_to_public()  # type: ignore[attr-defined]
    return client


def call(client: Client, method: str, path: str, body: Any = None, raw: str | None = None) -> Any:
    """One request, its body read completely before leaving the request's schema (exports stream)."""
    kwargs: dict[str, Any] = {}
    if method != "get":
        kwargs = {
            "data": raw if raw is not None else json.dumps(body or {}),
            "content_type": "application/json",
        }
    response = getattr(client, method)(path, **kwargs)
    if response.streaming:
        response.content_bytes = b"".join(response.streaming_content)
    else:
        response.content_bytes = response.content
    connection.set_schema_to_public()  # type: ignore[attr-defined]
    return response


def view_methods(route: urlwalk.Route) -> list[str]:
    """The methods to try on a route: those a DRF view implements; GET, else POST, for a page."""
    cls = getattr(route.callback, "cls", None)
    if cls is not None:
        found = [m for m in ("get", "post", "put", "patch", "delete") if hasattr(cls, m)]
        return found or ["get"]
    return ["get"]


def permission_methods(route: urlwalk.Route) -> list[str]:
    """One read and one write method per API view: permission classes tell only reads from writes."""
    methods = view_methods(route)
    writes = [m for m in methods if m != "get"]
    return [m for m in methods if m == "get"] + writes[:1]


def url_defaults(route: urlwalk.Route) -> dict[str, Any]:
    """The URL pattern's extra kwargs (a view that takes its permission as ``perm``, like the care page)."""
    for pattern in _patterns():
        if pattern.callback is route.callback and pattern.name == route.name:
            return dict(pattern.default_args)
    return {}


def _patterns() -> Iterator[URLPattern]:
    def walk(entries: Any) -> Iterator[URLPattern]:
        for entry in entries:
            if isinstance(entry, URLPattern):
                yield entry
            else:
                yield from walk(entry.url_patterns)

    return walk(get_resolver(URLCONF).url_patterns)


def route_name(route: urlwalk.Route) -> str:
    return f"{route.namespace}:{route.name}"


def route_permission(route: urlwalk.Route, method: str) -> str | None:
    return declared_permission(route.callback, method.upper()) or url_defaults(route).get("perm")


def module_models(manifest: ModuleManifest) -> list[Any]:
    return list(apps.get_app_config(manifest.app_label).get_models())


def row_counts(tenant: TenantFixture, manifest: ModuleManifest) -> dict[str, int]:
    """Rows per table of the module and of the modules it builds on (a care run writes messaging's rows)."""
    slugs = sorted(registry.expand([manifest.slug]))
    models = [m for slug in slugs for m in module_models(registry.get(slug))]
    with schema_context(tenant.schema):
        counts = {m._meta.label: m._default_manager.count() for m in models}
    connection.set_schema_to_public()  # type: ignore[attr-defined]
    return counts


def list_factories(manifest: ModuleManifest) -> dict[str, Callable[..., None]]:
    package = apps.get_app_config(manifest.app_label).module.__name__  # type: ignore[union-attr]
    try:
        suite = importlib.import_module(f"{package}.suite")
    except ModuleNotFoundError as exc:
        if exc.name != f"{package}.suite":
            raise
        return {}
    return dict(suite.LIST_FACTORIES)


# --- a. permissions --------------------------------------------------------------------------------------


@pytest.mark.parametrize("manifest", MODULES, ids=IDS)
def test_routes_answer_only_to_roles_holding_their_permission(alpha, manifest):
    set_module(alpha.tenant, manifest.slug, True)
    users = role_users(alpha)
    clients = {role: client_for(alpha, user) for role, user in users.items()}
    failures: list[str] = []
    checked = 0
    for route in module_routes(manifest):
        name = route_name(route)
        for method in permission_methods(route):
            perm = route_permission(route, method)
            if perm is None:
                if name not in UNDECLARED:
                    failures.append(f"{name} {method.upper()}: declares no permission and is not allowlisted")
                continue
            for path in urlwalk.paths(route, [MISSING_ID], URLCONF):
                for role, client in clients.items():
                    response = call(client, method, path)
                    if response.status_code == 405 and method == "get":
                        response = call(client, "post", path)  # a page that only takes a form
                    held = has_perm(users[role], perm)
                    if held and response.status_code == 403:
                        failures.append(f"{method.upper()} {path} as {role} (holds {perm}): 403")
                    elif not held and response.status_code != 403:
                        failures.append(
                            f"{method.upper()} {path} as {role} (lacks {perm}): {response.status_code}"
                        )
                    elif response.status_code >= 500:
                        failures.append(f"{method.upper()} {path} as {role}: {response.status_code}")
                    checked += 1
    assert failures == []
    if module_routes(manifest):
        assert checked or all(route_name(r) in UNDECLARED for r in module_routes(manifest))


def test_the_allowlist_names_only_real_routes():
    names = {route_name(r) for m in MODULES for r in module_routes(m)}
    assert set(UNDECLARED) <= names, set(UNDECLARED) - names


# --- b. constant query counts ----------------------------------------------------------------------------


def _is_api_list(route: urlwalk.Route) -> bool:
    cls = getattr(route.callback, "cls", None)
    return isinstance(cls, type) and issubclass(cls, ListModelMixin)


def _query_count(client: Client, path: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = call(client, "get", path)
    assert response.status_code == 200, f"{path}: {response.status_code}"
    return len(queries)


@pytest.mark.parametrize("manifest", MODULES, ids=IDS)
def test_list_routes_keep_a_constant_query_count_from_10_to_500_rows(alpha, manifest):
    set_module(alpha.tenant, manifest.slug, True)
    factories = list_factories(manifest)
    routes = {route_name(r): r for r in module_routes(manifest)}
    missing = [name for name, r in routes.items() if _is_api_list(r) and name not in factories]
    assert missing == [], f"API list routes without a row factory in {manifest.slug}'s suite.py: {missing}"
    assert set(factories) <= set(routes), set(factories) - set(routes)

    owner = alpha.users["owner"]
    client = alpha.client("owner")
    counts: dict[str, tuple[int, int]] = {}
    for name, make_rows in factories.items():
        (path,) = urlwalk.paths(routes[name], [MISSING_ID], URLCONF)
        with schema_context(alpha.schema):
            make_rows(n=10, owner=owner)
        _query_count(client, path)  # warm caches (module set, session) out of the comparison
        at_10 = _query_count(client, path)
        with schema_context(alpha.schema):
            make_rows(n=490, owner=owner)
        counts[name] = (at_10, _query_count(client, path))
    assert {n: c for n, c in counts.items() if c[0] != c[1]} == {}


# --- c. imports ------------------------------------------------------------------------------------------


def _source_files(manifest: ModuleManifest) -> tuple[str, list[Path]]:
    module = apps.get_app_config(manifest.app_label).module
    package = module.__name__  # type: ignore[union-attr]
    root = Path(module.__file__).parent  # type: ignore[union-attr,arg-type]
    files = [
        p
        for p in sorted(root.rglob("*.py"))
        if not ({"tests", "migrations"} & set(p.relative_to(root).parts[:-1]))
        and p.name not in ("suite.py",)  # test data for this suite, never imported by the application
    ]
    return package, files


def _imported(path: Path, package: str, root: Path) -> Iterator[tuple[int, str]]:
    here = ".".join([package, *path.relative_to(root).parts[:-1]])
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = here.split(".")
                base = base[: len(base) - node.level + 1]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            yield node.lineno, target
            # `from crm.modules import retail` names a module too.
            for alias in node.names:
                yield node.lineno, f"{target}.{alias.name}"


def import_violations(manifest: ModuleManifest) -> list[str]:
    package, files = _source_files(manifest)
    root = Path(apps.get_app_config(manifest.app_label).module.__file__).parent  # type: ignore[union-attr,arg-type]
    found = _violations(package, root, files, slug=manifest.slug, depends=manifest.depends)
    return [f for f in found if (manifest.slug, f.rsplit(" imports ", 1)[1]) not in IMPORT_EXCEPTIONS]


def _violations(
    package: str, root: Path, files: list[Path], *, slug: str, depends: tuple[str, ...]
) -> list[str]:
    allowed_public = {f"crm.modules.{dep}.public" for dep in depends}
    if slug != "core":
        allowed_public.add("crm.modules.core.public")
    found: list[str] = []
    for path in files:
        for line, name in _imported(path, package, root):
            project = name.split(".")[0] in ("crm", "tests", "config")
            if not project or name == package or name.startswith(package + "."):
                continue
            if name in ("crm", "crm.modules") or name.startswith(ALLOWED_PACKAGES):
                continue  # `from crm.modules import x` is checked as crm.modules.x
            if any(name == p or name.startswith(p + ".") for p in allowed_public):
                continue
            found.append(f"{package}/{path.relative_to(root)}:{line} imports {name}")
    return found


@pytest.mark.parametrize("manifest", MODULES, ids=IDS)
def test_module_imports_only_the_kernel_and_the_public_api_of_its_dependencies(manifest):
    _package, files = _source_files(manifest)
    assert files, f"{manifest.slug}: no source found"
    assert import_violations(manifest) == []


def test_the_import_check_sees_violations(tmp_path):
    """Positive control: another module's internals, an undeclared module's public.py and the billing
    package are reported; the kernel, the core's public.py, a declared dependency and own files are not."""
    root = tmp_path / "shop"
    (root / "sub").mkdir(parents=True)
    (root / "views.py").write_text(
        "from crm.modules.retail.models import Member\n"
        "from crm.modules import messaging\n"
        "import crm.billing.services\n"
        "from crm.kernel.api import parse\n"
        "from crm.modules.core.public import Product\n"
        "from crm.modules.inventory.public import Stock\n"
        "from . import models\n"
        "import django.db\n"
    )
    (root / "sub" / "deep.py").write_text("from .. import views\nfrom ...retail import services\n")
    found = _violations(
        "crm.modules.shop", root, sorted(root.rglob("*.py")), slug="shop", depends=("inventory",)
    )
    assert found == [
        "crm.modules.shop/sub/deep.py:2 imports crm.modules.retail",
        "crm.modules.shop/sub/deep.py:2 imports crm.modules.retail.services",
        "crm.modules.shop/views.py:1 imports crm.modules.retail.models",
        "crm.modules.shop/views.py:1 imports crm.modules.retail.models.Member",
        "crm.modules.shop/views.py:2 imports crm.modules.messaging",
        "crm.modules.shop/views.py:3 imports crm.billing.services",
    ]


# --- d. idempotent seeder and periodic tasks --------------------------------------------------------------


SEEDED = [m for m in MODULES if m.demo_seeder]
WITH_TASKS = [m for m in MODULES if m.periodic_tasks]


@pytest.mark.parametrize("manifest", SEEDED, ids=[m.slug for m in SEEDED])
def test_demo_seeder_is_idempotent(alpha, manifest):
    set_module(alpha.tenant, manifest.slug, True)
    for slug in sorted(registry.expand([manifest.slug]) - {manifest.slug}):
        if registry.get(slug).demo_seeder:  # what the module builds on is there, as in a demo workspace
            _load(registry.get(slug).demo_seeder)(alpha.tenant)
    seed = _load(manifest.demo_seeder)
    seed(alpha.tenant)
    once = row_counts(alpha, manifest)
    seed(alpha.tenant)
    assert row_counts(alpha, manifest) == once, f"{manifest.demo_seeder} added rows on its second run"
    assert sum(once.values()) > 0, "the seeder wrote nothing"


@pytest.mark.parametrize("manifest", WITH_TASKS, ids=[m.slug for m in WITH_TASKS])
def test_periodic_tasks_are_idempotent(alpha, manifest):
    """Each task twice over the module's suite rows (the demo data would make the care run alone take
    minutes: see the note in the report): the second run writes nothing."""
    from crm.platform.tasks import module_run

    set_module(alpha.tenant, manifest.slug, True)
    with schema_context(alpha.schema):
        for make_rows in list_factories(manifest).values():
            make_rows(n=5, owner=alpha.users["owner"])
    for task in manifest.periodic_tasks:
        with schema_context(alpha.schema):
            assert module_run.apply(args=(manifest.slug, task.name)).get() is True
        connection.set_schema_to_public()  # type: ignore[attr-defined]
        once = row_counts(alpha, manifest)
        with schema_context(alpha.schema):
            module_run.apply(args=(manifest.slug, task.name)).get()
        connection.set_schema_to_public()  # type: ignore[attr-defined]
        assert row_counts(alpha, manifest) == once, f"{task.name} added rows on its second run"


def _load(dotted: str) -> Callable[..., Any]:
    module, _sep, name = dotted.rpartition(".")
    return getattr(importlib.import_module(module), name)  # type: ignore[no-any-return]


# --- e. off: 404; data kept across off and on --------------------------------------------------------------


@pytest.mark.parametrize("manifest", MODULES, ids=IDS)
def test_module_is_404_when_off_and_keeps_its_data(alpha, manifest):
    set_module(alpha.tenant, manifest.slug, True)
    owner = alpha.users["owner"]
    with schema_context(alpha.schema):
        for make_rows in list_factories(manifest).values():
            make_rows(n=3, owner=owner)
    before = row_counts(alpha, manifest)
    assert sum(before.values()) > 0 or not list_factories(manifest)
    if manifest.always_on:
        return  # core cannot be switched off (test_module_contract proves it)
    client = alpha.client("owner")

    set_module(alpha.tenant, manifest.slug, False)
    for route in module_routes(manifest):
        for path in urlwalk.paths(route, [1], URLCONF):
            for method in view_methods(route):
                response = call(client, method, path)
                assert response.status_code == 404, (
                    f"{method.upper()} {path} while off: {response.status_code}"
                )
                if path.startswith("/api/"):
                    assert json.loads(response.content_bytes)["error"]["code"] == "not_found"
    assert row_counts(alpha, manifest) == before

    set_module(alpha.tenant, manifest.slug, True)
    assert row_counts(alpha, manifest) == before
    reachable = [
        r for r in module_routes(manifest) if "(?P<" not in "".join(r.regexes) and "get" in view_methods(r)
    ]
    for route in reachable:
        (path,) = urlwalk.paths(route, [1], URLCONF)
        assert call(client, "get", path).status_code != 404, path
