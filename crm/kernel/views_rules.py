"""Approval rules settings pages (/approvals/rules/), for holders of workspace.manage_settings: the rules
with their steps, a form to create or edit one, deactivate / reactivate, and the one-click preset."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from crm.kernel import approval_rules as svc
from crm.kernel.doc_types import doc_type_choices, doc_type_label
from crm.kernel.models import ApprovalRule, ApprovalStep
from crm.platform.decorators import require_perm
from crm.platform.errors import ServiceError, flash_call, show_on_form
from crm.platform.permissions import tenant_role_choices

MAX_STEPS = 3


class RuleForm(forms.Form):
    doc_type = forms.ChoiceField(label=gettext_lazy("Document type"))
    name = forms.CharField(label=gettext_lazy("Name"), max_length=100)
    metric = forms.ChoiceField(label=gettext_lazy("Metric"), choices=ApprovalRule.Metric.choices)
    comparison = forms.ChoiceField(label=gettext_lazy("Comparison"), choices=ApprovalRule.Comparison.choices)
    threshold = forms.DecimalField(label=gettext_lazy("Threshold"), max_digits=16, decimal_places=2)
    is_active = forms.BooleanField(label=gettext_lazy("Active"), required=False, initial=True)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        from crm.tenants.accounts.models import User

        self.fields["doc_type"].choices = doc_type_choices()  # type: ignore[attr-defined]
        kinds = [("", "-"), *ApprovalStep.Kind.choices]
        roles = [("", "-"), *tenant_role_choices()]
        users = [("", "-"), *((str(u.pk), u.name or u.email) for u in User.objects.filter(is_active=True))]
        for i in range(1, MAX_STEPS + 1):
            label = _("Step %(n)s") % {"n": i}
            self.fields[f"step{i}_kind"] = forms.ChoiceField(label=label, choices=kinds, required=i == 1)
            self.fields[f"step{i}_role"] = forms.ChoiceField(label=_("role"), choices=roles, required=False)
            self.fields[f"step{i}_user"] = forms.ChoiceField(label=_("user"), choices=users, required=False)

    def steps(self) -> list[svc.StepData]:
        out = []
        for i in range(1, MAX_STEPS + 1):
            kind = self.cleaned_data.get(f"step{i}_kind") or ""
            if not kind:
                continue
            user = self.cleaned_data.get(f"step{i}_user") or ""
            out.append(
                svc.StepData(
                    kind=kind,
                    role=self.cleaned_data.get(f"step{i}_role") or "",
                    user_id=int(user) if user.isdigit() else None,
                )
            )
        return out


def _initial(rule: ApprovalRule) -> dict[str, Any]:
    data: dict[str, Any] = {
        f: getattr(rule, f) for f in ("doc_type", "name", "metric", "comparison", "threshold", "is_active")
    }
    for i, step in enumerate(rule.steps.order_by("position", "id")[:MAX_STEPS], start=1):
        data[f"step{i}_kind"] = step.kind
        data[f"step{i}_role"] = step.role
        data[f"step{i}_user"] = str(step.user_id or "")
    return data


@require_perm(svc.PERM)
def rule_list(request: HttpRequest) -> HttpResponse:
    rules = list(ApprovalRule.objects.prefetch_related("steps__user").order_by("doc_type", "id"))
    for rule in rules:
        rule.doc_label = doc_type_label(rule.doc_type)  # type: ignore[attr-defined]
    return render(request, "kernel/approval_rules.html", {"rules": rules, "doc_types": doc_type_choices()})


@require_perm(svc.PERM)
def rule_edit(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    rule = get_object_or_404(ApprovalRule, pk=pk) if pk else None
    form = RuleForm(request.POST or None, initial=_initial(rule) if rule else {"is_active": True})
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            svc.rule_save(
                actor=request.user,
                rule=rule,
                doc_type=data["doc_type"],
                name=data["name"],
                metric=data["metric"],
                comparison=data["comparison"],
                threshold=data["threshold"],
                steps=form.steps(),
                is_active=data["is_active"],
            )
        except ServiceError as exc:
            show_on_form(form, exc)
        else:
            messages.success(request, _("Rule saved."))
            return redirect("kernel:approval-rules")  # type: ignore[return-value]
    return render(
        request,
        "kernel/approval_rule_form.html",
        {"form": form, "rule": rule},
        status=400 if form.errors else 200,
    )


@require_perm(svc.PERM)
@require_POST
def rule_toggle(request: HttpRequest, pk: int) -> HttpResponseBase:
    rule = get_object_or_404(ApprovalRule, pk=pk)
    flash_call(
        request,
        lambda: svc.rule_set_active(actor=request.user, rule=rule, active=not rule.is_active),
        _("Rule updated."),
    )
    return redirect("kernel:approval-rules")


@require_perm(svc.PERM)
@require_POST
def rule_preset(request: HttpRequest) -> HttpResponseBase:
    doc_type = request.POST.get("doc_type", "")[:60]
    flash_call(
        request,
        lambda: svc.rules_preset(actor=request.user, doc_type=doc_type),
        lambda made: _("%(n)s rules added.") % {"n": len(made)},
    )
    return redirect("kernel:approval-rules")
