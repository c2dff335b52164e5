"""Operator console: restore one workspace from one of its exports (crm.tenants.backup). Thin views: the
form shapes the input, backup.restore_request decides; the job page polls its progress (htmx)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from crm.platform.console.views import _actor, _tenant_or_404, operator_required
from crm.platform.errors import ServiceError, show_on_form
from crm.tenants import backup
from crm.tenants.models import RestoreJob, Tenant


class RestoreForm(forms.Form):
    archive = forms.ChoiceField(label=gettext_lazy("Export"))
    mode = forms.ChoiceField(
        label=gettext_lazy("How"), choices=RestoreJob.Mode.choices, widget=forms.RadioSelect
    )
    confirm = forms.CharField(
        label=gettext_lazy("Type the workspace's name to confirm"),
        max_length=40,
        widget=forms.TextInput(attrs={"autocomplete": "off", "autocapitalize": "off"}),
    )

    def __init__(self, *args: Any, exports: list[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["archive"].choices = [(name, name) for name in exports]  # type: ignore[attr-defined]


def _page(
    request: HttpRequest, tenant: Tenant, form: RestoreForm | None = None, status: int = 200
) -> HttpResponse:
    exports = [p.name for p in backup.exports_list(tenant)]
    context = {
        "tenant": tenant,
        "exports": exports,
        "form": form or RestoreForm(exports=exports, initial={"mode": "new_schema"}),
        "jobs": backup.restore_jobs(actor=_actor(request), tenant=tenant),
    }
    return render(request, "console/restore.html", context, status=status)


@operator_required
def restore(request: HttpRequest, pk: int) -> HttpResponse:
    tenant = _tenant_or_404(request, pk)
    if request.method != "POST":
        return _page(request, tenant)
    exports = [p.name for p in backup.exports_list(tenant)]
    form = RestoreForm(request.POST, exports=exports)
    if form.is_valid():
        try:
            job = backup.restore_request(actor=_actor(request), tenant=tenant, **form.cleaned_data)
        except ServiceError as exc:
            show_on_form(form, exc)
        else:
            messages.success(request, _("The restore is queued; its progress is shown below."))
            return redirect("console:tenant-restore-job", pk=tenant.pk, job_id=job.pk)
    return _page(request, tenant, form, status=400)


@operator_required
def restore_job(request: HttpRequest, pk: int, job_id: int) -> HttpResponse:
    tenant = _tenant_or_404(request, pk)
    job = next((j for j in backup.restore_jobs(actor=_actor(request), tenant=tenant) if j.pk == job_id), None)
    if job is None:
        raise Http404
    template = (
        "console/_restore_job.html" if request.headers.get("HX-Request") else "console/restore_job.html"
    )
    return render(request, template, {"tenant": tenant, "job": job})
