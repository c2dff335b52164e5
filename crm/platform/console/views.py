"""Operator console (public host only): login with a second factor, tenants, suspensions, comps, support
sessions. Thin: forms shape the input, console.services decide, console.selectors read."""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import wraps
from typing import Any, cast
from urllib.parse import urlencode

from axes.handlers.proxy import AxesProxyHandler
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import authenticate, login, logout
from django.contrib.auth.signals import user_login_failed
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from crm.platform.console import selectors, services, totp
from crm.platform.console.forms import (
    CodeForm,
    CompForm,
    ImpersonateForm,
    LoginForm,
    SuspendForm,
)
from crm.platform.errors import ServiceError, flash_call, show_on_form
from crm.platform.permissions import is_operator
from crm.tenants.accounts.models import User
from crm.tenants.migration_runs import migration_runs_recent
from crm.tenants.models import Tenant

BACKEND = "crm.tenants.accounts.backends.EmailBackend"
PENDING_KEY = "console_pending_2fa"
ENROL_KEY = "console_enrol_secret"
PENDING_SECONDS = 300
View = Callable[..., HttpResponse]


def _actor(request: HttpRequest) -> User:
    # Only called behind operator_required, where the user is an authenticated operator.
    return cast(User, request.user)


def operator_required(view: View | None = None, *, enrolment: bool = False) -> Any:
    """Anonymous → console login; a logged-in non-operator → 403; when OPERATOR_2FA_REQUIRED, an operator
    without a second factor → enrolment before anything else."""

    def decorate(func: View) -> View:
        @wraps(func)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            user = request.user
            if not user.is_authenticated:
                return redirect(f"{reverse('console:login')}?{urlencode({'next': request.get_full_path()})}")
            if not is_operator(user):
                raise PermissionDenied
            if not enrolment and services.two_factor_required() and not user.totp_secret:  # type: ignore[union-attr]
                return redirect("console:enrol")
            return func(request, *args, **kwargs)

        return wrapper

    return decorate(view) if view is not None else decorate


def _safe_next(request: HttpRequest) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target.startswith("/console/") and url_has_allowed_host_and_scheme(target, {request.get_host()}):
        return target
    return reverse("console:home")


def _lockout_page(request: HttpRequest) -> HttpResponse | None:
    """The console's own lockout page once django-axes has flagged the request.

    The global lockout page (AXES_LOCKOUT_CALLABLE) is the workspaces' one, with links that only exist on
    tenant hosts; clearing the flag stops AxesMiddleware from swapping this response for it.
    """
    if not getattr(request, "axes_locked_out", False):
        return None
    request.axes_locked_out = False  # type: ignore[attr-defined]
    minutes = int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)
    return render(request, "console/locked.html", {"minutes": minutes}, status=429)


def login_view(request: HttpRequest) -> HttpResponse:
    if is_operator(request.user):
        return redirect("console:home")
    form = LoginForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        email = form.cleaned_data["username"].strip().lower()
        # Through django.contrib.auth.authenticate with the request, so django-axes counts failures and
        # locks the account after AXES_FAILURE_LIMIT of them.
        user = authenticate(request=request, username=email, password=form.cleaned_data["password"])
        locked = _lockout_page(request)
        if locked is not None:
            return locked
        if user is None or not is_operator(user):
            form.add_error(None, _("Wrong email or password."))
        elif user.totp_secret:  # type: ignore[attr-defined]
            request.session.cycle_key()
            request.session[PENDING_KEY] = {"uid": user.pk, "at": time.time(), "next": _safe_next(request)}
            return redirect("console:verify")
        else:
            login(request, user)
            if services.two_factor_required():
                return redirect("console:enrol")
            return HttpResponseRedirect(_safe_next(request))
    return render(request, "console/login.html", {"form": form, "next": request.GET.get("next", "")})


def verify_view(request: HttpRequest) -> HttpResponse:
    """Second step of the login: the TOTP code. Wrong codes count as failed logins for the lockout."""
    pending = request.session.get(PENDING_KEY)
    if not pending or time.time() - pending["at"] > PENDING_SECONDS:
        request.session.pop(PENDING_KEY, None)
        messages.error(request, _("Please log in again."))
        return redirect("console:login")
    user = User.objects.filter(pk=pending["uid"], is_active=True).first()
    if user is None or not is_operator(user):
        request.session.pop(PENDING_KEY, None)
        return redirect("console:login")
    credentials = {"username": user.email}
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        if not AxesProxyHandler.is_allowed(request, credentials):
            request.axes_locked_out = True  # type: ignore[attr-defined]
        elif services.operator_totp_check(user=user, code=form.cleaned_data["code"]):
            request.session.pop(PENDING_KEY, None)
            login(request, user, backend=BACKEND)
            return HttpResponseRedirect(pending.get("next") or reverse("console:home"))
        else:
            # A wrong code counts as a failed login, so guessing codes runs into the same lockout.
            user_login_failed.send(sender=__name__, credentials=credentials, request=request)
            form.add_error("code", _("Wrong or expired code."))
        locked = _lockout_page(request)
        if locked is not None:
            request.session.pop(PENDING_KEY, None)
            return locked
    return render(request, "console/verify.html", {"form": form})


@require_POST
def logout_view(request: HttpRequest) -> HttpResponse:
    logout(request)
    return redirect("console:login")


@operator_required(enrolment=True)
def enrol_view(request: HttpRequest) -> HttpResponse:
    """Set up the second factor: show a new secret and its otpauth:// URI, confirm with a first code."""
    user: User = request.user  # type: ignore[assignment]
    secret = request.session.get(ENROL_KEY)
    if not secret:
        secret = request.session[ENROL_KEY] = totp.generate_secret()
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.operator_totp_enable(actor=user, secret=secret, code=form.cleaned_data["code"])
        except ServiceError as exc:
            show_on_form(form, exc)
        else:
            request.session.pop(ENROL_KEY, None)
            messages.success(request, _("Two-factor authentication is on."))
            return redirect("console:home")
    context = {
        "form": form,
        "secret": secret,
        "uri": totp.provisioning_uri(secret, account=user.email, issuer="SMB CRM"),
        "enrolled": bool(user.totp_secret),
        "required": services.two_factor_required(),
    }
    return render(request, "console/enrol.html", context)


@operator_required
def home(request: HttpRequest) -> HttpResponse:
    """Dashboard header and the tenant list (search, status filter, pages)."""
    q = request.GET.get("q", "")
    status = request.GET.get("status", "")
    page, rows = selectors.tenant_page(
        actor=_actor(request), q=q, status=status, page=request.GET.get("page")
    )
    context = {
        "stats": selectors.dashboard(actor=_actor(request)),
        "page": page,
        "rows": rows,
        "q": q,
        "status": status,
        "statuses": selectors.LISTED_STATUSES,
        "migration_runs": migration_runs_recent(3),
    }
    return render(request, "console/home.html", context)


def _tenant_or_404(request: HttpRequest, pk: int) -> Tenant:
    tenant = selectors.tenant_get(actor=_actor(request), tenant_id=pk)
    if tenant is None:
        raise Http404
    return tenant


@operator_required
def tenant_detail(
    request: HttpRequest, pk: int, forms: dict[str, Any] | None = None, status: int = 200
) -> HttpResponse:
    tenant = _tenant_or_404(request, pk)
    detail = selectors.tenant_detail(actor=_actor(request), tenant=tenant)
    forms = forms or {}
    context = {
        "tenant": tenant,
        **detail,
        "suspend_form": forms.get("suspend") or SuspendForm(),
        "comp_form": forms.get("comp") or CompForm(module_choices=detail["comp_choices"]),
        "impersonate_form": forms.get("impersonate") or ImpersonateForm(),
        "impersonate_user": forms.get("impersonate_user"),
    }
    return render(request, "console/tenant_detail.html", context, status=status)


def _after_action(request: HttpRequest, tenant: Tenant, message: str) -> HttpResponse:
    messages.success(request, message)
    return redirect("console:tenant", pk=tenant.pk)


@require_POST
@operator_required
def tenant_suspend(request: HttpRequest, pk: int) -> HttpResponse:
    tenant = _tenant_or_404(request, pk)
    form = SuspendForm(request.POST)
    if form.is_valid():
        try:
            services.tenant_suspend(actor=_actor(request), tenant=tenant, reason=form.cleaned_data["reason"])
        except ServiceError as exc:
            show_on_form(form, exc)
        else:
            return _after_action(request, tenant, _("The workspace is suspended."))
    return tenant_detail(request, pk, forms={"suspend": form}, status=400)


@require_POST
@operator_required
def tenant_reactivate(request: HttpRequest, pk: int) -> HttpResponse:
    tenant = _tenant_or_404(request, pk)
    if not flash_call(request, lambda: services.tenant_reactivate(actor=_actor(request), tenant=tenant)):
        return redirect("console:tenant", pk=tenant.pk)
    return _after_action(request, tenant, _("The workspace is active again."))


@require_POST
@operator_required
def tenant_comp(request: HttpRequest, pk: int) -> HttpResponse:
    tenant = _tenant_or_404(request, pk)
    form = CompForm(request.POST, module_choices=selectors.comp_choices())
    if form.is_valid():
        try:
            services.module_comp_set(
                actor=_actor(request),
                tenant=tenant,
                module=form.cleaned_data["module"],
                comp=form.cleaned_data["comp"],
                reason=form.cleaned_data["reason"],
            )
        except ServiceError as exc:
            show_on_form(form, exc)
        else:
            return _after_action(request, tenant, _("Module access updated."))
    return tenant_detail(request, pk, forms={"comp": form}, status=400)


@require_POST
@operator_required
def tenant_impersonate(request: HttpRequest, pk: int) -> HttpResponse:
    tenant = _tenant_or_404(request, pk)
    form = ImpersonateForm(request.POST)
    if form.is_valid():
        try:
            _session, url = services.impersonation_start(
                actor=_actor(request),
                tenant=tenant,
                user_id=form.cleaned_data["user_id"],
                reason=form.cleaned_data["reason"],
            )
        except ServiceError as exc:
            show_on_form(form, exc)
        else:
            return HttpResponseRedirect(url)
    return tenant_detail(
        request, pk, forms={"impersonate": form, "impersonate_user": request.POST.get("user_id")}, status=400
    )
