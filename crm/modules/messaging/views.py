"""The care page: edit templates and notice windows, see recent outbound messages.

Messaging has no URLs of its own; the module that offers care mounts `care_page` in its namespace and
passes the permission that guards it (retail: `retail.manage`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from crm.platform.errors import ServiceError, show_on_form
from crm.platform.permissions import has_perm

from . import selectors, services
from .models import Channel, EventKind


class TemplateForm(forms.Form):
    kind = forms.ChoiceField(choices=EventKind.choices, widget=forms.HiddenInput)
    channel = forms.ChoiceField(choices=Channel.choices, widget=forms.HiddenInput)
    subject = forms.CharField(label=gettext_lazy("Subject"), max_length=200, required=False)
    body = forms.CharField(
        label=gettext_lazy("Text"), widget=forms.Textarea(attrs={"rows": 3}), required=False
    )
    is_active = forms.BooleanField(label=gettext_lazy("Send"), required=False)


class SettingsForm(forms.Form):
    points_notice_days = forms.IntegerField(label=gettext_lazy("Points expiry notice (days ahead)"))
    membership_notice_days = forms.IntegerField(label=gettext_lazy("Membership expiry notice (days ahead)"))


@login_required
def care_page(
    request: HttpRequest, perm: str, panel: Callable[[HttpRequest], dict[str, Any]] | None = None
) -> HttpResponse:
    """`panel`: the mounting module's status box above the settings (e.g. retail's last care run): a
    callable returning a context with the `template` to include."""
    user = request.user
    if not has_perm(user, perm):  # type: ignore[arg-type]
        raise DjangoPermissionDenied
    care = services.care_settings_get()
    settings_form = SettingsForm(
        initial={
            "points_notice_days": care.points_notice_days,
            "membership_notice_days": care.membership_notice_days,
        }
    )
    failed: TemplateForm | None = None
    if request.method == "POST":
        try:
            if "settings" in request.POST:
                settings_form = SettingsForm(request.POST)
                if settings_form.is_valid():
                    services.care_settings_update(actor=user, perm=perm, **settings_form.cleaned_data)  # type: ignore[arg-type]
                    messages.success(request, _("Care settings saved."))
                    return redirect(request.path)
            else:
                failed = TemplateForm(request.POST)
                if failed.is_valid():
                    services.template_update(actor=user, perm=perm, **failed.cleaned_data)  # type: ignore[arg-type]
                    messages.success(request, _("Template saved."))
                    return redirect(request.path)
        except ServiceError as exc:
            target = failed if failed is not None else settings_form
            show_on_form(target, exc)
    rows = []
    for template in services.templates_ensure():
        form = TemplateForm(
            initial={
                "kind": template.kind,
                "channel": template.channel,
                "subject": template.subject,
                "body": template.body,
                "is_active": template.is_active,
            },
            auto_id=f"id_{template.kind}_{template.channel}_%s",  # several forms on one page: unique ids
        )
        if (
            failed is not None
            and failed.data.get("kind") == template.kind
            and failed.data.get("channel") == template.channel
        ):
            form = failed  # show the refused input with its errors
        rows.append({"template": template, "form": form})
    return render(
        request,
        "messaging/care.html",
        {
            "rows": rows,
            "settings_form": settings_form,
            "outbound": list(selectors.outbound_recent()),
            "names": services.CONTEXT_NAMES,
            "panel": panel(request) if panel is not None else None,
        },
    )
