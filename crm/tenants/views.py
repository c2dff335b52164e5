"""Workspace settings pages (thin: services do the writes)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from crm.platform.errors import ServiceError
from crm.platform.permissions import has_perm
from crm.tenants import services
from crm.tenants.selectors import module_states


@login_required
@require_http_methods(["GET", "POST"])
def modules_page(request: HttpRequest) -> HttpResponse:
    if not has_perm(request.user, "workspace.manage_modules"):  # type: ignore[arg-type]
        raise DjangoPermissionDenied
    tenant = request.tenant  # type: ignore[attr-defined]
    if request.method == "POST":
        module = request.POST.get("module", "")
        enable = request.POST.get("action") == "enable"
        try:
            changed = services.module_set_enabled(tenant=tenant, module=module, enabled=enable,
                                                  actor_email=request.user.email)  # type: ignore[union-attr]
        except ServiceError as exc:
            messages.error(request, str(exc.message))
        else:
            if changed:
                messages.success(request, _("Module turned on.") if enable else _("Module turned off. Its data is kept."))
        return redirect("settings-modules")
    return render(request, "tenants/modules.html", {"states": module_states(tenant)})
