"""Workspace settings pages: modules, users, invitations, teams, API keys (thin: services do the writes)."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from crm.platform.decorators import require_perm
from crm.platform.errors import ServiceError, flash_call, show_on_form
from crm.platform.permissions import has_perm
from crm.platform.registry import registry
from crm.tenants import services
from crm.tenants.accounts import selectors as account_selectors
from crm.tenants.accounts import services as account_services
from crm.tenants.accounts.models import Team, User
from crm.tenants.forms import ApiKeyForm, InviteForm, TeamForm, UserEditForm
from crm.tenants.selectors import enabled_modules, module_change_log, module_states

SETTINGS_SECTIONS = (
    ("workspace.manage_modules", "settings-modules"),
    ("workspace.manage_users", "settings-users"),
    ("workspace.manage_users", "settings-teams"),
    ("workspace.manage_api_keys", "settings-api-keys"),
)


@require_perm("workspace.manage_settings")
def settings_index(request: HttpRequest) -> HttpResponse:
    allowed = {url for perm, url in SETTINGS_SECTIONS if has_perm(request.user, perm)}  # type: ignore[arg-type]
    return render(request, "tenants/index.html", {"allowed": allowed})


# --- Modules -------------------------------------------------------------------------------------------


def _names(slugs: Any) -> list[str]:
    return [str(registry.get(s).name) for s in sorted(slugs, key=lambda s: str(registry.get(s).name))]


def module_cards(tenant: Any) -> list[dict[str, Any]]:
    """What the modules page shows per module: state badge, price, needs / needed by, what enabling adds
    and which buttons apply. Presentation only: the states come from the selector."""
    effective = enabled_modules(tenant)
    cards = []
    for state in module_states(tenant):
        manifest = state["manifest"]
        slug = str(state["slug"])
        if state["comp"]:
            badge = "comp"
        elif state["chosen"]:
            badge = "on"
        elif state["effective"]:
            badge = "included"
        else:
            badge = "off"
        sellable = manifest.sellable  # type: ignore[attr-defined]
        # Coming soon: shown with its summary, cannot be turned on, not billed while on (turning off works).
        coming_soon = sellable and not manifest.available  # type: ignore[attr-defined]
        blockers = [s for s in registry.dependents(slug, effective) if registry.get(s).sellable]
        cards.append(
            {
                "manifest": manifest,
                "slug": slug,
                "badge": badge,
                "needs": _names(manifest.depends),  # type: ignore[attr-defined]
                "needed_by": _names(registry.dependents(slug, effective)),
                # Modules that come along when this one is switched on (not yet on for the tenant).
                "adds": _names(registry.expand([slug]) - set(effective) - {slug}),
                "coming_soon": coming_soon,
                "can_enable": sellable and not coming_soon and badge in ("off", "included"),
                "can_disable": sellable and badge == "on",
                "blocked_by": _names(blockers),
            }
        )
    return cards


@require_perm("workspace.manage_modules")
@require_http_methods(["GET", "POST"])
def modules_page(request: HttpRequest) -> HttpResponse:
    tenant = request.tenant  # type: ignore[attr-defined]
    result: tuple[str, str] | None = None  # (level, message) of the last action
    if request.method == "POST":
        module = request.POST.get("module", "")
        enable = request.POST.get("action") == "enable"
        try:
            services.module_set_enabled(
                tenant=tenant,
                module=module,
                enabled=enable,
                actor_email=request.user.email,  # type: ignore[union-attr]
            )
        except ServiceError as exc:
            result = ("error", str(exc.message))
        else:
            name = registry.get(module).name
            if enable:
                result = (
                    "success",
                    _("%(name)s is on. Its pages appear on your next click.") % {"name": name},
                )
            else:
                result = ("success", _("%(name)s is off. Its data is kept.") % {"name": name})
        if not request.htmx:  # type: ignore[attr-defined]
            # Plain form post: the message survives the redirect (post/redirect/get).
            getattr(messages, result[0])(request, result[1])
            return redirect("settings-modules")
    log = [{"change": c, "name": registry.name_of(c.module)} for c in module_change_log(tenant)]
    context = {"cards": module_cards(tenant), "log": log, "result": result}
    if request.htmx:  # type: ignore[attr-defined]
        return render(request, "tenants/_modules_list.html", context)
    return render(request, "tenants/modules.html", context)


# --- Users and invitations -----------------------------------------------------------------------------


def _users_page(request: HttpRequest, invite_form: InviteForm, status: int = 200) -> HttpResponse:
    context = {
        "users": account_selectors.user_list(),
        "invitations": account_selectors.invitation_pending_list(),
        "invite_form": invite_form,
    }
    return render(request, "tenants/users.html", context, status=status)


@require_perm("workspace.manage_users")
@require_http_methods(["GET"])
def users_page(request: HttpRequest) -> HttpResponse:
    return _users_page(request, InviteForm(actor=request.user))  # type: ignore[arg-type]


@require_perm("workspace.manage_users")
@require_POST
def invite(request: HttpRequest) -> HttpResponse:
    actor: User = request.user  # type: ignore[assignment]
    form = InviteForm(request.POST, actor=actor)
    if form.is_valid():
        try:
            invitation, _raw = account_services.invitation_create(
                actor=actor,
                email=form.cleaned_data["email"],
                name=form.cleaned_data["name"],
                role=form.cleaned_data["role"],
                team=form.cleaned_data["team"],
                # The link points at the host this workspace is being used on.
                base_url=request.build_absolute_uri("/"),
            )
        except ServiceError as exc:
            show_on_form(form, exc)
        else:
            messages.success(request, _("Invitation sent to %(email)s.") % {"email": invitation.email})
            return redirect("settings-users")
    return _users_page(request, form, status=400)


@require_perm("workspace.manage_users")
@require_POST
def invitation_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    invitation = account_selectors.invitation_get(pk=pk)
    if invitation is None:
        raise Http404
    account_services.invitation_revoke(actor=request.user, invitation=invitation)  # type: ignore[arg-type]
    messages.success(request, _("Invitation to %(email)s revoked.") % {"email": invitation.email})
    return redirect("settings-users")


def _get_user(pk: int) -> User:
    user = account_selectors.user_get(pk=pk)
    if user is None:
        raise Http404
    return user


@require_perm("workspace.manage_users")
@require_http_methods(["GET", "POST"])
def user_edit(request: HttpRequest, pk: int) -> HttpResponse:
    actor: User = request.user  # type: ignore[assignment]
    subject = _get_user(pk)
    initial = {"role": subject.role, "team": subject.team}
    form = UserEditForm(request.POST or None, initial=initial, actor=actor, subject=subject)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                account_services.user_update(
                    actor=actor, user=subject, role=form.cleaned_data["role"], team=form.cleaned_data["team"]
                )
            except ServiceError as exc:
                show_on_form(form, exc)
            else:
                messages.success(request, _("Saved."))
                return redirect("settings-users")
        status = 400
    return render(request, "tenants/user_edit.html", {"form": form, "subject": subject}, status=status)


@require_perm("workspace.manage_users")
@require_POST
def user_active(request: HttpRequest, pk: int) -> HttpResponse:
    subject = _get_user(pk)
    active = request.POST.get("active") == "1"
    flash_call(
        request,
        lambda: account_services.user_set_active(actor=request.user, user=subject, active=active),  # type: ignore[arg-type]
        _("%(name)s can log in again.") % {"name": subject}
        if active
        else _("%(name)s can no longer log in. Their records are kept.") % {"name": subject},
    )
    return redirect("settings-users")


# --- Teams ---------------------------------------------------------------------------------------------


def _team_save(request: HttpRequest, form: TeamForm, team: Team | None) -> bool:
    if not form.is_valid():
        return False
    try:
        account_services.team_save(
            actor=request.user,  # type: ignore[arg-type]
            name=form.cleaned_data["name"],
            manager=form.cleaned_data["manager"],
            parent=form.cleaned_data["parent"],
            team=team,
        )
    except ServiceError as exc:
        show_on_form(form, exc)
        return False
    messages.success(request, _("Team saved."))
    return True


@require_perm("workspace.manage_users")
@require_http_methods(["GET", "POST"])
def teams_page(request: HttpRequest) -> HttpResponse:
    form = TeamForm(request.POST or None)
    if request.method == "POST" and _team_save(request, form, None):
        return redirect("settings-teams")
    status = 400 if request.method == "POST" else 200
    return render(
        request, "tenants/teams.html", {"teams": account_selectors.team_list(), "form": form}, status=status
    )


@require_perm("workspace.manage_users")
@require_http_methods(["GET", "POST"])
def team_edit(request: HttpRequest, pk: int) -> HttpResponse:
    team = account_selectors.team_get(pk=pk)
    if team is None:
        raise Http404
    initial = {"name": team.name, "manager": team.manager, "parent": team.parent}
    form = TeamForm(request.POST or None, initial=initial, team=team)
    if request.method == "POST" and _team_save(request, form, team):
        return redirect("settings-teams")
    status = 400 if request.method == "POST" else 200
    return render(request, "tenants/team_edit.html", {"form": form, "team": team}, status=status)


# --- API keys ------------------------------------------------------------------------------------------


@require_perm("workspace.manage_api_keys")
@require_http_methods(["GET", "POST"])
def api_keys_page(request: HttpRequest) -> HttpResponse:
    form = ApiKeyForm(request.POST or None)
    raw_key = ""
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                _key, raw_key = account_services.api_key_create(
                    actor=request.user,  # type: ignore[arg-type]
                    name=form.cleaned_data["name"],
                    user=form.cleaned_data["user"],
                    read_only=form.cleaned_data["read_only"],
                    modules=form.cleaned_data["modules"],
                )
            except ServiceError as exc:
                show_on_form(form, exc)
                status = 400
            else:
                # Rendered, not redirected: the raw key is shown on this one response and stored nowhere.
                form = ApiKeyForm()
        else:
            status = 400
    context = {"keys": account_selectors.api_key_list(), "form": form, "raw_key": raw_key}
    response = render(request, "tenants/api_keys.html", context, status=status)
    response["Cache-Control"] = "no-store"
    return response


@require_perm("workspace.manage_api_keys")
@require_POST
def api_key_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    key = account_selectors.api_key_get(pk=pk)
    if key is None:
        raise Http404
    account_services.api_key_revoke(actor=request.user, key=key)  # type: ignore[arg-type]
    messages.success(
        request, _("Key “%(name)s” revoked. Requests using it are refused.") % {"name": key.name}
    )
    return redirect("settings-api-keys")
