"""Login, logout, cross-host handoff, support-session end, profile, invitations, password reset."""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login, logout
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from crm.platform.errors import ServiceError
from crm.tenants.accounts import services
from crm.tenants.accounts.handoff import consume_token
from crm.tenants.accounts.models import User
from crm.tenants.accounts.tokens import TenantPasswordResetTokenGenerator

BACKEND = "crm.tenants.accounts.backends.EmailBackend"


class LoginForm(forms.Form):
    username = forms.EmailField(label=gettext_lazy("Email"))
    password = forms.CharField(label=gettext_lazy("Password"), widget=forms.PasswordInput)


class LoginView(auth_views.LoginView):
    template_name = "accounts/login.html"
    redirect_authenticated_user = True

    def form_invalid(self, form: Any) -> HttpResponse:
        return super().form_invalid(form)


def lockout_response(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
    """Shown by django-axes after too many failed logins for one account on this workspace."""
    return render(request, "accounts/locked.html", {
        "minutes": int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)}, status=429)


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
        services.audit(actor=user, action="impersonation.start",
                       label=f"{session.operator.email} as {user.email}",
                       detail={"reason": session.reason, "session": session.pk})
    return redirect("/")


@require_POST
def impersonation_end(request: HttpRequest) -> HttpResponse:
    info = request.session.get("impersonation")
    if info:
        from crm.platform.console.services import impersonation_ended

        impersonation_ended(session_id=info["id"])
        services.audit(actor=request.user if request.user.is_authenticated else None,  # type: ignore[arg-type]
                       action="impersonation.end", label=info["operator_email"], detail={"session": info["id"]})
    logout(request)
    port = f":{settings.SITE_PORT}" if settings.SITE_PORT else ""
    return HttpResponseRedirect(f"{settings.SITE_SCHEME}://{settings.BASE_DOMAIN}{port}/console/")


class ProfileForm(forms.ModelForm):
    class Meta:
        model = User
        fields = ["name", "phone", "language"]


@login_required
def profile(request: HttpRequest) -> HttpResponse:
    form = ProfileForm(request.POST or None, instance=request.user)
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(request, _("Saved."))
        response = redirect("profile")
        lang = form.cleaned_data["language"]
        if lang:
            response.set_cookie(settings.LANGUAGE_COOKIE_NAME, lang)
        else:
            response.delete_cookie(settings.LANGUAGE_COOKIE_NAME)
        return response
    return render(request, "accounts/profile.html", {"form": form})


class InviteAcceptForm(forms.Form):
    name = forms.CharField(label=gettext_lazy("Your name"), max_length=100)
    password = forms.CharField(label=gettext_lazy("Password"), widget=forms.PasswordInput)


def invite_accept(request: HttpRequest, token: str) -> HttpResponse:
    invitation = services.invitation_for_token(token)
    if invitation is None:
        return render(request, "accounts/invite_invalid.html", status=410)
    form = InviteAcceptForm(request.POST or None, initial={"name": invitation.name})
    if request.method == "POST" and form.is_valid():
        try:
            user = services.invitation_accept(token=token, name=form.cleaned_data["name"],
                                              password=form.cleaned_data["password"])
        except ServiceError as exc:
            for field, errs in exc.fields.items():
                for err in errs:
                    form.add_error(field if field in form.fields else None, err)
            if not exc.fields:
                form.add_error(None, str(exc.message))
        else:
            login(request, user, backend=BACKEND)
            return redirect("/")
    return render(request, "accounts/invite_accept.html", {"form": form, "invitation": invitation})


class PasswordResetView(auth_views.PasswordResetView):
    template_name = "accounts/password_reset.html"
    email_template_name = "accounts/password_reset_email.txt"
    subject_template_name = "accounts/password_reset_subject.txt"
    token_generator = TenantPasswordResetTokenGenerator()

    def get_extra_email_context(self) -> dict[str, Any]:  # type: ignore[override]
        return {"workspace": self.request.tenant, "now": timezone.now()}  # type: ignore[attr-defined]
