"""Public site: landing, pricing, signup (with a live workspace-address check)."""

from __future__ import annotations

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from crm.platform.errors import ServiceError, show_on_form
from crm.platform.forms import CURRENCY_SYMBOLS, SignupForm, module_offer, monthly_price_label
from crm.platform.modes import SALES_MODES
from crm.platform.registry import registry
from crm.tenants import services as tenant_services
from crm.tenants.accounts.handoff import make_token
from crm.tenants.selectors import billing_terms

SIGNUP_WINDOW_SECONDS = 3600


def _core_offer() -> dict[str, object] | None:
    core = next((m for m in registry.all() if m.always_on), None)
    if core is None:
        return None
    return {
        "name": core.name,
        "summary": core.summary,
        "features": core.features,
        "price": monthly_price_label(core.monthly_price, core.currency),
    }


def home(request: HttpRequest) -> HttpResponse:
    offers = {o["sales_mode"]: o for o in (module_offer(m) for m in registry.sellable())}
    modes = [{"code": code, "label": label, "offer": offers.get(code)} for code, label in SALES_MODES]
    return render(
        request,
        "platform/public/home.html",
        {"modes": modes, "core": _core_offer(), "trial_days": billing_terms().trial_days},
    )


def pricing(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "platform/public/pricing.html",
        {
            "offers": [module_offer(m) for m in registry.sellable()],
            "core": _core_offer(),
            "trial_days": billing_terms().trial_days,
        },
    )


def _client_ip(request: HttpRequest) -> str:
    # REMOTE_ADDR only: X-Forwarded-For is set by the client unless a trusted proxy rewrites it.
    return str(request.META.get("REMOTE_ADDR") or "unknown")


def _signup_allowed(request: HttpRequest) -> bool:
    """Count signup attempts per client address in the cache; refuse above the hourly limit."""
    key = f"signup-attempts:{_client_ip(request)}"
    cache.add(key, 0, SIGNUP_WINDOW_SECONDS)  # starts the window only on the first attempt
    try:
        attempts = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, SIGNUP_WINDOW_SECONDS)
        attempts = 1
    return attempts <= settings.CRM_SIGNUP_LIMIT_PER_HOUR


def _address_suffix() -> str:
    port = f":{settings.SITE_PORT}" if settings.SITE_PORT else ""
    return f".{settings.BASE_DOMAIN}{port}"


def signup(request: HttpRequest) -> HttpResponse:
    # Links from the home and pricing pages carry ?mode=<sales mode>: start with it (and its module) ticked.
    modes = [m for m in request.GET.getlist("mode") if m in dict(SALES_MODES)]
    initial = {"sales_modes": modes, "modules": tenant_services.modules_for_modes(modes)}
    # Bound on every POST, even an empty one (an empty QueryDict is falsy).
    form = SignupForm(request.POST if request.method == "POST" else None, initial=initial)
    status = 200
    if request.method == "POST":
        if not _signup_allowed(request):
            form.is_valid()  # keep what the visitor typed on the page
            form.add_error(None, _("Too many signups from your network. Please try again in an hour."))
            status = 429
        elif form.is_valid():
            data = form.cleaned_data
            try:
                result = tenant_services.tenant_signup(
                    company=data["company"],
                    slug=data["slug"],
                    owner_name=data["owner_name"],
                    email=data["email"],
                    password=data["password"],
                    phone=data["phone"],
                    modules=form.chosen_modules(),
                    sales_modes=list(data["sales_modes"]),
                    language=data["language"],
                )
            except ServiceError as exc:
                show_on_form(form, exc)
            else:
                token = make_token(
                    schema=result.tenant.schema_name, user_id=result.owner_id, purpose="signup"
                )
                return HttpResponseRedirect(
                    tenant_services.tenant_url(result.tenant, f"/auth/handoff/{token}/")
                )
        else:
            form.add_rule_errors()
    return render(
        request,
        "platform/public/signup.html",
        {
            "form": form,
            "address_suffix": _address_suffix(),
            "trial_days": billing_terms().trial_days,
            "currency_symbol": CURRENCY_SYMBOLS.get(settings.DEFAULT_CURRENCY, ""),
        },
        status=status,
    )


@require_GET
def signup_slug_check(request: HttpRequest) -> HttpResponse:
    """htmx: is this workspace address free? Answers a small HTML fragment under the field."""
    slug = request.GET.get("slug", "").strip().lower()
    errors = tenant_services.signup_slug_errors(slug) if slug else []
    return render(
        request,
        "platform/public/_slug_status.html",
        {"slug": slug, "errors": errors, "address_suffix": _address_suffix()},
    )


def healthz(request: HttpRequest) -> HttpResponse:
    """Probe: 200 while the database answers, with each component's status. Redis away only degrades the
    service (pages serve from the database, tasks wait in platform_pendingdispatch), so it is no failure."""
    from django.core.cache import caches
    from django.db import connection as db

    try:
        with db.cursor() as cur:
            cur.execute("SELECT 1")
        database = "ok"
    except Exception:
        database = "down"
    backend = caches["default"]
    ping = getattr(backend, "ping", None)
    cache_ok = ping() if ping is not None else True
    components = {"database": database, "cache": "ok" if cache_ok else "degraded"}
    ok = database == "ok"
    return JsonResponse({"ok": ok, "components": components}, status=200 if ok else 503)
