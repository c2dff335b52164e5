"""Retail writes: members, sales, points, tiers. Every points change locks the member row
(`select_for_update`), writes a ledger entry and moves the cached balance by the same amount, in one
transaction: concurrent sales on one member queue on the lock instead of losing an update."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal
from typing import Any

from django.db import transaction
from django.db.models import F, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from crm.kernel.money import parse_amount
from crm.modules.core.public import Product
from crm.platform.errors import NotFound, PermissionDenied, ServiceError
from crm.platform.permissions import Role, check_perm
from crm.tenants.accounts.models import User

from . import selectors
from .models import (
    Member,
    PointsEntry,
    PointsRule,
    Renewal,
    Sale,
    SaleLine,
    Store,
    StoreClerk,
    Tier,
    TierChange,
)

MANAGERS = (Role.OWNER, Role.ADMIN, Role.MANAGER)
CENT = Decimal("0.01")
MAX_AMOUNT = Decimal("10000000")
_SPACES = re.compile(r"\s+")


# --- normalisation ------------------------------------------------------------------------------------


def normalize_name(value: str) -> str:
    """NFKC (full-width letters/digits/spaces to half-width), trim, collapse inner whitespace runs.
    Names stay case-sensitive: the lookup is an exact match, not a search."""
    return _SPACES.sub(" ", unicodedata.normalize("NFKC", value or "")).strip()


def normalize_member_no(value: str) -> str:
    """NFKC, all whitespace removed, upper-case. Member numbers are printed on cards in capitals and clerks
    type them on phones, so "vip 0012" and "ＶＩＰ００１２" both mean "VIP0012": numbers are
    case-insensitive by design (names are not)."""
    return _SPACES.sub("", unicodedata.normalize("NFKC", value or "")).upper()


# --- permissions --------------------------------------------------------------------------------------


def _require(actor: User, perm: str) -> None:
    check_perm(actor, perm, _("You are not allowed to do this."))


def clerk_store_ids(actor: User) -> set[int]:
    return set(StoreClerk.objects.filter(user=actor).values_list("store_id", flat=True))


def _check_store(actor: User, store: Store) -> None:
    """Clerks record only at the stores they are assigned to; managers anywhere."""
    if actor.role in MANAGERS:
        return
    if store.pk not in clerk_store_ids(actor):
        raise PermissionDenied(_("You are not assigned to this store."), field="store")


# --- setup --------------------------------------------------------------------------------------------


def points_rule_get() -> PointsRule:
    rule, _created = PointsRule.objects.get_or_create(pk=1)
    return rule


def points_rule_update(
    *,
    actor: User,
    points_per_rmb: Decimal,
    rounding: str,
    expiry_months: int,
    redemption_value: Decimal,
    membership_months: int | None = None,
    downgrade_at_renewal: bool | None = None,
) -> PointsRule:
    _require(actor, "retail.manage")
    errors: dict[str, list[str]] = {}
    if points_per_rmb < 0:
        errors["points_per_rmb"] = [_("Must not be negative.")]
    if rounding not in PointsRule.Rounding.values:
        errors["rounding"] = [_("Choose a rounding mode.")]
    if expiry_months < 1:
        errors["expiry_months"] = [_("At least one month.")]
    if redemption_value < 0:
        errors["redemption_value"] = [_("Must not be negative.")]
    if membership_months is not None and membership_months < 1:
        errors["membership_months"] = [_("At least one month.")]
    if errors:
        raise ServiceError(_("Please correct the points rule."), fields=errors)
    rule = points_rule_get()
    rule.points_per_rmb, rule.rounding = points_per_rmb, rounding
    rule.expiry_months, rule.redemption_value = expiry_months, redemption_value
    if membership_months is not None:
        rule.membership_months = membership_months
    if downgrade_at_renewal is not None:
        rule.downgrade_at_renewal = downgrade_at_renewal
    rule.save()
    return rule


def store_create(*, actor: User, name: str, code: str, address: str = "") -> Store:
    _require(actor, "retail.manage")
    name, code = name.strip(), normalize_member_no(code)
    if not name or not code:
        raise ServiceError(_("Name and code are required."), field="name" if not name else "code")
    if Store.objects.filter(code=code).exists():
        raise ServiceError(_("A store with this code exists."), field="code")
    return Store.objects.create(name=name, code=code, address=address.strip())


def store_assign_clerk(*, actor: User, store: Store, user: User) -> StoreClerk:
    _require(actor, "retail.manage")
    if user.role != Role.CLERK or not user.is_active:
        raise ServiceError(_("Only active store clerks can be assigned to a store."), field="user")
    assignment, _created = StoreClerk.objects.get_or_create(store=store, user=user)
    return assignment


def store_unassign_clerk(*, actor: User, store: Store, user: User) -> None:
    _require(actor, "retail.manage")
    StoreClerk.objects.filter(store=store, user=user).delete()


def tier_create(
    *,
    actor: User,
    name: str,
    rank: int,
    threshold: Decimal,
    basis: str = Tier.Basis.SPEND,
    discount_percent: Decimal = Decimal("0"),
    points_multiplier: Decimal = Decimal("1"),
    validity_months: int | None = None,
) -> Tier:
    _require(actor, "retail.manage")
    errors: dict[str, list[str]] = {}
    name = name.strip()
    if not name:
        errors["name"] = [_("Name is required.")]
    elif Tier.objects.filter(name=name).exists():
        errors["name"] = [_("A tier with this name exists.")]
    if Tier.objects.filter(rank=rank).exists():
        errors["rank"] = [_("Another tier has this rank.")]
    if threshold < 0:
        errors["threshold"] = [_("Must not be negative.")]
    if basis not in Tier.Basis.values:
        errors["basis"] = [_("Choose spend or points.")]
    if not Decimal("0") <= discount_percent <= Decimal("100"):
        errors["discount_percent"] = [_("Between 0 and 100.")]
    if points_multiplier < 0:
        errors["points_multiplier"] = [_("Must not be negative.")]
    if validity_months is not None and validity_months < 1:
        errors["validity_months"] = [_("At least one month.")]
    if errors:
        raise ServiceError(_("Please correct the tier."), fields=errors)
    return Tier.objects.create(
        name=name,
        rank=rank,
        threshold=threshold,
        basis=basis,
        discount_percent=discount_percent,
        points_multiplier=points_multiplier,
        validity_months=validity_months,
    )


# --- members ------------------------------------------------------------------------------------------


def _base_tier() -> Tier | None:
    return Tier.objects.order_by("rank").first()


def member_create(
    *,
    actor: User,
    name: str,
    member_no: str,
    phone: str = "",
    email: str = "",
    birthday: date | None = None,
    valid_until: date | None = None,
    store: Store | None = None,
    opt_out_sms: bool = False,
    opt_out_email: bool = False,
) -> Member:
    _require(actor, "retail.manage")
    name, member_no = normalize_name(name), normalize_member_no(member_no)
    errors: dict[str, list[str]] = {}
    if not name:
        errors["name"] = [_("Name is required.")]
    if not member_no:
        errors["member_no"] = [_("Member number is required.")]
    elif Member.objects.filter(member_no=member_no).exists():
        errors["member_no"] = [_("This member number is taken.")]
    if errors:
        raise ServiceError(_("Please correct the member."), fields=errors)
    return Member.objects.create(
        name=name,
        member_no=member_no,
        phone=phone.strip(),
        email=email.strip().lower(),
        birthday=birthday,
        valid_until=valid_until,
        store=store,
        tier=_base_tier(),
        opt_out_sms=opt_out_sms,
        opt_out_email=opt_out_email,
    )


MEMBER_EDITABLE = ("name", "phone", "email", "birthday", "valid_until", "opt_out_sms", "opt_out_email")


def member_update(*, actor: User, member: Member, **changes: Any) -> Member:
    _require(actor, "retail.manage")
    unknown = set(changes) - set(MEMBER_EDITABLE)
    if unknown:
        raise ServiceError(
            _("These fields cannot be changed here."), fields={k: [_("Read-only.")] for k in unknown}
        )
    if "name" in changes:
        changes["name"] = normalize_name(changes["name"])
        if not changes["name"]:
            raise ServiceError(_("Name is required."), field="name")
    for key, value in changes.items():
        setattr(member, key, value)
    member.save(update_fields=[*changes, "updated_at"])
    return member


def member_lookup(*, actor: User, name: str, member_no: str) -> Member | None:
    """The clerk's only way to a member: both name and number must match exactly after normalisation.
    Anything else answers None, the same None for "no such number" and "number right, name wrong", so the
    answer never tells a near match apart from no match."""
    _require(actor, "retail.lookup")
    name, member_no = normalize_name(name), normalize_member_no(member_no)
    if not name or not member_no:
        return None
    return Member.objects.select_related("tier").filter(member_no=member_no, name=name).first()


# --- points -------------------------------------------------------------------------------------------


def points_for(*, amount: Decimal, rule: PointsRule, tier: Tier | None) -> int:
    multiplier = tier.points_multiplier if tier else Decimal("1")
    raw = amount * rule.points_per_rmb * multiplier
    mode = ROUND_HALF_UP if rule.rounding == PointsRule.Rounding.HALF_UP else ROUND_DOWN
    return int(raw.quantize(Decimal("1"), rounding=mode))


def _lock(member: Member) -> Member:
    # of=self: the tier join is nullable (LEFT JOIN), and only the member row needs the lock.
    return Member.objects.select_for_update(of=("self",)).select_related("tier").get(pk=member.pk)


def _post(member: Member, *, kind: str, points: int, actor: User | None, **extra: Any) -> PointsEntry:
    """Write one ledger entry and move the cached balance by the same amount (caller holds the row lock)."""
    entry = PointsEntry.objects.create(member=member, kind=kind, points=points, created_by=actor, **extra)
    Member.objects.filter(pk=member.pk).update(points_balance=F("points_balance") + points)
    member.points_balance += points
    return entry


def _months_later(moment: datetime, months: int) -> datetime:
    # Same day N months on, clamped to the month's end (31 Jan + 1 month = 28/29 Feb).
    month0 = moment.month - 1 + months
    year, month = moment.year + month0 // 12, month0 % 12 + 1
    for day in range(moment.day, 27, -1):
        try:
            return moment.replace(year=year, month=month, day=day)
        except ValueError:
            continue
    return moment.replace(year=year, month=month, day=28)


def _tier_upgrade(member: Member, *, sale: Sale | None) -> TierChange | None:
    """Move the member to the highest tier whose threshold is met (never down here: downgrade is a
    renewal-time decision the tenant makes)."""
    current_rank = member.tier.rank if member.tier else -1
    best = None
    for tier in Tier.objects.filter(rank__gt=current_rank).order_by("-rank"):
        # Spend before a renewal downgrade (tier_spend_base) no longer counts towards an upgrade.
        spend = member.total_spend - member.tier_spend_base
        value = spend if tier.basis == Tier.Basis.SPEND else Decimal(member.points_balance)
        if value >= tier.threshold:
            best = tier
            break
    if best is None:
        return None
    if best.basis == Tier.Basis.SPEND:
        reason = _("Total spend %(value)s reached the %(tier)s threshold %(threshold)s") % {
            "value": member.total_spend - member.tier_spend_base,
            "tier": best.name,
            "threshold": best.threshold,
        }
    else:
        reason = _("Points balance %(value)s reached the %(tier)s threshold %(threshold)s") % {
            "value": member.points_balance,
            "tier": best.name,
            "threshold": best.threshold,
        }
    change = TierChange.objects.create(
        member=member, from_tier=member.tier, to_tier=best, reason=reason, sale=sale
    )
    member.tier = best
    Member.objects.filter(pk=member.pk).update(tier=best)
    return change


@dataclass
class LineInput:
    product_id: int | None
    quantity: Decimal
    description: str = ""
    unit_price: Decimal | None = None


@dataclass
class SaleResult:
    sale: Sale
    member: Member
    points: int
    tier_change: TierChange | None


def _parse_amount(value: Any, field: str = "amount") -> Decimal:
    amount = parse_amount(value, field=field)
    if amount <= 0 or amount >= MAX_AMOUNT:
        raise ServiceError(_("Enter an amount above zero."), field=field)
    return amount


def sale_record(
    *,
    actor: User,
    member: Member,
    store: Store,
    amount: Decimal | str | None = None,
    lines: list[LineInput] | None = None,
    note: str = "",
) -> SaleResult:
    """Record a purchase: either a free amount or catalogue lines (amount = sum of lines). Points follow the
    rule and the member's tier at the time of sale; total spend grows; the tier may go up."""
    _require(actor, "retail.lookup")
    _check_store(actor, store)
    if not store.is_active:
        raise ServiceError(_("This store is closed."), field="store")
    line_rows: list[SaleLine] = []
    if lines:
        products = Product.objects.in_bulk([ln.product_id for ln in lines if ln.product_id])
        total = Decimal("0")
        for i, ln in enumerate(lines):
            product = products.get(ln.product_id) if ln.product_id else None
            if ln.product_id and (product is None or not product.is_active):
                raise ServiceError(_("Unknown product."), field=f"lines.{i}.product")
            if ln.quantity <= 0:
                raise ServiceError(_("Quantity must be above zero."), field=f"lines.{i}.quantity")
            price = ln.unit_price if ln.unit_price is not None else (product.price if product else None)
            if price is None or price < 0:
                raise ServiceError(_("Enter a price."), field=f"lines.{i}.unit_price")
            description = str(product) if product else ln.description.strip()
            if not description:
                raise ServiceError(_("Describe the item."), field=f"lines.{i}.description")
            line_rows.append(
                SaleLine(product=product, description=description, quantity=ln.quantity, unit_price=price)
            )
            total += (ln.quantity * price).quantize(CENT)
        amount_value = _parse_amount(total)
    else:
        amount_value = _parse_amount(amount)
    rule = points_rule_get()
    with transaction.atomic():
        locked = _lock(member)
        if locked.valid_until and locked.valid_until < timezone.localdate():
            raise ServiceError(_("This membership has expired; renew it first."), code="member_expired")
        points = points_for(amount=amount_value, rule=rule, tier=locked.tier)
        sale = Sale.objects.create(
            member=locked,
            store=store,
            clerk=actor,
            amount=amount_value,
            points=points,
            tier=locked.tier,  # before any upgrade this sale causes: the tier the points were earned at
            note=note.strip()[:200],
        )
        if line_rows:
            for row in line_rows:
                row.sale = sale
            SaleLine.objects.bulk_create(line_rows)
        if points:
            PointsEntry.objects.create(
                member=locked,
                sale=sale,
                kind=PointsEntry.Kind.EARN,
                points=points,
                created_by=actor,
                expires_at=_months_later(timezone.now(), rule.expiry_months),
            )
        # Balance and spend move in one UPDATE (same row lock, one round trip less per sale).
        Member.objects.filter(pk=locked.pk).update(
            points_balance=F("points_balance") + points, total_spend=F("total_spend") + amount_value
        )
        locked.points_balance += points
        locked.total_spend += amount_value
        change = _tier_upgrade(locked, sale=sale)
    return SaleResult(sale=sale, member=locked, points=points, tier_change=change)


def points_redeem(
    *, actor: User, member: Member, points: int, confirm: bool = False, note: str = ""
) -> PointsEntry:
    """Spend points: a separate, confirmed step; never more than the balance."""
    _require(actor, "retail.lookup")
    if points <= 0:
        raise ServiceError(_("Enter the points to redeem."), field="points")
    if not confirm:
        raise ServiceError(_("Confirm the redemption first."), code="confirmation_required", field="confirm")
    with transaction.atomic():
        locked = _lock(member)
        if points > locked.points_balance:
            raise ServiceError(
                _("Only %(balance)s points are available.") % {"balance": locked.points_balance},
                code="insufficient_points",
                field="points",
            )
        entry = _post(
            locked, kind=PointsEntry.Kind.REDEEM, points=-points, actor=actor, note=note.strip()[:200]
        )
    member.points_balance = locked.points_balance
    return entry


def sale_void(*, actor: User, sale: Sale, reason: str) -> Sale:
    """A store manager cancels a sale: the row stays, its points are reversed, total spend goes back."""
    if actor.role not in MANAGERS:
        raise PermissionDenied(_("Only a store manager can void a sale."))
    reason = reason.strip()
    if not reason:
        raise ServiceError(_("Give a reason."), field="reason")
    with transaction.atomic():
        locked = _lock(sale.member)
        current = Sale.objects.select_for_update().get(pk=sale.pk)
        if current.voided_at is not None:
            raise ServiceError(_("This sale is already void."), code="already_void")
        # The points may have been spent since; the balance may go negative rather than hide the reversal.
        if current.points:
            _post(locked, kind=PointsEntry.Kind.VOID, points=-current.points, actor=actor, sale=current)
        Member.objects.filter(pk=locked.pk).update(total_spend=F("total_spend") - current.amount)
        current.voided_at, current.voided_by, current.void_reason = timezone.now(), actor, reason[:200]
        current.save(update_fields=["voided_at", "voided_by", "void_reason", "updated_at"])
    return current


def points_expire(*, now: datetime | None = None) -> int:
    """Expire lapsed points, oldest first, once: a second run (or a retried task) finds nothing left.
    The amount per member comes from `selectors.points_due` (FIFO), capped by the balance, under the
    member's row lock."""
    now = now or timezone.now()
    candidates = (
        PointsEntry.objects.filter(kind__in=selectors.EARNING, points__gt=0, expires_at__lte=now)
        .values_list("member_id", flat=True)
        .distinct()
    )
    total = 0
    for member_id in list(candidates):
        with transaction.atomic():
            locked = Member.objects.select_for_update().get(pk=member_id)
            expiring = min(
                selectors.points_due([member_id], now).get(member_id, 0), max(0, locked.points_balance)
            )
            if expiring:
                _post(locked, kind=PointsEntry.Kind.EXPIRE, points=-expiring, actor=None)
                total += expiring
    return total


def ledger_sum(member: Member) -> int:
    return int(PointsEntry.objects.filter(member=member).aggregate(s=Sum("points"))["s"] or 0)


# --- renewal ------------------------------------------------------------------------------------------


@dataclass
class RenewalResult:
    renewal: Renewal
    member: Member
    tier_change: TierChange | None


def _period_totals(member: Member, since: datetime) -> tuple[Decimal, int]:
    """Spend and points of the member's sales since `since`, voided sales left out."""
    row = Sale.objects.filter(member=member, created_at__gte=since, voided_at__isnull=True).aggregate(
        spend=Sum("amount"), points=Sum("points")
    )
    return row["spend"] or Decimal("0"), int(row["points"] or 0)


def _tier_downgrade(member: Member, *, months: int, now: datetime) -> TierChange | None:
    """At renewal, when the tenant chose it: move the member down to the highest tier whose threshold the
    last period (the `months` before renewal) meets: its spend, or the points its sales earned. Never up
    here (upgrades happen at sale time); no tier qualifies: the lowest tier."""
    if member.tier is None:
        return None
    since = _months_later(now, -months)
    spend, points = _period_totals(member, since)
    qualified = None
    for tier in Tier.objects.filter(rank__lte=member.tier.rank).order_by("-rank"):
        value = spend if tier.basis == Tier.Basis.SPEND else Decimal(points)
        if value >= tier.threshold:
            qualified = tier
            break
    target = qualified or Tier.objects.order_by("rank").first()
    if target is None or target.rank >= member.tier.rank:
        return None
    params = {
        "months": months,
        "from": member.tier.name,
        "to": target.name,
        "threshold": member.tier.threshold,
    }
    if member.tier.basis == Tier.Basis.SPEND:
        reason = _(
            "Renewal: spend %(value)s in the last %(months)s months is below the %(from)s threshold "
            "%(threshold)s; moved to %(to)s"
        ) % {**params, "value": spend}
    else:
        reason = _(
            "Renewal: %(value)s points earned in the last %(months)s months is below the %(from)s "
            "threshold %(threshold)s; moved to %(to)s"
        ) % {**params, "value": points}
    change = TierChange.objects.create(member=member, from_tier=member.tier, to_tier=target, reason=reason)
    # From now on only the period's spend and later purchases count towards the next upgrade.
    base = member.total_spend - spend
    Member.objects.filter(pk=member.pk).update(tier=target, tier_spend_base=base)
    member.tier, member.tier_spend_base = target, base
    return change


def member_renew(*, actor: User, member: Member) -> RenewalResult:
    """Extend a membership by the tier's validity period (or the points rule's default): from the current
    expiry date if it is still ahead, else from today. Records who renewed and when; if the tenant chose
    it, the tier is reviewed against the last period and may go down (with the reason recorded)."""
    if actor.role not in MANAGERS:
        raise PermissionDenied(_("Only a store manager can renew a membership."))
    rule = points_rule_get()
    now = timezone.now()
    today = timezone.localdate(now)
    with transaction.atomic():
        locked = _lock(member)
        months = (locked.tier.validity_months if locked.tier else None) or rule.membership_months
        change = _tier_downgrade(locked, months=months, now=now) if rule.downgrade_at_renewal else None
        previous = locked.valid_until
        start = previous if previous and previous >= today else today
        valid_until = _months_later(datetime(start.year, start.month, start.day), months).date()
        Member.objects.filter(pk=locked.pk).update(valid_until=valid_until)
        locked.valid_until = valid_until
        renewal = Renewal.objects.create(
            member=locked,
            renewed_by=actor,
            previous_valid_until=previous,
            valid_until=valid_until,
            months=months,
            tier_change=change,
        )
    return RenewalResult(renewal=renewal, member=locked, tier_change=change)


def sale_get_for_void(*, actor: User, sale_id: int) -> Sale:
    if actor.role not in MANAGERS:
        raise PermissionDenied(_("Only a store manager can void a sale."))
    sale = Sale.objects.select_related("member").filter(pk=sale_id).first()
    if sale is None:
        raise NotFound(_("No such sale."))
    return sale
