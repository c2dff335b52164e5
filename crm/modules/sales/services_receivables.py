"""Receivables writes: payment plans, receipts (回款) and their allocation, customer credit, reversal,
reminders.

Every write is one transaction. Rows are locked in one order everywhere (contracts by id, then
installments by id, then receipts by id), so two receipts for the same customer queue instead of deadlocking
or losing an update. Stored sums are kept: Installment.paid_amount, Contract.paid_amount and payment_status,
Receipt.allocated_amount (what is not allocated on a posted receipt is the customer's credit).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import F, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from crm.kernel.notices import notice_send
from crm.kernel.numbering import number_next
from crm.kernel.scope import can_edit
from crm.kernel.tenant_time import tenant_today
from crm.modules.core.public import Customer, customers_visible
from crm.platform.errors import NotFound, PermissionDenied, ServiceError
from crm.platform.permissions import check_perm, has_perm

from .models import OPEN_STATES, Contract, Installment, Receipt, ReceiptAllocation, SalesSettings

ZERO = Decimal("0.00")
CENT = Decimal("0.01")
MAX_AMOUNT = Decimal("9999999999999.99")
# Contracts whose receivables are open (drafts have no plan yet; cancelled ones are closed).
PLAN_STATES = ("draft", "submitted", "confirmed", "completed")


@dataclass(frozen=True)
class PlanPart:
    due_date: date
    amount: Decimal
    note: str = ""
    id: int | None = None  # an existing installment being kept or changed


@dataclass(frozen=True)
class AllocationInput:
    amount: Decimal
    installment_id: int | None = None
    contract_id: int | None = None  # for a contract without a plan (or derived from the installment)


def _settings() -> SalesSettings:
    return SalesSettings.objects.get_or_create(pk=1)[0]


def _status(paid: Decimal, total: Decimal) -> str:
    if paid <= 0:
        return Contract.Progress.NONE
    if paid >= total:
        return Contract.Progress.FULL
    return Contract.Progress.PARTIAL


def _check_amount(value: Decimal, field: str = "amount") -> Decimal:
    if value is None or not isinstance(value, Decimal) or not value.is_finite():
        raise ServiceError(_("Enter an amount, e.g. 1,234.50."), field=field)
    if value != value.quantize(CENT):
        raise ServiceError(_("Enter at most two decimals (cents)."), field=field)
    if value <= 0:
        raise ServiceError(_("The amount must be more than zero."), field=field)
    if value > MAX_AMOUNT:
        raise ServiceError(_("The amount is too large."), field=field)
    return value.quantize(CENT)


def sees_all(user: Any) -> bool:
    return has_perm(user, "sales.receivables_all")


def check_customer(actor: Any, customer: Customer) -> None:
    """Reps (and managers) record receipts only for customers they can see; finance for any."""
    if sees_all(actor):
        return
    if not customers_visible(actor).filter(pk=customer.pk).exists():
        raise NotFound(_("No such customer."))


def check_contract_plan(actor: Any, contract: Contract) -> None:
    if sees_all(actor) and has_perm(actor, "sales.receipt_record"):
        return
    check_perm(actor, "sales.contract_edit", _("You are not allowed to edit payment plans."))
    if not can_edit(actor, contract):
        raise PermissionDenied(_("You are not allowed to edit payment plans."))


# --- payment plans --------------------------------------------------------------------------------------


def default_parts(contract: Contract, start: date | None = None) -> list[PlanPart]:
    """The plan from the contract's terms: the prepayment percent due on the signing (or confirmation)
    date, the rest `payment_days` later. Half-up rounding of the prepayment; the rest is the difference, so
    the parts add up to the total to the cent."""
    total = contract.total_incl
    start = start or contract.signed_on or tenant_today()
    rest_due = start + timedelta(days=contract.payment_days)
    pct = contract.prepayment_percent or ZERO
    pre = (total * pct / 100).quantize(CENT, rounding=ROUND_HALF_UP)
    pre = min(max(pre, ZERO), total)
    parts: list[PlanPart] = []
    if pre > 0:
        parts.append(PlanPart(due_date=start, amount=pre, note=_("Prepayment")))
    if total - pre > 0:
        parts.append(PlanPart(due_date=rest_due, amount=total - pre, note=_("Balance")))
    return parts


def sync_contract_open(*, contract_id: int, state: str) -> None:
    """Mirror the contract's state onto its installments (`Installment.contract_open`); called in the
    transaction of every contract transition."""
    Installment.objects.filter(contract_id=contract_id).update(contract_open=state in OPEN_STATES)


def plan_default(*, contract: Contract) -> list[Installment]:
    """Create the default plan when the contract has none (idempotent: an existing plan is kept)."""
    if contract.total_incl <= 0 or Installment.objects.filter(contract=contract).exists():
        return list(Installment.objects.filter(contract=contract))
    return Installment.objects.bulk_create(
        Installment(
            contract=contract,
            customer_id=contract.customer_id,
            owner_id=contract.owner_id,
            position=i + 1,
            due_date=p.due_date,
            amount=p.amount,
            currency=contract.currency,
            note=p.note,
            contract_open=contract.state in OPEN_STATES,
        )
        for i, p in enumerate(default_parts(contract))
    )


def _lock_contract(contract_id: int) -> Contract:
    locked = Contract.objects.select_for_update().filter(pk=contract_id).first()
    if locked is None:
        raise NotFound(_("No such contract."))
    return locked


def plan_set(*, actor: Any, contract: Contract, parts: Sequence[PlanPart]) -> list[Installment]:
    """Replace the contract's plan. The parts must add up to the contract total to the cent; installments
    with money on them are kept as they are (changing or removing one is refused)."""
    check_contract_plan(actor, contract)
    errors: dict[str, list[str]] = {}
    if not parts:
        raise ServiceError(_("Add at least one installment."), field="installments")
    for i, p in enumerate(parts):
        try:
            _check_amount(p.amount)
        except ServiceError as exc:
            errors[f"installments.{i}.amount"] = [str(exc.message)]
        if not isinstance(p.due_date, date):
            errors[f"installments.{i}.due_date"] = [_("Enter a due date.")]
    if errors:
        raise ServiceError(_("Please correct the installments."), fields=errors)
    with transaction.atomic():
        contract = _lock_contract(contract.pk)
        if contract.state not in PLAN_STATES:
            raise ServiceError(_("A cancelled contract has no payment plan."))
        total = sum((p.amount for p in parts), ZERO)
        if total != contract.total_incl:
            raise ServiceError(
                _("The installments add up to %(sum)s but the contract total is %(total)s.")
                % {"sum": f"{total:,.2f}", "total": f"{contract.total_incl:,.2f}"},
                field="installments",
            )
        existing = {
            i.pk: i for i in Installment.objects.select_for_update().filter(contract=contract).order_by("pk")
        }
        kept_ids = {p.id for p in parts if p.id is not None}
        unknown = kept_ids - set(existing)
        if unknown:
            raise ServiceError(_("An installment is not part of this contract."), field="installments")
        for inst in existing.values():
            if inst.paid_amount <= 0:
                continue
            part = next((p for p in parts if p.id == inst.pk), None)
            if part is None or part.amount != inst.amount or part.due_date != inst.due_date:
                raise ServiceError(
                    _("Installment %(n)s has payments on it: it cannot be changed or removed.")
                    % {"n": inst.position},
                    field="installments",
                )
        removed = [pk for pk in existing if pk not in kept_ids]
        if removed:
            # Only allocations of reversed receipts can point at them (paid installments are kept).
            ReceiptAllocation.objects.filter(installment_id__in=removed).update(installment=None)
            Installment.objects.filter(pk__in=removed).delete()
        ordered = sorted(parts, key=lambda p: (p.due_date, p.id or 0))
        result: list[Installment] = []
        for position, p in enumerate(ordered, start=1):
            if p.id is not None:
                inst = existing[p.id]
                inst.position, inst.due_date, inst.amount, inst.note = position, p.due_date, p.amount, p.note
                inst.owner_id, inst.customer_id = contract.owner_id, contract.customer_id
                inst.save(update_fields=["position", "due_date", "amount", "note", "owner", "customer"])
            else:
                inst = Installment.objects.create(
                    contract=contract,
                    customer_id=contract.customer_id,
                    owner_id=contract.owner_id,
                    position=position,
                    due_date=p.due_date,
                    amount=p.amount,
                    note=p.note[:200],
                    currency=contract.currency,
                    contract_open=contract.state in OPEN_STATES,
                )
            result.append(inst)
        return result


def plan_follow_total(*, contract: Contract) -> None:
    """After a revision changed the contract total: the last open installment absorbs the difference, or
    a translated error asks to edit the plan (the caller's transaction then changes nothing)."""
    with transaction.atomic():
        contract = _lock_contract(contract.pk)
        plan = list(Installment.objects.select_for_update().filter(contract=contract).order_by("pk"))
        if not plan:
            return
        diff = contract.total_incl - sum((i.amount for i in plan), ZERO)
        if diff == 0:
            return
        open_ones = sorted((i for i in plan if i.paid_amount < i.amount), key=lambda i: (i.position, i.pk))
        last = open_ones[-1] if open_ones else None
        if last is None or last.amount + diff <= last.paid_amount or last.amount + diff <= 0:
            raise ServiceError(
                _("The new total does not fit the payment plan: edit the plan so that it adds up to %(t)s.")
                % {"t": f"{contract.total_incl:,.2f}"}
            )
        last.amount += diff
        last.save(update_fields=["amount"])
        contract.payment_status = _status(contract.paid_amount, contract.total_incl)
        contract.save(update_fields=["payment_status"])


# --- receipts --------------------------------------------------------------------------------------------


@dataclass
class _Open:
    contract: Contract
    installment: Installment | None
    due: date

    @property
    def open(self) -> Decimal:
        if self.installment is not None:
            return self.installment.amount - self.installment.paid_amount
        return self.contract.total_incl - self.contract.paid_amount


def _lock_open_items(customer_id: int, contract_ids: Iterable[int] | None = None) -> list[_Open]:
    """Lock the customer's open contracts and their installments (id order) and list what is open, oldest
    due first. A contract without a plan is one item due on its signing (or confirmation) date."""
    qs = Contract.objects.select_for_update().filter(customer_id=customer_id, state__in=OPEN_STATES)
    if contract_ids is not None:
        qs = qs.filter(pk__in=list(contract_ids))
    contracts = {c.pk: c for c in qs.order_by("pk")}
    plans: dict[int, list[Installment]] = {}
    for inst in (
        Installment.objects.select_for_update().filter(contract_id__in=list(contracts)).order_by("pk")
    ):
        plans.setdefault(inst.contract_id, []).append(inst)
    items: list[_Open] = []
    for c in contracts.values():
        if c.pk in plans:
            items.extend(_Open(c, i, i.due_date) for i in plans[c.pk] if i.paid_amount < i.amount)
        elif c.paid_amount < c.total_incl:
            when = c.signed_on or (
                timezone.localdate(c.confirmed_at) if c.confirmed_at else c.created_at.date()
            )
            items.append(_Open(c, None, when))
    items.sort(key=lambda it: (it.due, it.contract.pk, it.installment.position if it.installment else 0))
    return items


def _apply(
    receipt: Receipt, items: list[_Open], allocations: Sequence[AllocationInput] | None, available: Decimal
) -> Decimal:
    """Allocate up to `available` of `receipt` (locked rows in `items`); returns what was allocated."""
    plan: list[tuple[_Open, Decimal]] = []
    if allocations is None:  # oldest due first
        left = available
        for it in items:
            if left <= 0:
                break
            take = min(left, it.open)
            if take > 0:
                plan.append((it, take))
                left -= take
    else:
        by_inst = {it.installment.pk: it for it in items if it.installment is not None}
        by_contract = {it.contract.pk: it for it in items if it.installment is None}
        wanted: dict[int, Decimal] = {}
        for n, a in enumerate(allocations):
            field = f"allocations.{n}.amount"
            amount = _check_amount(a.amount, field)
            found = (
                by_inst.get(a.installment_id)
                if a.installment_id is not None
                else by_contract.get(a.contract_id or 0)
            )
            if found is None:
                raise ServiceError(
                    _("This installment or contract is not open for this customer."),
                    field=f"allocations.{n}",
                )
            it = found
            key = id(it)
            wanted[key] = wanted.get(key, ZERO) + amount
            if wanted[key] > it.open:
                raise ServiceError(
                    _("%(amount)s is more than the %(open)s open on %(what)s.")
                    % {"amount": f"{amount:,.2f}", "open": f"{it.open:,.2f}", "what": _describe(it)},
                    field=field,
                )
            plan.append((it, amount))
        if sum((amt for _it, amt in plan), ZERO) > available:
            raise ServiceError(_("The allocations add up to more than the receipt."), field="allocations")
    total = ZERO
    touched: dict[int, Contract] = {}
    rows = []
    for it, amount in plan:
        if it.installment is not None:
            it.installment.paid_amount += amount
        it.contract.paid_amount += amount
        touched[it.contract.pk] = it.contract
        rows.append(
            ReceiptAllocation(
                receipt=receipt, contract=it.contract, installment=it.installment, amount=amount
            )
        )
        total += amount
    ReceiptAllocation.objects.bulk_create(rows)
    insts = [it.installment for it, _amt in plan if it.installment is not None]
    if insts:
        Installment.objects.bulk_update(insts, ["paid_amount"])
    for c in touched.values():
        c.payment_status = _status(c.paid_amount, c.total_incl)
    if touched:
        Contract.objects.bulk_update(list(touched.values()), ["paid_amount", "payment_status"])
    return total


def _describe(it: _Open) -> str:
    if it.installment is not None:
        return f"{it.contract.number} #{it.installment.position}"
    return it.contract.number


def receipt_record(
    *,
    actor: Any,
    customer: Customer,
    amount: Decimal,
    received_on: date,
    method: str = Receipt.Method.BANK,
    bank_reference: str = "",
    note: str = "",
    allocations: Sequence[AllocationInput] | None = None,
    keep_credit: bool = False,
    client_token: str | None = None,
    currency: str = "CNY",
) -> Receipt:
    """Record money received and allocate it in the same step: `allocations` None = oldest due first across
    the customer's open contracts, else exactly those. What is left over is refused unless `keep_credit`.
    With a `client_token` (form token, API Idempotency-Key) a retry returns the first receipt."""
    check_perm(actor, "sales.receipt_record", _("You are not allowed to record receipts."))
    check_customer(actor, customer)
    amount = _check_amount(amount)
    if method not in Receipt.Method.values:
        raise ServiceError(_("Choose a payment method."), field="method")
    if not isinstance(received_on, date):
        raise ServiceError(_("Enter the date the money arrived."), field="received_on")
    if received_on > tenant_today() + timedelta(days=1):
        raise ServiceError(_("The date is in the future."), field="received_on")
    token = (client_token or "").strip()[:64] or None
    if token:
        existing = Receipt.objects.filter(client_token=token).first()
        if existing is not None:
            return existing
    try:
        with transaction.atomic():
            return _record(
                actor,
                customer,
                amount,
                received_on,
                method,
                bank_reference,
                note,
                allocations,
                keep_credit,
                token,
                currency,
            )
    except IntegrityError:
        # A concurrent save with the same token won the unique index: that one is the receipt.
        existing = Receipt.objects.filter(client_token=token).first() if token else None
        if existing is None:
            raise
        return existing


def _record(
    actor: Any,
    customer: Customer,
    amount: Decimal,
    received_on: date,
    method: str,
    bank_reference: str,
    note: str,
    allocations: Sequence[AllocationInput] | None,
    keep_credit: bool,
    token: str | None,
    currency: str,
) -> Receipt:
    items = _lock_open_items(customer.pk)
    receipt = Receipt.objects.create(
        number=number_next(doc_type="sales.receipt", prefix="SK"),
        customer=customer,
        owner_id=customer.owner_id or actor.pk,
        amount=amount,
        currency=currency,
        received_on=received_on,
        method=method,
        bank_reference=bank_reference.strip()[:100],
        note=note.strip()[:300],
        recorded_by=actor,
        client_token=token,
    )
    allocated = _apply(receipt, items, allocations, amount)
    if allocated < amount and not keep_credit:
        open_total = sum((it.open for it in items), ZERO) + allocated
        if allocations is None and open_total < amount:
            message = _(
                "The receipt is %(amount)s but only %(open)s is open: "
                "tick “keep the rest as customer credit”."
            ) % {"amount": f"{amount:,.2f}", "open": f"{open_total:,.2f}"}
        else:
            message = _(
                "%(rest)s of the receipt is not allocated: "
                "allocate it or tick “keep the rest as customer credit”."
            ) % {"rest": f"{amount - allocated:,.2f}"}
        raise ServiceError(message, field="keep_credit")
    receipt.allocated_amount = allocated
    receipt.save(update_fields=["allocated_amount"])
    return receipt


def credit_available(customer_id: int) -> Decimal:
    got = Receipt.objects.filter(customer_id=customer_id, state=Receipt.State.POSTED).aggregate(
        a=Sum("amount"), b=Sum("allocated_amount")
    )
    return (got["a"] or ZERO) - (got["b"] or ZERO)


def credit_apply(
    *, actor: Any, customer: Customer, allocations: Sequence[AllocationInput] | None = None
) -> Decimal:
    """Apply the customer's credit (unallocated parts of posted receipts, oldest first) to open
    installments: oldest due first, or `allocations`. Returns the amount applied."""
    check_perm(actor, "sales.receipt_record", _("You are not allowed to record receipts."))
    check_customer(actor, customer)
    with transaction.atomic():
        items = _lock_open_items(customer.pk)
        receipts = list(
            Receipt.objects.select_for_update()
            .filter(customer=customer, state=Receipt.State.POSTED)
            .order_by("pk")
        )
        receipts = [r for r in receipts if r.unallocated > 0]
        receipts.sort(key=lambda r: (r.received_on, r.pk))
        credit = sum((r.unallocated for r in receipts), ZERO)
        if credit <= 0:
            raise ServiceError(_("This customer has no credit."))
        if allocations is not None:
            wanted = sum((_check_amount(a.amount) for a in allocations), ZERO)
            if wanted > credit:
                raise ServiceError(
                    _("Only %(credit)s of credit is available.") % {"credit": f"{credit:,.2f}"},
                    field="allocations",
                )
            # Validate the whole request against the open items once, then spread it over the receipts.
            _validate_manual(items, allocations)
            queue = _split(allocations)
        else:
            queue = None
        applied = ZERO
        for r in receipts:
            if queue is not None and not queue:
                break
            take: list[AllocationInput] | None = None
            if queue is not None:
                take, queue = _take(queue, r.unallocated)
            got = _apply(r, items, take, r.unallocated)
            if got:
                r.allocated_amount += got
                r.save(update_fields=["allocated_amount"])
                applied += got
            if queue is None and not any(it.open > 0 for it in items):
                break
        if applied <= 0:
            raise ServiceError(_("Nothing is open to apply the credit to."))
        return applied


def _validate_manual(items: list[_Open], allocations: Sequence[AllocationInput]) -> None:
    opens = {(it.installment.pk if it.installment else None, it.contract.pk): it.open for it in items}
    for n, a in enumerate(allocations):
        key = next(
            (
                k
                for k in opens
                if (a.installment_id and k[0] == a.installment_id)
                or (not a.installment_id and k[0] is None and k[1] == a.contract_id)
            ),
            None,
        )
        if key is None:
            raise ServiceError(
                _("This installment or contract is not open for this customer."), field=f"allocations.{n}"
            )
        opens[key] -= a.amount
        if opens[key] < 0:
            raise ServiceError(_("This is more than is open."), field=f"allocations.{n}.amount")


def _split(allocations: Sequence[AllocationInput]) -> list[AllocationInput]:
    return [a for a in allocations if a.amount > 0]


def _take(
    queue: list[AllocationInput], budget: Decimal
) -> tuple[list[AllocationInput], list[AllocationInput]]:
    taken: list[AllocationInput] = []
    rest = list(queue)
    while rest and budget > 0:
        a = rest[0]
        amount = min(a.amount, budget)
        taken.append(
            AllocationInput(amount=amount, installment_id=a.installment_id, contract_id=a.contract_id)
        )
        budget -= amount
        if amount == a.amount:
            rest.pop(0)
        else:
            rest[0] = AllocationInput(
                amount=a.amount - amount, installment_id=a.installment_id, contract_id=a.contract_id
            )
    return taken, rest


def receipt_get(*, actor: Any, pk: int) -> Receipt:
    from . import selectors_receivables as sel

    receipt = sel.receipts_visible(actor).filter(pk=pk).select_related("customer", "owner").first()
    if receipt is None:
        raise NotFound(_("No such receipt."))
    return receipt


def receipt_reverse(*, actor: Any, receipt: Receipt, reason: str) -> Receipt:
    """Undo a receipt: its allocations are taken back from the installments and contracts; the receipt is
    kept, marked reversed, with the reason."""
    check_perm(actor, "sales.receipt_reverse", _("You are not allowed to reverse receipts."))
    reason = (reason or "").strip()
    if not reason:
        raise ServiceError(_("Give a reason."), field="reason")
    with transaction.atomic():
        allocs = list(ReceiptAllocation.objects.filter(receipt_id=receipt.pk).order_by("pk"))
        contracts = {
            c.pk: c
            for c in Contract.objects.select_for_update()
            .filter(pk__in={a.contract_id for a in allocs})
            .order_by("pk")
        }
        insts = {
            i.pk: i
            for i in Installment.objects.select_for_update()
            .filter(pk__in={a.installment_id for a in allocs if a.installment_id})
            .order_by("pk")
        }
        locked = Receipt.objects.select_for_update().get(pk=receipt.pk)
        if locked.state == Receipt.State.REVERSED:
            raise ServiceError(_("This receipt is already reversed."))
        for a in allocs:
            contracts[a.contract_id].paid_amount -= a.amount
            if a.installment_id and a.installment_id in insts:
                insts[a.installment_id].paid_amount -= a.amount
        for c in contracts.values():
            c.payment_status = _status(c.paid_amount, c.total_incl)
        if contracts:
            Contract.objects.bulk_update(list(contracts.values()), ["paid_amount", "payment_status"])
        if insts:
            Installment.objects.bulk_update(list(insts.values()), ["paid_amount"])
        locked.state = Receipt.State.REVERSED
        locked.reversed_at = timezone.now()
        locked.reversed_by = actor
        locked.reversal_reason = reason[:300]
        locked.save(update_fields=["state", "reversed_at", "reversed_by", "reversal_reason"])
        return locked


# --- reminders -------------------------------------------------------------------------------------------

AFTER_WINDOW = 7  # an overdue reminder missed for longer than this (task down) is not sent late


def reminders_run(today: date | None = None) -> dict[str, int]:
    """Notice and email to the customer's owner N days before and N days after a due date, once each
    (reminded_before_at / reminded_after_at are set in the same transaction); a second run sends nothing."""
    today = today or tenant_today()
    cfg = _settings()
    counts = {"before": 0, "after": 0}
    open_qs = Installment.objects.filter(contract_open=True).exclude(paid_amount__gte=F("amount"))
    windows = (
        ("before", "reminded_before_at", today, today + timedelta(days=cfg.remind_days_before)),
        (
            "after",
            "reminded_after_at",
            today - timedelta(days=cfg.remind_days_after + AFTER_WINDOW),
            today - timedelta(days=cfg.remind_days_after),
        ),
    )
    for kind, stamp, start, end in windows:
        with transaction.atomic():
            rows = list(
                open_qs.filter(due_date__gte=start, due_date__lte=end, **{f"{stamp}__isnull": True})
                .select_for_update(skip_locked=True, of=("self",))
                .select_related("contract", "customer__owner", "owner")
                .order_by("pk")[:500]
            )
            now = timezone.now()
            for inst in rows:
                _remind(inst, kind)
                setattr(inst, stamp, now)
            Installment.objects.bulk_update(rows, [stamp])
            counts[kind] += len(rows)
    return counts


def _remind(inst: Installment, kind: str) -> None:
    values = {
        "customer": inst.customer.name,
        "contract": inst.contract.number,
        "amount": f"{inst.open_amount:,.2f}",
        "due": inst.due_date.isoformat(),
    }
    if kind == "before":
        title = _("%(customer)s: %(amount)s due on %(due)s (%(contract)s)") % values
    else:
        title = _("%(customer)s: %(amount)s overdue since %(due)s (%(contract)s)") % values
    url = f"/sales/receivables/contracts/{inst.contract_id}/plan/"
    # The customer's owner (the installment's owner when the customer has none, e.g. in the pool).
    user = inst.customer.owner or inst.owner
    notice_send(user=user, title=title, url=url)
    if user.email:
        email = user.email
        transaction.on_commit(
            lambda: send_mail(title, title, settings.DEFAULT_FROM_EMAIL, [email], fail_silently=True)
        )


# --- customer merge / handover helpers ---------------------------------------------------------------


def open_installments_filter(queryset: Any) -> Any:
    """CustomerLink open filter: installments with something still to pay."""
    return queryset.exclude(paid_amount__gte=F("amount"))
