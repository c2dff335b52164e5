"""Pipeline writes: stages of the workspace, opportunities (create, edit, move between stages, reopen) and
activities logged on an opportunity. Every stage change writes an `OpportunityStageLog` row and
`stage_changed_at`; won and lost close the opportunity. Each service validates first and changes nothing
on error (multi-row writes are one transaction)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import transaction
from django.db.models import Max, OuterRef, Subquery
from django.utils import timezone
from django.utils.translation import gettext as _

from crm.kernel.scope import can_edit, team_user_ids
from crm.modules.core.public import Activity, Contact, Customer, Product, customer_touch, customers_visible
from crm.platform.errors import PermissionDenied, ServiceError
from crm.platform.permissions import check_perm, data_scope
from crm.tenants.accounts.models import User

from .models import Opportunity, OpportunityActivity, OpportunityProduct, OpportunityStageLog, Stage

CENT = Decimal("0.01")
MAX_AMOUNT = Decimal("99999999999999")  # 16 digits, 2 after the point
EDIT = "sales.opportunity_edit"

# The default pipeline of a new workspace (name, probability, kind); names are stored as typed.
DEFAULT_STAGES = (
    ("初步接洽", 10, "open"),
    ("需求确认", 30, "open"),
    ("方案报价", 50, "open"),
    ("谈判审核", 80, "open"),
    ("赢单", 100, "won"),
    ("输单", 0, "lost"),
)


# --- stages ----------------------------------------------------------------------------------------------


def stages_ensure() -> list[Stage]:
    """The workspace's stages, the default pipeline created on first use (idempotent)."""
    stages = list(Stage.objects.all())
    if stages:
        return stages
    with transaction.atomic():
        if not Stage.objects.select_for_update().exists():
            Stage.objects.bulk_create(
                Stage(name=n, probability=p, kind=k, position=i) for i, (n, p, k) in enumerate(DEFAULT_STAGES)
            )
    return list(Stage.objects.all())


def _renumber(*, moved: bool = False) -> None:
    """Open stages keep their order, then won, then lost (always at the end of the board). When a
    position changed (here, or by the caller: `moved`) the opportunities' reached stages follow."""
    order = {"open": 0, "won": 1, "lost": 2}
    stages = sorted(Stage.objects.all(), key=lambda s: (order[s.kind], s.position, s.pk))
    changed = moved
    for i, stage in enumerate(stages):
        if stage.position != i:
            Stage.objects.filter(pk=stage.pk).update(position=i)
            changed = True
    if changed:
        reached_recompute()


def reached_recompute() -> int:
    """Every opportunity's `reached_position` again from its stage log (one UPDATE; after stages were
    renumbered, and for rows written in bulk). Returns the number of opportunities."""
    furthest = (
        OpportunityStageLog.objects.filter(opportunity=OuterRef("pk"))
        .exclude(to_stage__kind=Stage.Kind.LOST)
        .values("opportunity")
        .annotate(m=Max("to_stage__position"))
        .values("m")
    )
    return Opportunity.objects.update(reached_position=Subquery(furthest))


def _check_probability(value: Any) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise ServiceError(
            _("The probability is a whole number from 0 to 100."), field="probability"
        ) from None
    if not 0 <= number <= 100:
        raise ServiceError(_("The probability is a whole number from 0 to 100."), field="probability")
    return number


def _check_stage_name(name: str, exclude: int | None = None) -> str:
    name = (name or "").strip()
    if not name:
        raise ServiceError(_("Give the stage a name."), field="name")
    if len(name) > 60:
        raise ServiceError(_("At most 60 characters."), field="name")
    clash = Stage.objects.filter(name=name)
    if exclude:
        clash = clash.exclude(pk=exclude)
    if clash.exists():
        raise ServiceError(_("A stage with this name exists."), field="name")
    return name


def stage_create(*, actor: User, name: str, probability: Any) -> Stage:
    check_perm(actor, "sales.settings", _("You are not allowed to change the pipeline."))
    stages_ensure()
    name = _check_stage_name(name)
    probability = _check_probability(probability)
    with transaction.atomic():
        last = Stage.objects.filter(kind=Stage.Kind.OPEN).aggregate(m=Max("position"))["m"]
        stage = Stage.objects.create(
            name=name, probability=probability, kind=Stage.Kind.OPEN, position=(last or 0) + 1
        )
        _renumber()
    stage.refresh_from_db()
    return stage


def stage_update(
    *, actor: User, stage: Stage, name: str, probability: Any = None, is_active: bool | None = None
) -> Stage:
    """Rename, set the probability, deactivate or reactivate an open stage. Won and lost may be renamed
    only: their probability (100 / 0) and their kind are fixed, and they are always active."""
    check_perm(actor, "sales.settings", _("You are not allowed to change the pipeline."))
    name = _check_stage_name(name, exclude=stage.pk)
    fixed = stage.kind != Stage.Kind.OPEN
    if fixed:
        if is_active is False:
            raise ServiceError(_("Won and lost cannot be deactivated."), field="is_active")
        if probability is not None and _check_probability(probability) != stage.probability:
            raise ServiceError(
                _("Won is 100 % and lost 0 %: their probability is fixed."), field="probability"
            )
    else:
        if probability is not None:
            stage.probability = _check_probability(probability)
        if is_active is not None:
            stage.is_active = is_active
    stage.name = name
    stage.save()
    return stage


def stage_move(*, actor: User, stage: Stage, up: bool) -> Stage:
    """Swap an open stage with its open neighbour (won and lost stay at the end)."""
    check_perm(actor, "sales.settings", _("You are not allowed to change the pipeline."))
    if stage.kind != Stage.Kind.OPEN:
        raise ServiceError(_("Won and lost are always at the end."))
    with transaction.atomic():
        opens = list(
            Stage.objects.select_for_update().filter(kind=Stage.Kind.OPEN).order_by("position", "id")
        )
        index = next(i for i, s in enumerate(opens) if s.pk == stage.pk)
        other = index - 1 if up else index + 1
        moved = 0 <= other < len(opens)
        if moved:
            opens[index], opens[other] = opens[other], opens[index]
            for i, s in enumerate(opens):
                Stage.objects.filter(pk=s.pk).update(position=i)
        _renumber(moved=moved)
    stage.refresh_from_db()
    return stage


def stage_delete(*, actor: User, stage: Stage) -> bool:
    """Delete an open stage nobody used; one with opportunities (or history) is deactivated instead.
    Returns whether it was deleted."""
    check_perm(actor, "sales.settings", _("You are not allowed to change the pipeline."))
    if stage.kind != Stage.Kind.OPEN:
        raise ServiceError(_("Won and lost cannot be deleted."))
    used = (
        Opportunity.objects.filter(stage=stage).exists()
        or OpportunityStageLog.objects.filter(to_stage=stage).exists()
    )
    if used:
        Stage.objects.filter(pk=stage.pk).update(is_active=False, updated_at=timezone.now())
        return False
    stage.delete()
    return True


# --- opportunities ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ProductInput:
    product_id: int
    quantity: Decimal
    unit_price_incl: Decimal


def _amount(value: Any, field: str = "amount") -> Decimal:
    if isinstance(value, str):
        value = value.replace(",", "").replace("¥", "").strip()
    try:
        amount = Decimal(value).quantize(CENT)
    except (InvalidOperation, TypeError, ValueError):
        raise ServiceError(_("Enter an amount."), field=field) from None
    if not amount.is_finite():
        raise ServiceError(_("Enter an amount."), field=field)
    if amount < 0:
        raise ServiceError(_("The amount cannot be negative."), field=field)
    if amount > MAX_AMOUNT:
        raise ServiceError(_("The amount is too large."), field=field)
    return amount


def _check_date(value: Any, field: str = "expected_close") -> date | None:
    if value in (None, ""):
        return None
    if isinstance(value, datetime) or not isinstance(value, date):
        raise ServiceError(_("The expected close is a date (YYYY-MM-DD)."), field=field)
    return value


def _check_contact(customer: Customer, contact: Contact | None) -> None:
    if contact is not None and contact.customer_id != customer.pk:
        raise ServiceError(_("This contact belongs to another customer."), field="contact")


def _check_owner(actor: User, owner: User | None) -> User:
    """Reps own what they create; managers may give it to their team, admins and owners to anyone."""
    if owner is None or owner.pk == actor.pk:
        return actor
    if not owner.is_active:
        raise ServiceError(_("Choose an active user."), field="owner")
    scope = data_scope(actor)
    if scope == "all" or (scope == "team" and owner.pk in team_user_ids(actor)):
        return owner
    raise ServiceError(_("You may only give opportunities to members of your team."), field="owner")


def _products(items: list[ProductInput]) -> list[OpportunityProduct]:
    out = []
    ids = {i.product_id for i in items}
    known = set(Product.objects.filter(pk__in=ids).values_list("pk", flat=True))
    for item in items:
        if item.product_id not in known:
            raise ServiceError(_("Choose a product from the catalogue."), field="products")
        if item.quantity is None or item.quantity <= 0:
            raise ServiceError(_("The quantity must be more than zero."), field="products")
        if item.unit_price_incl is None or item.unit_price_incl < 0:
            raise ServiceError(_("The price cannot be negative."), field="products")
        out.append(
            OpportunityProduct(
                product_id=item.product_id, quantity=item.quantity, unit_price_incl=item.unit_price_incl
            )
        )
    return out


def products_total(items: list[ProductInput]) -> Decimal:
    return sum((i.quantity * i.unit_price_incl for i in items), Decimal("0")).quantize(CENT)


def _check_stage(stage: Stage | None) -> Stage:
    if stage is None:
        first = Stage.objects.filter(kind=Stage.Kind.OPEN, is_active=True).order_by("position", "id").first()
        if first is None:
            raise ServiceError(_("The pipeline has no active stage."), field="stage")
        return first
    if not stage.is_active:
        raise ServiceError(_("This stage is no longer in use."), field="stage")
    return stage


def _apply_stage(opp: Opportunity, stage: Stage, *, lost_reason: str, now: datetime) -> None:
    """Set the stage and what follows from it (status, probability, closed_at, lost reason)."""
    old = opp.stage if opp.stage_id else None
    # The probability follows the stage unless the rep set another one for the old stage.
    follows = old is None or opp.probability == old.probability
    opp.stage = stage
    opp.stage_changed_at = now
    if stage.kind != Stage.Kind.LOST:
        opp.reached_position = max(stage.position, opp.reached_position or 0)
    if stage.kind == Stage.Kind.WON:
        opp.status, opp.closed_at, opp.probability, opp.lost_reason = Opportunity.Status.WON, now, 100, ""
    elif stage.kind == Stage.Kind.LOST:
        opp.status, opp.closed_at, opp.probability = Opportunity.Status.LOST, now, 0
        opp.lost_reason = lost_reason
    else:
        opp.status, opp.closed_at, opp.lost_reason = Opportunity.Status.OPEN, None, ""
        if follows or (old is not None and old.kind != Stage.Kind.OPEN):
            opp.probability = stage.probability


def _move_logged(opp: Opportunity, stage: Stage, *, actor: User, lost_reason: str = "") -> None:
    """Inside the caller's transaction, on the locked row: apply the stage, save, and log the move."""
    from_stage = opp.stage
    _apply_stage(opp, stage, lost_reason=lost_reason, now=timezone.now())
    opp.save()
    OpportunityStageLog.objects.create(opportunity=opp, from_stage=from_stage, to_stage=stage, actor=actor)


def _lost_reason(stage: Stage, reason: str) -> str:
    reason = (reason or "").strip()
    if stage.kind == Stage.Kind.LOST and not reason:
        raise ServiceError(_("Say why the opportunity was lost."), field="lost_reason")
    return reason[:300]


def opportunity_create(
    *,
    actor: User,
    customer: Customer,
    name: str,
    amount: Any = None,
    expected_close: date | None = None,
    stage: Stage | None = None,
    contact: Contact | None = None,
    probability: Any = None,
    source: str = "",
    competitor: str = "",
    notes: str = "",
    lost_reason: str = "",
    owner: User | None = None,
    products: list[ProductInput] | None = None,
) -> Opportunity:
    """A new opportunity on a customer the actor may see. Without an amount, the products' total is the
    amount. The first stage-log row says where it started."""
    check_perm(actor, EDIT, _("You are not allowed to create opportunities."))
    if not customers_visible(actor).filter(pk=customer.pk).exists():
        raise PermissionDenied(_("You may not add opportunities to this customer."))
    stages_ensure()
    name = (name or "").strip()
    if not name:
        raise ServiceError(_("Give the opportunity a name."), field="name")
    items = products or []
    lines = _products(items)
    value = products_total(items) if amount in (None, "") and items else _amount(amount or "0")
    expected_close = _check_date(expected_close)
    _check_contact(customer, contact)
    stage = _check_stage(stage)
    reason = _lost_reason(stage, lost_reason)
    owner = _check_owner(actor, owner)
    now = timezone.now()
    opp = Opportunity(
        name=name[:200],
        customer=customer,
        contact=contact,
        owner=owner,
        amount=value,
        expected_close=expected_close,
        source=(source or "").strip()[:60],
        competitor=(competitor or "").strip()[:200],
        notes=(notes or "").strip(),
        created_by=actor,
    )
    _apply_stage(opp, stage, lost_reason=reason, now=now)
    if probability not in (None, "") and stage.kind == Stage.Kind.OPEN:
        opp.probability = _check_probability(probability)
    with transaction.atomic():
        opp.save()
        for line in lines:
            line.opportunity = opp
        OpportunityProduct.objects.bulk_create(lines)
        OpportunityStageLog.objects.create(opportunity=opp, from_stage=None, to_stage=stage, actor=actor)
    return opp


def _check_can_edit(actor: User, opp: Opportunity) -> None:
    check_perm(actor, EDIT, _("You are not allowed to change opportunities."))
    if not can_edit(actor, opp):
        raise PermissionDenied(_("You may not change this opportunity."))


EDITABLE = ("name", "amount", "expected_close", "contact", "probability", "source", "competitor", "notes")


def opportunity_update(
    *, actor: User, opportunity: Opportunity, products: list[ProductInput] | None = None, **fields: Any
) -> Opportunity:
    """Change the fields named in EDITABLE (the stage changes through `opportunity_move`). `products`
    given: the product list is replaced, and without an amount the amount follows it."""
    _check_can_edit(actor, opportunity)
    unknown = set(fields) - set(EDITABLE) - {"owner"}
    if unknown:
        raise ServiceError(
            _("These fields cannot be changed here: %(f)s") % {"f": ", ".join(sorted(unknown))}
        )
    opp = opportunity
    changes: dict[str, Any] = {}
    if "name" in fields:
        name = (fields["name"] or "").strip()
        if not name:
            raise ServiceError(_("Give the opportunity a name."), field="name")
        changes["name"] = name[:200]
    lines = _products(products) if products is not None else None
    if "amount" in fields and fields["amount"] not in (None, ""):
        changes["amount"] = _amount(fields["amount"])
    elif products:
        changes["amount"] = products_total(products)
    if "expected_close" in fields:
        changes["expected_close"] = _check_date(fields["expected_close"])
    if "contact" in fields:
        _check_contact(opp.customer, fields["contact"])
        changes["contact"] = fields["contact"]
    if "probability" in fields and fields["probability"] not in (None, ""):
        if opp.status != Opportunity.Status.OPEN:
            raise ServiceError(_("A closed opportunity keeps its probability."), field="probability")
        changes["probability"] = _check_probability(fields["probability"])
    for key, size in (("source", 60), ("competitor", 200)):
        if key in fields:
            changes[key] = (fields[key] or "").strip()[:size]
    if "notes" in fields:
        changes["notes"] = (fields["notes"] or "").strip()
    if fields.get("owner") is not None:
        changes["owner"] = _check_owner(actor, fields["owner"])
    with transaction.atomic():
        for key, value in changes.items():
            setattr(opp, key, value)
        opp.save()
        if lines is not None:
            OpportunityProduct.objects.filter(opportunity=opp).delete()
            for line in lines:
                line.opportunity = opp
            OpportunityProduct.objects.bulk_create(lines)
    return opp


def opportunity_move(
    *, actor: User, opportunity: Opportunity, stage: Stage, lost_reason: str = ""
) -> Opportunity:
    """Move to another stage: a stage-log row, stage_changed_at; won closes it as won, lost (with a reason)
    as lost. Moving to the stage it is in changes nothing. A closed one moves only through `reopen`."""
    _check_can_edit(actor, opportunity)
    stage = _check_stage(stage)
    reason = _lost_reason(stage, lost_reason)
    with transaction.atomic():
        opp = Opportunity.objects.select_for_update().select_related("stage").get(pk=opportunity.pk)
        if opp.stage_id == stage.pk:
            return opp
        if opp.status == Opportunity.Status.LOST and stage.kind != Stage.Kind.LOST:
            raise ServiceError(_("Reopen the lost opportunity first."), code="conflict")
        if opp.status == Opportunity.Status.WON:
            raise ServiceError(_("A won opportunity is closed."), code="conflict")
        _move_logged(opp, stage, actor=actor, lost_reason=reason)
    return opp


def opportunity_won_by_contract(*, actor: User, opportunity_id: int) -> Opportunity | None:
    """Called inside the transaction that confirms a contract of this opportunity: an open opportunity
    moves to the won stage (logged, by the confirming user); a won or lost one is left as it is (a lost
    one was closed by someone on purpose). No permission check: confirming the contract was checked."""
    opp = Opportunity.objects.select_for_update().select_related("stage").filter(pk=opportunity_id).first()
    if opp is None or opp.status != Opportunity.Status.OPEN:
        return opp
    won = Stage.objects.filter(kind=Stage.Kind.WON).order_by("position", "id").first()
    if won is None:
        return opp
    _move_logged(opp, won, actor=actor)
    return opp


def opportunity_reopen(*, actor: User, opportunity: Opportunity, stage: Stage | None = None) -> Opportunity:
    """A lost opportunity is open again, in `stage` (default: the last open stage it was in, else the
    first active one)."""
    _check_can_edit(actor, opportunity)
    if opportunity.status != Opportunity.Status.LOST:
        raise ServiceError(_("Only a lost opportunity can be reopened."), code="conflict")
    if stage is None:
        last = (
            OpportunityStageLog.objects.filter(
                opportunity=opportunity, to_stage__kind=Stage.Kind.OPEN, to_stage__is_active=True
            )
            .select_related("to_stage")
            .order_by("-id")
            .first()
        )
        stage = last.to_stage if last else None
    stage = _check_stage(stage)
    if stage.kind != Stage.Kind.OPEN:
        raise ServiceError(_("Reopen into an open stage."), field="stage")
    with transaction.atomic():
        opp = Opportunity.objects.select_for_update().select_related("stage").get(pk=opportunity.pk)
        if opp.status != Opportunity.Status.LOST:
            raise ServiceError(_("Only a lost opportunity can be reopened."), code="conflict")
        opp.probability = stage.probability
        _move_logged(opp, stage, actor=actor)
    return opp


def opportunity_log_activity(
    *,
    actor: User,
    opportunity: Opportunity,
    kind: str = Activity.Kind.CALL,
    purpose: str = "",
    result: str = "",
    occurred_at: datetime | None = None,
) -> Activity:
    """A follow-up on the opportunity: a core activity on its customer (which resets the customer's pool
    clock like any follow-up), linked to the opportunity."""
    _check_can_edit(actor, opportunity)
    if kind not in Activity.Kind.values:
        raise ServiceError(_("Choose a valid option."), field="kind")
    if not ((purpose or "").strip() or (result or "").strip()):
        raise ServiceError(_("Say what the follow-up was about or what came out of it."), field="result")
    now = timezone.now()
    occurred_at = occurred_at or now
    if occurred_at > now + timedelta(minutes=5):
        raise ServiceError(_("A follow-up cannot be in the future."), field="occurred_at")
    with transaction.atomic():
        activity = Activity.objects.create(
            customer_id=opportunity.customer_id,
            author=actor,
            kind=kind,
            purpose=(purpose or "").strip()[:255],
            result=(result or "").strip(),
            occurred_at=occurred_at,
        )
        OpportunityActivity.objects.create(opportunity=opportunity, activity=activity)
        customer_touch(customer_id=opportunity.customer_id, at=occurred_at, source="sales.opportunity")
        Opportunity.objects.filter(pk=opportunity.pk).update(updated_at=now)
    return activity
