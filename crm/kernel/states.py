"""Declared, guarded, recorded state machines for documents.

A concrete document declares `transitions = (Transition(...), ...)`. `transition()` is the only way a
document changes state: it locks the row, reads the saved state from the database (never the in-memory
object, so "confirm without saving" cannot skip a guard), checks the permission and the guards, runs the
approval guard when the target is the model's confirmed state, changes the state and writes the
transition log, all in one transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.utils.translation import gettext as _

from crm.kernel.models import Document, TransitionLog
from crm.platform.errors import ServiceError
from crm.platform.permissions import check_perm

Guard = Callable[[Any, Any], None]  # (actor, document read from the DB) -> None, raises ServiceError


@dataclass(frozen=True)
class Transition:
    """`name` moves a document from one of `source` to `target`, for holders of `permission`."""

    name: str
    source: tuple[str, ...]
    target: str
    label: Any
    permission: str | None = None
    guards: tuple[Guard, ...] = ()
    submits_for_approval: bool = False  # opens approval requests for the rules the document matches
    reason_required: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


def transitions_of(model: type[Document]) -> dict[str, Transition]:
    return {t.name: t for t in model.transitions}


def available_transitions(*, actor: Any, document: Document) -> list[Transition]:
    """The transitions the actor may try from the document's state (guards are checked on the try)."""
    from crm.platform.permissions import has_perm

    return [
        t
        for t in type(document).transitions
        if document.state in t.source and (t.permission is None or has_perm(actor, t.permission))
    ]


def transition(*, actor: Any, document: Document, name: str, reason: str = "") -> Document:
    """Apply transition `name` to `document`; returns the saved document (the passed object is updated)."""
    model = type(document)
    declared = transitions_of(model).get(name)
    if declared is None:
        raise ServiceError(_("Unknown action %(name)s.") % {"name": name}, code="illegal_transition")
    if declared.permission:
        check_perm(actor, declared.permission)
    if declared.reason_required and not reason.strip():
        raise ServiceError(_("Please give a reason."), field="reason")
    with transaction.atomic():
        saved = model._default_manager.select_for_update().get(pk=document.pk)
        if saved.state not in declared.source:
            raise ServiceError(
                _("%(number)s is %(state)s: “%(action)s” is not possible.")
                % {"number": saved.number, "state": saved.state_label(), "action": declared.label},
                code="illegal_transition",
            )
        for guard in declared.guards:
            guard(actor, saved)
        if declared.target == model.confirmed_state:
            from crm.kernel.approvals import approval_guard

            approval_guard(saved)
        before = saved.state
        saved.state = declared.target
        model._default_manager.filter(pk=saved.pk).update(state=declared.target)
        TransitionLog.objects.create(
            content_type=ContentType.objects.get_for_model(model),
            object_id=saved.pk,
            transition=name,
            from_state=before,
            to_state=declared.target,
            actor=actor,
            reason=reason,
        )
        if declared.target == model.cancelled_state:
            from crm.kernel.approvals import approval_withdraw_all

            approval_withdraw_all(saved)  # nothing left to approve: out of the approvers' queues
        if declared.submits_for_approval:
            from crm.kernel.approvals import approval_submit

            approval_submit(actor=actor, document=saved, _locked=True)
    document.state = saved.state
    return saved


def document_history(document: Document) -> Sequence[TransitionLog]:
    """The document's transitions, oldest first, with who did them."""
    return list(
        TransitionLog.objects.filter(
            content_type=ContentType.objects.get_for_model(type(document)), object_id=document.pk
        ).select_related("actor")
    )
