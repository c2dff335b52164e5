"""Approvals of documents: rules per document type, ordered steps, requests and decisions.

The guard lives in the transition (`states.transition` calls `approval_guard` whenever the target is
the model's confirmed state), so no view, API or task can confirm around it. What it checks, always on
the saved rows (the document is locked and re-read, lines come from the database):

- every active rule the document matches has an APPROVED request for this very document (a copy is
  another object and has none), and
- that request's fingerprint (a hash of customer, terms, currency, material fields and lines, taken at
  submission) equals the document's fingerprint now: any material edit after approval puts the document
  back to "needs approval" without anybody having to remember to reset a flag.

Nobody decides a request for their own document (owner or requester); a rejected request stays
rejected, the document needs a new submission.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import F, QuerySet
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from crm.kernel.documents import line_model
from crm.kernel.models import (
    ApprovalAssignment,
    ApprovalDecision,
    ApprovalRequest,
    ApprovalRule,
    ApprovalStep,
    Document,
)
from crm.kernel.notices import notice_send
from crm.platform.errors import PermissionDenied, ServiceError
from crm.platform.permissions import ADMINS

Status = ApprovalRequest.Status

# Document states as the approval UI shows them (derived, never stored).
NOT_REQUIRED, NEEDS_APPROVAL, PENDING, APPROVED, REJECTED = (
    "not_required",
    "needs_approval",
    "pending",
    "approved",
    "rejected",
)

LINE_FIELDS = (
    "product_id",
    "description",
    "quantity",
    "unit",
    "unit_price_incl",
    "vat_rate",
    "discount_percent",
    "unit_cost_excl",
)


def material_fingerprint(document: Document) -> str:
    """sha256 of the material fields as saved in the database (not the in-memory object)."""
    model = type(document)
    header_fields = ["currency", "terms", *model.material_fields]
    if any(f.name == "customer" for f in model._meta.get_fields()):
        header_fields.insert(0, "customer_id")
    header = model._default_manager.filter(pk=document.pk).values(*header_fields).get()
    lines = list(
        line_model(model)
        ._default_manager.filter(document_id=document.pk)
        .order_by("position", "id")
        .values_list(*LINE_FIELDS)
    )
    payload = json.dumps({"header": header, "lines": lines}, sort_keys=True, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()


def _metric(document: Document, metric: str) -> Decimal | None:
    if metric == ApprovalRule.Metric.AMOUNT:
        return document.total_incl
    if metric == ApprovalRule.Metric.DISCOUNT:
        return document.discount_percent
    return document.margin_percent


def rule_matches(rule: ApprovalRule, document: Document) -> bool:
    value = _metric(document, rule.metric)
    if value is None:
        # No cost known: a margin rule cannot be shown to pass, so it applies.
        return rule.metric == ApprovalRule.Metric.MARGIN
    return {
        "gt": value > rule.threshold,
        "gte": value >= rule.threshold,
        "lt": value < rule.threshold,
        "lte": value <= rule.threshold,
    }[rule.comparison]


def matching_rules(document: Document, *, fresh: bool = False) -> list[ApprovalRule]:
    """The active rules of the document's type that its saved totals match (`fresh`: the caller has
    just read the document from the database, e.g. locked by the transition)."""
    saved = document if fresh else type(document)._default_manager.get(pk=document.pk)
    rules = ApprovalRule.objects.filter(doc_type=type(document).doc_type, is_active=True)
    return [r for r in rules if rule_matches(r, saved)]


def _requests_of(document: Document) -> QuerySet[ApprovalRequest]:
    return ApprovalRequest.objects.filter(
        content_type=ContentType.objects.get_for_model(type(document)), object_id=document.pk
    )


def approval_status(document: Document) -> str:
    """not_required / needs_approval / pending / approved / rejected, from the saved document."""
    rules = matching_rules(document)
    if not rules:
        return NOT_REQUIRED
    fingerprint = material_fingerprint(document)
    latest: dict[int, ApprovalRequest] = {}
    for req in _requests_of(document).filter(rule__in=rules).order_by("id"):
        latest[req.rule_id] = req
    states: list[str] = []
    for rule in rules:
        found = latest.get(rule.pk)
        if found is None or found.status == Status.WITHDRAWN or found.fingerprint != fingerprint:
            states.append(NEEDS_APPROVAL)
        else:
            states.append(str(found.status))  # pending / approved / rejected: the same words
    for state in (REJECTED, NEEDS_APPROVAL, PENDING):
        if state in states:
            return state
    return APPROVED


def approval_guard(document: Document) -> None:
    """Refuse (ServiceError) unless every rule the saved document matches has an approved request for
    the document as it is now. Called by `states.transition` inside its transaction, with the document
    it has just locked and read."""
    rules = matching_rules(document, fresh=True)
    if not rules:
        return
    fingerprint = material_fingerprint(document)
    approved = set(
        _requests_of(document)
        .filter(rule__in=rules, status=Status.APPROVED, fingerprint=fingerprint)
        .values_list("rule_id", flat=True)
    )
    missing = [r for r in rules if r.pk not in approved]
    if missing:
        raise ServiceError(
            _("%(number)s needs approval (%(rules)s) before it can be confirmed.")
            % {"number": document.number, "rules": ", ".join(r.name for r in missing)},
            code="approval_required",
        )


def _manager_chain(owner: Any) -> Any | None:
    """The first manager above the owner: their team's manager, else the parent team's, and so on."""
    team = owner.team
    seen: set[int] = set()
    while team is not None and team.pk not in seen:
        seen.add(team.pk)
        if team.manager_id and team.manager_id != owner.pk and team.manager.is_active:
            return team.manager
        team = team.parent
    return None


def step_approvers(step: ApprovalStep, *, owner: Any, requester: Any) -> list[Any]:
    """Who decides this step: never the document's owner or the requester. A manager step with no
    manager above the owner goes to the workspace owners and admins."""
    from crm.tenants.accounts.models import User

    excluded = {owner.pk, requester.pk}
    if step.kind == ApprovalStep.Kind.USER:
        users = [step.user] if step.user is not None and step.user.is_active else []
    elif step.kind == ApprovalStep.Kind.ROLE:
        users = list(User.objects.filter(role=step.role, is_active=True))
    else:
        manager = _manager_chain(owner)
        users = [manager] if manager else list(User.objects.filter(role__in=ADMINS, is_active=True))
    return [u for u in users if u.pk not in excluded]


def _steps(rule: ApprovalRule) -> list[ApprovalStep]:
    return list(rule.steps.select_related("user").order_by("position", "id"))


def _open_step(request: ApprovalRequest, index: int, owner: Any, requester: Any) -> None:
    steps = _steps(request.rule)
    approvers = step_approvers(steps[index - 1], owner=owner, requester=requester)
    if not approvers:
        raise ServiceError(
            _("Nobody can approve step %(step)s of “%(rule)s”: ask an administrator to fix the rule.")
            % {"step": index, "rule": request.rule.name},
            code="no_approver",
        )
    request.current_step = index
    ApprovalAssignment.objects.bulk_create(
        [ApprovalAssignment(request=request, step=index, user=u) for u in approvers], ignore_conflicts=True
    )
    url = reverse("kernel:approvals")
    for user in approvers:
        with translation.override(user.language or None):
            title = _("%(number)s waits for your approval (%(rule)s)") % {
                "number": request.number,
                "rule": request.rule.name,
            }
        notice_send(user=user, title=title, url=url)
        _mail_on_commit(user, title, url)


def _mail_on_commit(user: Any, title: str, url: str) -> None:
    body = f"{title}\n\n{url}"
    transaction.on_commit(
        lambda: send_mail(title, body, settings.DEFAULT_FROM_EMAIL, [user.email], fail_silently=True)
    )


def approval_submit(*, actor: Any, document: Document, _locked: bool = False) -> list[ApprovalRequest]:
    """Open a request for each rule the document matches and that has no pending or approved request for
    its current contents; pending requests for older contents are withdrawn. Returns the new requests."""
    model = type(document)
    created: list[ApprovalRequest] = []
    with transaction.atomic():
        if not _locked:
            model._default_manager.select_for_update().filter(pk=document.pk).first()
        saved = model._default_manager.select_related("owner__team").get(pk=document.pk)
        if saved.state in (model.confirmed_state, model.cancelled_state):
            raise ServiceError(
                _("%(number)s is already %(state)s.") % {"number": saved.number, "state": saved.state_label()}
            )
        fingerprint = material_fingerprint(saved)
        existing = _requests_of(saved)
        for rule in matching_rules(saved, fresh=True):
            current = existing.filter(rule=rule, status__in=[Status.PENDING, Status.APPROVED])
            if current.filter(fingerprint=fingerprint).exists():
                continue
            current.filter(status=Status.PENDING).update(status=Status.WITHDRAWN, decided_at=timezone.now())
            if not rule.steps.exists():
                continue
            request = ApprovalRequest.objects.create(
                content_type=ContentType.objects.get_for_model(model),
                object_id=saved.pk,
                doc_type=model.doc_type,
                number=saved.number,
                rule=rule,
                fingerprint=fingerprint,
                requested_by=actor,
                document_owner=saved.owner,
                amount=saved.total_incl,
                currency=saved.currency,
            )
            _open_step(request, 1, saved.owner, actor)
            request.save(update_fields=["current_step", "updated_at"])
            created.append(request)
    return created


def approval_decide(
    *, actor: Any, request: ApprovalRequest, approve: bool, comment: str = ""
) -> ApprovalRequest:
    """The actor's decision on the request's current step. Only an approver assigned to that step may
    decide, never for their own document; a document edited since submission cannot be approved."""
    with transaction.atomic():
        req = ApprovalRequest.objects.select_for_update().select_related("rule").get(pk=request.pk)
        if req.status != Status.PENDING:
            raise ServiceError(
                _("This request is already %(status)s.") % {"status": req.get_status_display()},
                code="not_pending",
            )
        if actor.pk in (req.document_owner_id, req.requested_by_id):
            raise PermissionDenied(_("You cannot approve your own document."))
        if not req.assignments.filter(step=req.current_step, user=actor).exists():
            raise PermissionDenied(_("You are not an approver of this step."))
        document = req.document()
        if not approve and not comment.strip():
            raise ServiceError(_("Please say why you reject it."), field="comment")
        if approve and material_fingerprint(document) != req.fingerprint:
            raise ServiceError(
                _("%(number)s was changed after it was submitted: it must be submitted again.")
                % {"number": req.number},
                code="document_changed",
            )
        ApprovalDecision.objects.create(
            request=req,
            step=req.current_step,
            outcome=ApprovalDecision.Outcome.APPROVED if approve else ApprovalDecision.Outcome.REJECTED,
            decided_by=actor,
            comment=comment,
        )
        steps = _steps(req.rule)
        if approve and req.current_step < len(steps):
            _open_step(req, req.current_step + 1, document.owner, req.requested_by)
        else:
            req.status = Status.APPROVED if approve else Status.REJECTED
            req.decided_at = timezone.now()
            requester = req.requested_by
            with translation.override(requester.language or None):
                if approve:
                    title = _("%(number)s was approved") % {"number": req.number}
                else:
                    title = _("%(number)s was rejected: %(comment)s") % {
                        "number": req.number,
                        "comment": comment,
                    }
            notice_send(user=requester, title=title, url="")
            _mail_on_commit(requester, title, "")
        req.save()
    return req


def approval_withdraw(*, actor: Any, request: ApprovalRequest) -> ApprovalRequest:
    """The requester or the document's owner takes a pending request back."""
    with transaction.atomic():
        req = ApprovalRequest.objects.select_for_update().get(pk=request.pk)
        if actor.pk not in (req.requested_by_id, req.document_owner_id):
            raise PermissionDenied(_("Only the requester can withdraw this request."))
        if req.status != Status.PENDING:
            raise ServiceError(
                _("This request is already %(status)s.") % {"status": req.get_status_display()},
                code="not_pending",
            )
        req.status = Status.WITHDRAWN
        req.decided_at = timezone.now()
        req.save(update_fields=["status", "decided_at", "updated_at"])
    return req


def approval_withdraw_all(document: Document) -> int:
    """Withdraw the document's pending requests (it was cancelled). Runs in the caller's transaction."""
    return (
        _requests_of(document)
        .filter(status=Status.PENDING)
        .update(status=Status.WITHDRAWN, decided_at=timezone.now())
    )


def approval_queue(user: Any) -> QuerySet[ApprovalRequest]:
    """The pending requests whose current step the user is an approver of (constant query count)."""
    return (
        ApprovalRequest.objects.filter(
            status=Status.PENDING,
            assignments__user=user,
            assignments__step=F("current_step"),
        )
        .exclude(document_owner=user)
        .select_related("rule", "requested_by", "document_owner")
        .order_by("id")
    )


def approval_get_for_decision(*, user: Any, pk: int) -> ApprovalRequest:
    """A request in the user's queue, else NotFound (other people's requests are not disclosed)."""
    from crm.platform.errors import NotFound

    found = approval_queue(user).filter(pk=pk).first()
    if found is None:
        raise NotFound(_("This request is not waiting for you."))
    return found


def approval_decisions(request: ApprovalRequest) -> Sequence[ApprovalDecision]:
    return list(request.decisions.select_related("decided_by"))
