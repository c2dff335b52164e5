"""Login, logout, cross-host handoff, support-session end, profile, invitations, password reset."""

from __future__ import annotations

from typing import Any

from axes.utils import reset as axes_reset
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login, logout
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from crm.platform.errors import ServiceError, show_on_form
from crm.tenants.accounts import services
from crm.tenants.accounts.backends import axes_username
from crm.tenants.accounts.forms import InviteAcceptForm, LoginForm, ProfileForm
from crm.tenants.accounts.handoff import consume_token
from crm.tenants.accounts.models import User
from crm.tenants.accounts.tokens import tenant_token_generator

BACKEND = "crm.tenants.accounts.backends.EmailBackend"


class LoginView(auth_views.LoginView):
    """Per workspace host: the backend looks the email up in this tenant's schema only. Django's view
    passes the request to authenticate(), which django-axes needs to count failures and lock out."""

    template_name = "accounts/login.html"
    form_class = LoginForm
    redirect_authenticated_user = True


def lockout_response(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
    """Shown by django-axes after too many failed logins for one account on this workspace."""
    minutes = int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)
    return render(request, "accounts/locked.html", {"minutes": minutes}, status=429)


@require_POST
def logout_view(request: HttpRequest) -> HttpResponse:
    if request.session.get("impersonation"):
        return impersonation_end(request)
    logout(request)
    return redirect("login")


def handoff(request: HttpRequest, token: str) -> HttpResponse:
    """Consume a one-time login link made on the public host (signup) or in the operator console."""
    payload = consume_token(schema=request.tenant.schema_name, token=token)  # type: ignore[attr-defined]
    if payload is None:
        messages.error(request, _("This sign-in link has expired or was already used. Please log in."))
        return redirect("login")
    user = User.objects.filter(pk=payload["u"], is_active=True).first()
    if user is None:
        raise Http404
    login(request, user, backend=BACKEND)
    if payload["p"] == "impersonate":
        from crm.platform.console.services import impersonation_started

        session = impersonation_started(session_id=payload["imp"])
        request.session["impersonation"] = {"id": session.pk, "operator_email": session.operator.email}
        services.audit(
            actor=user,
            action="impersonation.start",
            label=f"{session.operator.email} as {user.email}",
            detail={"reason": session.reason, "session": session.pk},
        )
    return redirect("/")


@require_POST
def impersonation_end(request: HttpRequest) -> HttpResponse:
    info = request.session.get("impersonation")
    if info:
        from crm.platform.console.services import impersonation_ended

        impersonation_ended(session_id=info["id"])
        services.audit(
            actor=request.user if request.user.is_authenticated else None,  # type: ignore[arg-type]
            action="impersonation.end",
            label=info["operator_email"],
            detail={"session": info["id"]},
        )
    logout(request)
    port = f":{settings.SITE_PORT}" if settings.SITE_PORT else ""
    return HttpResponseRedirect(f"{settings.SITE_SCHEME}://{settings.BASE_DOMAIN}{port}/console/")


def _language_cookie(response: HttpResponse, language: str) -> None:
    # The cookie keeps the choice on the login page after logging out; empty means the workspace default.
    if language:
        response.set_cookie(
            settings.LANGUAGE_COOKIE_NAME,
            language,
            max_age=settings.LANGUAGE_COOKIE_AGE,
            samesite=settings.LANGUAGE_COOKIE_SAMESITE,
        )
    else:
        response.delete_cookie(settings.LANGUAGE_COOKIE_NAME)


@login_required
@require_http_methods(["GET", "POST"])
def profile(request: HttpRequest) -> HttpResponse:
    user: User = request.user  # type: ignore[assignment]
    initial = {"name": user.name, "phone": user.phone, "language": user.language}
    form = ProfileForm(request.POST or None, initial=initial)
    if request.method == "POST":
        if form.is_valid():
            try:
                services.profile_update(actor=user, **form.cleaned_data)
            except ServiceError as exc:
                show_on_form(form, exc)
            else:
                messages.success(request, _("Saved."))
                response = redirect("profile")
                _language_cookie(response, form.cleaned_data["language"])
                return response
        return render(request, "accounts/profile.html", {"form": form}, status=400)
    return render(request, "accounts/profile.html", {"form": form})


@require_POST
def language_switch(request: HttpRequest) -> HttpResponse:
    """The header's language menu. Django's set_language only sets the cookie, which a user's saved
    language would override; so for a logged-in user the choice is saved on the user as well."""
    language = request.POST.get("language", "")
    if language not in dict(settings.LANGUAGES):
        language = ""
    if request.user.is_authenticated:
        services.user_language_set(actor=request.user, language=language)  # type: ignore[arg-type]
    target = request.POST.get("next", "/")
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        target = "/"
    response = redirect(target)
    _language_cookie(response, language)
    return response


@require_http_methods(["GET", "POST"])
def invite_accept(request: HttpRequest, token: str) -> HttpResponse:
    """Expired, used or revoked links get a clear page with status 410 (Gone)."""
    invitation = services.invitation_for_token(token)
    if invitation is None:
        return render(request, "accounts/invite_invalid.html", status=410)
    form = InviteAcceptForm(request.POST or None, initial={"name": invitation.name})
    if request.method == "POST":
        if form.is_valid():
            try:
                user = services.invitation_accept(
                    token=token, name=form.cleaned_data["name"], password=form.cleaned_data["password"]
                )
            except ServiceError as exc:
                show_on_form(form, exc)
            else:
                if request.user.is_authenticated:
                    logout(request)
                login(request, user, backend=BACKEND)
                messages.success(request, _("Welcome! Your account is ready."))
                return redirect("/")
        status = 400
    else:
        status = 200
    context = {"form": form, "invitation": invitation}
    return render(request, "accounts/invite_accept.html", context, status=status)


class PasswordResetView(auth_views.PasswordResetView):
    """Mails a link on this workspace's host (the request's host: tenant routing already tied it to the
    workspace) with a token bound to this workspace's schema. Only this workspace's users get one."""

    template_name = "accounts/password_reset.html"
    email_template_name = "accounts/password_reset_email.txt"
    subject_template_name = "accounts/password_reset_subject.txt"
    token_generator = tenant_token_generator

    def form_valid(self, form: Any) -> HttpResponse:
        self.extra_email_context = {"workspace": self.request.tenant}  # type: ignore[attr-defined]
        return super().form_valid(form)


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    """Choosing a new password also lifts a lockout: the lockout page sends people here."""

    template_name = "accounts/password_reset_confirm.html"
    token_generator = tenant_token_generator

    def form_valid(self, form: Any) -> HttpResponse:
        response = super().form_valid(form)
        axes_reset(username=axes_username(None, {"username": form.user.email}))
        return response
