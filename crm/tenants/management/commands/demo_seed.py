"""Demo data for `make run`: a platform operator and one workspace per sales mode, with Chinese names.

Idempotent: existing operator, workspaces and users are left alone (passwords are not reset). Workspaces
come from the signup service (spare pool or template clone), so a fresh machine is ready in seconds.
Module demo seeders run for workspaces created by this run (or all of them with --reseed).
"""

from __future__ import annotations

import time
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser
from django.db import connection
from django.utils.module_loading import import_string
from django_tenants.utils import get_public_schema_name, schema_context, schema_exists

from crm.platform.modes import SALES_MODES
from crm.platform.permissions import Role
from crm.platform.registry import registry
from crm.tenants import provisioning
from crm.tenants.models import Tenant
from crm.tenants.selectors import enabled_modules
from crm.tenants.services import tenant_signup, tenant_url

DEMO_PASSWORD = "Demo-Pass-2026"
OPERATOR_EMAIL = "ops@localhost.example"

# slug: (company, owner, manager, rep 1, rep 2, clerk)
COMPANIES: dict[str, tuple[str, str, str, str, str, str]] = {
    "project": ("上海华信系统集成有限公司", "陈建国", "刘海涛", "王磊", "赵敏", "孙丽"),
    "service": ("北京智远管理咨询有限公司", "李文博", "周婷", "张浩", "吴倩", "郑洁"),
    "trade": ("杭州恒泰进出口贸易有限公司", "王志强", "黄丽华", "林峰", "何静", "马琳"),
    "production": ("苏州精工机械制造有限公司", "徐国栋", "高明", "罗斌", "梁晓燕", "宋佳"),
    "retail": ("成都悦享生活百货连锁", "杨帆", "朱红", "胡军", "郭芳", "谢雨欣"),
    "volume": ("深圳快单电子商务有限公司", "赵子龙", "钱晓东", "冯雪", "陈思远", "卫兰"),
    "distribution": ("武汉嘉禾食品销售有限公司", "蒋建华", "沈立", "韩梅", "杨洋", "秦雯"),
}


def _host_url(tenant: Tenant) -> str:
    return tenant_url(tenant, "/")


class Command(BaseCommand):
    help = "Create the demo operator and one demo workspace per sales mode (idempotent); print the logins."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--list", action="store_true", help="only print the demo URLs and logins")
        parser.add_argument(
            "--reseed", action="store_true", help="run module demo seeders on every demo workspace"
        )
        parser.add_argument(
            "--only", nargs="+", metavar="SLUG", choices=list(COMPANIES), help="seed only these workspaces"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if not options["list"]:
            started = time.perf_counter()
            self._seed(reseed=options["reseed"], only=set(options["only"] or COMPANIES))
            self.stdout.write(f"demo data ready in {time.perf_counter() - started:.1f}s")
        self._print_logins()

    # -- writing ---------------------------------------------------------------------------------------------

    def _seed(self, *, reseed: bool, only: set[str]) -> None:
        connection.set_schema_to_public()  # type: ignore[attr-defined]
        provisioning.public_ensure()
        if not schema_exists(provisioning.template_schema()):
            provisioning.template_ensure()  # only on a database nobody ran platform_setup on
        self._operator()
        module_for_mode = {m.sales_mode: m.slug for m in registry.sellable()}
        for slug, _label in SALES_MODES:
            module = module_for_mode.get(slug)
            if module is None or slug not in only:
                continue
            tenant = Tenant.objects.filter(slug=slug).first()
            created = tenant is None
            if tenant is None:
                tenant = self._workspace(slug, module)
            if created or reseed:
                self._run_seeders(tenant)

    def _operator(self) -> None:
        from crm.platform.console.services import operator_create
        from crm.tenants.accounts.models import User

        with schema_context(get_public_schema_name()):
            if not User.objects.filter(email=OPERATOR_EMAIL).exists():
                operator_create(email=OPERATOR_EMAIL, name="平台运维", password=DEMO_PASSWORD)

    def _workspace(self, slug: str, module: str) -> Tenant:
        from crm.tenants.accounts.models import User
        from crm.tenants.accounts.services import team_save

        company, owner_name, manager_name, rep1, rep2, clerk = COMPANIES[slug]
        started = time.perf_counter()
        result = tenant_signup(
            company=company,
            slug=slug,
            owner_name=owner_name,
            email=f"owner@{slug}.demo",
            password=DEMO_PASSWORD,
            phone="13800138000",
            modules=[module],
            sales_modes=[slug],
            language="zh-hans",
            # Each demo workspace shows its sales mode's module, built or not (coming soon, not billed).
            allow_unavailable=True,
        )
        tenant = result.tenant
        with schema_context(tenant.schema_name):
            owner = User.objects.get(pk=result.owner_id)
            # Every demo login shares one password: reuse the owner's hash instead of paying for PBKDF2
            # (about a second per user on a busy machine) again for each colleague.
            staff = [
                ("manager", manager_name, Role.MANAGER),
                ("sales1", rep1, Role.SALES),
                ("sales2", rep2, Role.SALES),
            ]
            if slug == "retail":
                staff.append(("clerk", clerk, Role.CLERK))
            users = {
                who: User.objects.create(
                    email=f"{who}@{slug}.demo", name=name, role=role, password=owner.password
                )
                for who, name, role in staff
            }
            team = team_save(actor=owner, name="销售一部", manager=users["manager"])
            User.objects.filter(pk__in=[users[w].pk for w in ("manager", "sales1", "sales2")]).update(
                team=team
            )
        connection.set_schema_to_public()  # type: ignore[attr-defined]
        self.stdout.write(
            f"created {slug}: {company} ({result.path}, {(time.perf_counter() - started) * 1000:.0f} ms)"
        )
        return tenant

    def _run_seeders(self, tenant: Tenant) -> None:
        enabled = enabled_modules(tenant)
        # Core first, then shared capabilities, then the sales-mode modules that build on them.
        order = {"core": 0, "capability": 1, "sales_mode": 2}
        for manifest in sorted(registry.all(), key=lambda m: (order.get(m.kind, 3), m.slug)):
            if manifest.slug not in enabled or not manifest.demo_seeder:
                continue
            try:
                seeder = import_string(manifest.demo_seeder)
            except ImportError:
                self.stderr.write(f"{tenant.slug}: demo seeder {manifest.demo_seeder} not found; skipped")
                continue
            started = time.perf_counter()
            try:
                with schema_context(tenant.schema_name):
                    seeder(tenant)
            except Exception as exc:  # one module's broken seeder must not stop the others or `make run`
                self.stderr.write(f"{tenant.slug}: demo seeder {manifest.demo_seeder} failed: {exc!r}")
            else:
                elapsed = (time.perf_counter() - started) * 1000
                self.stdout.write(f"  {tenant.slug}: {manifest.slug} demo data ({elapsed:.0f} ms)")
            finally:
                connection.set_schema_to_public()  # type: ignore[attr-defined]

    # -- reading ---------------------------------------------------------------------------------------------

    def _print_logins(self) -> None:
        port = f":{settings.SITE_PORT}" if settings.SITE_PORT else ""
        site = f"{settings.SITE_SCHEME}://{settings.BASE_DOMAIN}{port}/"
        self.stdout.write("")
        self.stdout.write(f"Public site and signup: {site}")
        self.stdout.write(f"Operator console:       {site}console/   {OPERATOR_EMAIL} / {DEMO_PASSWORD}")
        self.stdout.write(f"Demo workspaces (every login's password: {DEMO_PASSWORD}):")
        tenants = {t.slug: t for t in Tenant.objects.filter(slug__in=list(COMPANIES))}
        for slug, _label in SALES_MODES:
            tenant = tenants.get(slug)
            if tenant is None:
                self.stdout.write(f"  {slug:<13} (not created yet: run demo_seed)")
                continue
            people = ["owner", "manager", "sales1", "sales2", *(["clerk"] if slug == "retail" else [])]
            logins = [f"{who}@{slug}.demo" for who in people]
            self.stdout.write(f"  {slug:<13} {_host_url(tenant):<38} {tenant.name}")
            self.stdout.write(f"  {'':<13} {', '.join(logins)}")
