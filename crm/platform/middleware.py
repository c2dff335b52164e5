"""Per-request gates: tenant status, module enablement, language, log context."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils import translation
from django.utils.translation import gettext as _

from crm.platform.logging import current_tenant
from crm.platform.permissions import has_perm
from crm.platform.registry import registry

SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
# Paths a user of a suspended or read-only workspace may still use.
ALWAYS_ALLOWED_PREFIXES = ("/static/", "/auth/logout/", "/auth/impersonation/end/", "/billing/")
# Writes that change no business data, still allowed while billing keeps a workspace read-only: people must
# be able to sign in (to pay), reset a password and switch language.
READ_ONLY_ALLOWED_WRITES = ("/auth/login/", "/auth/password-reset/", "/auth/reset/", "/auth/language/")


def is_public(request: HttpRequest) -> bool:
    tenant = getattr(request, "tenant", None)
    return tenant is None or tenant.schema_name == "public"


def error_payload(code: str, message: str, status: int, fields: dict[str, Any] | None = None) -> JsonResponse:
    """The one error shape of the API (also used by middleware): {"error": {code, message, fields}}."""
    return JsonResponse({"error": {"code": code, "message": message, "fields": fields or {}}}, status=status)


class RequestLogContextMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        tenant = getattr(request, "tenant", None)
        token = current_tenant.set(getattr(tenant, "schema_name", "-"))
        try:
            if settings.SENTRY_DSN:
                import sentry_sdk

                sentry_sdk.get_isolation_scope().set_tag("tenant", getattr(tenant, "schema_name", "-"))
            return self.get_response(request)
        finally:
            current_tenant.reset(token)


def _accepted_language(request: HttpRequest) -> str:
    """The first supported language of the Accept-Language header ("" when none is supported)."""
    from django.utils.translation.trans_real import get_supported_language_variant, parse_accept_lang_header

    for code, _quality in parse_accept_lang_header(request.META.get("HTTP_ACCEPT_LANGUAGE", "")):
        if code == "*":
            break
        try:
            return str(get_supported_language_variant(code))
        except LookupError:
            continue
    return ""


class UserLanguageMiddleware:
    """Pages: the user's own language, else the language cookie, else the workspace default (Chinese
    first). API calls: a supported Accept-Language first (an integrator asks for the language of the
    messages per request; API keys have no session user here), then the same order."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        lang = _accepted_language(request) if request.path.startswith("/api/") else ""
        user = getattr(request, "user", None)
        if lang:
            pass
        elif user is not None and user.is_authenticated and getattr(user, "language", ""):
            lang = user.language
        elif not request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME) and not is_public(request):
            lang = getattr(request.tenant, "default_language", "")  # type: ignore[attr-defined]
        if lang:
            translation.activate(lang)
            request.LANGUAGE_CODE = translation.get_language()
        return self.get_response(request)


class TenantStatusMiddleware:
    """Closed or unused schemas answer 404; operator-suspended workspaces show one clear page; a workspace
    suspended by billing is read-only (reads and exports work, writes get a clear error)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if is_public(request):
            return self.get_response(request)
        tenant = request.tenant  # type: ignore[attr-defined]
        if tenant.status in ("template", "pool", "closed"):
            raise Http404
        if tenant.status == "suspended" and not request.path.startswith(ALWAYS_ALLOWED_PREFIXES):
            api = request.path.startswith("/api/")
            if not tenant.suspended_by_billing:
                msg = _("This workspace is suspended. Please contact support; no data has been deleted.")
                if api:
                    return error_payload("tenant_suspended", msg, 403)
                # The owner can always take the data out: /billing/export/ stays reachable.
                can_export = has_perm(getattr(request, "user", None), "billing.manage")  # type: ignore[arg-type]
                context = {"message": msg, "can_export": can_export}
                return render(request, "platform/suspended.html", context, status=403)
            if request.method not in SAFE_METHODS and not request.path.startswith(READ_ONLY_ALLOWED_WRITES):
                msg = _("This workspace is read-only until the overdue invoice is paid. Nothing was changed.")
                if api:
                    return error_payload("tenant_read_only", msg, 423)
                return render(
                    request, "platform/suspended.html", {"message": msg, "read_only": True}, status=423
                )
        return self.get_response(request)


class ModuleGateMiddleware:
    """URLs and API routes of a module the tenant has not enabled answer 404."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(self, request: HttpRequest, view_func: Any, view_args: Any, view_kwargs: Any) -> Any:
        if is_public(request) or request.resolver_match is None:
            return None
        for namespace in request.resolver_match.namespaces:
            module = registry.module_for_namespace(namespace)
            if module is None:
                continue
            from crm.tenants.selectors import enabled_modules

            if module not in enabled_modules(request.tenant):  # type: ignore[attr-defined]
                if request.path.startswith("/api/"):
                    return error_payload("not_found", _("Not found."), 404)
                raise Http404
        return None
