"""The approver's queue (/approvals/): one card per pending step, approve or reject with a comment.
htmx swaps the decided card for a one-line result; without htmx the form posts and redirects."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from crm.kernel import approvals
from crm.kernel.notices import notice_list, notice_mark_read
from crm.platform.errors import ServiceError


@login_required
def queue(request: HttpRequest) -> HttpResponse:
    from crm.kernel.doc_types import queue_rows

    pending = queue_rows(list(approvals.approval_queue(request.user)), request.user)
    from crm.platform.permissions import has_perm

    can_rules = has_perm(request.user, "workspace.manage_settings")  # type: ignore[arg-type]
    return render(request, "kernel/approvals.html", {"pending": pending, "can_manage_rules": can_rules})


@login_required
@require_POST
def decide(request: HttpRequest, pk: int) -> HttpResponse:
    approve = request.POST.get("decision") == "approve"
    comment = request.POST.get("comment", "").strip()[:2000]
    htmx = request.headers.get("HX-Request") == "true"
    try:
        req = approvals.approval_get_for_decision(user=request.user, pk=pk)
        req = approvals.approval_decide(actor=request.user, request=req, approve=approve, comment=comment)
    except ServiceError as exc:
        if htmx:
            return render(
                request, "kernel/_decision.html", {"error": str(exc.message), "pk": pk}, status=exc.status
            )
        messages.error(request, str(exc.message))
        return redirect("kernel:approvals")
    done = _("%(number)s approved.") if approve else _("%(number)s rejected.")
    text = done % {"number": req.number}
    if htmx:
        return render(request, "kernel/_decision.html", {"done": text, "pk": pk})
    messages.success(request, text)
    return redirect("kernel:approvals")


@login_required
def notices(request: HttpRequest) -> HttpResponse:
    rows = list(notice_list(request.user))
    notice_mark_read(actor=request.user)
    return render(request, "kernel/notices.html", {"notices": rows})
