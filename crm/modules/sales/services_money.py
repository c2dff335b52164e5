"""Writes of the money area: sales settings, invoicing requests, fapiao (and red-letter reversals), monthly
targets. Every fapiao write locks the contract row and keeps Contract.invoiced_amount / invoice_status in
the same transaction, so two finance clerks recording at once can never invoice more than the total."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.db.models import Sum
from django.utils.translation import gettext as _

from crm.kernel.money import round_money
from crm.kernel.scope import can_edit, team_user_ids
from crm.kernel.vat import INVOICE_TAX_TOLERANCE, validate_rate
from crm.platform.errors import NotFound, PermissionDenied, ServiceError
from crm.platform.permissions import check_perm, data_scope, has_perm
from crm.tenants.accounts.models import Team, User

from . import fapiao_provider
from .models import Contract, Fapiao, Installment, InvoiceRequest, SalesSettings, Target
from .selectors_money import sales_settings, team_subtree_ids

ZERO = Decimal("0.00")
INVOICEABLE_STATES = (Contract.State.CONFIRMED, Contract.State.COMPLETED)
KINDS = tuple(Fapiao.Kind.values)
SETTINGS_FIELDS = (
    "target_basis",
    "reps_see_margin_percent",
    "remind_days_before",
    "remind_days_after",
    "quote_valid_days",
    "default_payment_days",
    "quote_terms",
    "contract_terms",
)


# --- settings -----------------------------------------------------------------------------------------


def settings_update(*, actor: User, **fields: Any) -> SalesSettings:
    """Change some SalesSettings fields (holders of sales.settings); unknown names are refused."""
    check_perm(actor, "sales.settings", _("Only the owner and admins change the sales settings."))
    unknown = set(fields) - set(SETTINGS_FIELDS)
    if unknown:
        raise ServiceError(_("Unknown setting."), field=sorted(unknown)[0])
    if "target_basis" in fields and fields["target_basis"] not in SalesSettings.TargetBasis.values:
        raise ServiceError(_("Choose contracts or receipts."), field="target_basis")
    for name in ("remind_days_before", "remind_days_after", "quote_valid_days", "default_payment_days"):
        if name in fields and not (0 <= int(fields[name]) <= 365):
            raise ServiceError(_("Enter a number of days from 0 to 365."), field=name)
    with transaction.atomic():
        row = SalesSettings.objects.select_for_update().get(pk=sales_settings().pk)
        for name, value in fields.items():
            setattr(row, name, value)
        row.save()
    return row


# --- contract invoicing state -----------------------------------------------------------------------------


def invoice_status_for(*, invoiced: Decimal, total: Decimal) -> str:
    if invoiced <= ZERO:
        return Contract.Progress.NONE
    if invoiced >= total:
        return Contract.Progress.FULL
    return Contract.Progress.PARTIAL


def _lock_contract(contract_id: int) -> Contract:
    return Contract.objects.select_for_update().get(pk=contract_id)


def refresh_invoiced(contract: Contract) -> Contract:
    """Store the sum of the contract's fapiao (red-letter ones negative) and the status that follows."""
    total = Fapiao.objects.filter(contract=contract).aggregate(s=Sum("amount_incl"))["s"] or ZERO
    contract.invoiced_amount = total
    contract.invoice_status = invoice_status_for(invoiced=total, total=contract.total_incl)
    Contract.objects.filter(pk=contract.pk).update(
        invoiced_amount=contract.invoiced_amount, invoice_status=contract.invoice_status
    )
    return contract


def requested_open(contract: Contract, *, exclude: int | None = None) -> Decimal:
    qs = InvoiceRequest.objects.filter(contract=contract, state=InvoiceRequest.State.OPEN)
    if exclude:
        qs = qs.exclude(pk=exclude)
    return qs.aggregate(s=Sum("amount"))["s"] or ZERO


def uninvoiced(contract: Contract) -> Decimal:
    return max(ZERO, contract.total_incl - contract.invoiced_amount)


def requestable(contract: Contract) -> Decimal:
    """What may still be requested: the total less what is invoiced and what open requests ask for."""
    return max(ZERO, contract.total_incl - contract.invoiced_amount - requested_open(contract))


def buyer_defaults(contract: Contract) -> dict[str, str]:
    """Buyer title and tax id from the customer record: the core has no tax id field, so it is read from
    the customer's custom field "tax_id" when the workspace defined one (else the rep types it)."""
    customer = contract.customer
    custom = customer.custom_fields if isinstance(customer.custom_fields, dict) else {}
    tax_id = custom.get("tax_id") or custom.get("税号") or ""
    return {"buyer_title": customer.name, "buyer_tax_id": str(tax_id)[:30]}


def _contract_for_request(actor: User, contract: Contract) -> None:
    check_perm(actor, "sales.invoice_request", _("You are not allowed to request fapiao."))
    if not (has_perm(actor, "sales.fapiao_record") or can_edit(actor, contract)):
        raise NotFound(_("No such contract."))
    if contract.state not in INVOICEABLE_STATES:
        raise ServiceError(
            _("Only a confirmed contract can be invoiced."), code="contract_not_confirmed", field="contract"
        )


def _kind(kind: str) -> str:
    if kind not in KINDS:
        raise ServiceError(_("Choose special, ordinary or fully digital."), field="kind")
    return kind


def _amount(value: Any, field: str = "amount") -> Decimal:
    try:
        amount = round_money(Decimal(str(value)))
    except (ArithmeticError, ValueError, TypeError) as exc:
        raise ServiceError(_("Enter an amount."), field=field) from exc
    if not amount.is_finite():
        raise ServiceError(_("Enter an amount."), field=field)
    return amount


# --- invoicing requests ---------------------------------------------------------------------------------


def invoice_request_create(
    *,
    actor: User,
    contract: Contract,
    installment: Installment | None = None,
    amount: Decimal | None = None,
    kind: str = Fapiao.Kind.SPECIAL,
    buyer_title: str = "",
    buyer_tax_id: str = "",
    note: str = "",
) -> InvoiceRequest:
    """A rep's request that finance issue a fapiao: never more than the contract total less what is
    invoiced or already requested (an installment's request also within the installment)."""
    _contract_for_request(actor, contract)
    _kind(kind)
    if installment is not None and installment.contract_id != contract.pk:
        raise ServiceError(_("This installment belongs to another contract."), field="installment")
    with transaction.atomic():
        contract = _lock_contract(contract.pk)
        available = requestable(contract)
        left_on_installment = ZERO
        if installment is not None:
            taken = (
                InvoiceRequest.objects.filter(
                    installment=installment,
                    state__in=(InvoiceRequest.State.OPEN, InvoiceRequest.State.ISSUED),
                ).aggregate(s=Sum("amount"))["s"]
                or ZERO
            )
            left_on_installment = max(ZERO, installment.amount - taken)
        if amount is None:
            amount = available if installment is None else min(available, left_on_installment)
        amount = _amount(amount)
        if amount <= ZERO:
            if available <= ZERO:
                raise ServiceError(
                    _("This contract is already fully invoiced or requested."),
                    code="nothing_to_invoice",
                    field="amount",
                )
            raise ServiceError(_("Enter an amount above zero."), field="amount")
        if amount > available:
            raise ServiceError(
                _("At most %(available)s can still be requested for this contract.")
                % {"available": f"{available:,.2f}"},
                code="over_requested",
                field="amount",
            )
        if installment is not None and amount > left_on_installment:
            raise ServiceError(
                _("At most the installment's amount, %(amount)s.")
                % {"amount": f"{left_on_installment:,.2f}"},
                code="over_installment",
                field="amount",
            )
        defaults = buyer_defaults(contract)
        return InvoiceRequest.objects.create(
            contract=contract,
            installment=installment,
            customer_id=contract.customer_id,
            owner_id=contract.owner_id,
            amount=amount,
            kind=kind,
            buyer_title=(buyer_title or defaults["buyer_title"]).strip()[:200],
            buyer_tax_id=(buyer_tax_id or defaults["buyer_tax_id"]).strip()[:30],
            note=note.strip()[:300],
            requested_by=actor,
        )


def invoice_request_close(
    *, actor: User, request: InvoiceRequest, state: str, note: str = ""
) -> InvoiceRequest:
    """Finance rejects an open request, or its requester (or finance) cancels it."""
    if state not in (InvoiceRequest.State.REJECTED, InvoiceRequest.State.CANCELLED):
        raise ServiceError(_("Reject or cancel."), field="state")
    if state == InvoiceRequest.State.REJECTED or request.requested_by_id != actor.pk:
        check_perm(actor, "sales.fapiao_record", _("Only finance rejects invoicing requests."))
    with transaction.atomic():
        locked = InvoiceRequest.objects.select_for_update().get(pk=request.pk)
        if locked.state != InvoiceRequest.State.OPEN:
            raise ServiceError(_("This request is no longer open."), code="request_closed")
        locked.state = state
        if note:
            locked.note = f"{locked.note} / {note}".strip(" /")[:300]
        locked.save(update_fields=["state", "note", "updated_at"])
    return locked


# --- fapiao ---------------------------------------------------------------------------------------------


def fapiao_amounts(
    *, amount_incl: Any, amount_excl: Any = None, amount_tax: Any = None, rate: Decimal
) -> tuple[Decimal, Decimal, Decimal]:
    """The three amounts of a fapiao: excl. and tax computed from incl. and the rate when left out; given,
    they must add up (incl = excl + tax) and the tax must be within the invoice-level tolerance
    (crm.kernel.vat.INVOICE_TAX_TOLERANCE) of round(excl x rate, 2)."""
    incl = _amount(amount_incl, "amount_incl")
    if amount_excl in (None, "") and amount_tax in (None, ""):
        excl = round_money(incl / (1 + rate))
        return incl, excl, incl - excl
    excl = _amount(amount_excl, "amount_excl")
    tax = _amount(amount_tax, "amount_tax") if amount_tax not in (None, "") else incl - excl
    if excl + tax != incl:
        raise ServiceError(
            _("Amount excl. tax plus tax must equal the amount incl. tax."),
            code="amounts_disagree",
            field="amount_tax",
        )
    if abs(tax - round_money(excl * rate)) > INVOICE_TAX_TOLERANCE:
        raise ServiceError(
            _("The tax does not agree with the rate: expected about %(tax)s.")
            % {"tax": f"{round_money(excl * rate):,.2f}"},
            code="tax_out_of_tolerance",
            field="amount_tax",
        )
    return incl, excl, tax


def _check_number(number: str) -> str:
    number = (number or "").strip()
    if not number:
        raise ServiceError(_("Enter the fapiao number."), field="number")
    if len(number) > 30:
        raise ServiceError(_("A fapiao number has at most 30 characters."), field="number")
    if Fapiao.objects.filter(number=number).exists():
        raise ServiceError(
            _("A fapiao with this number is already recorded."), code="duplicate", field="number"
        )
    return number


def fapiao_record(
    *,
    actor: User,
    contract: Contract,
    number: str,
    issued_on: date | None,
    amount_incl: Any,
    amount_excl: Any = None,
    amount_tax: Any = None,
    vat_rate: Any = Decimal("0.13"),
    kind: str = Fapiao.Kind.SPECIAL,
    buyer_title: str = "",
    buyer_tax_id: str = "",
    request: InvoiceRequest | None = None,
    provider: str = "manual",
    provider_reference: str = "",
) -> Fapiao:
    """Finance records an issued fapiao for a contract (for one of its open requests, which is then
    issued): the contract's invoiced amount never passes its total."""
    check_perm(actor, "sales.fapiao_record", _("Only finance records fapiao."))
    _kind(kind)
    rate = validate_rate(vat_rate)
    incl, excl, tax = fapiao_amounts(
        amount_incl=amount_incl, amount_excl=amount_excl, amount_tax=amount_tax, rate=rate
    )
    if incl <= ZERO:
        raise ServiceError(_("Enter an amount above zero."), field="amount_incl")
    if issued_on is None:
        raise ServiceError(_("Enter the date of issue."), field="issued_on")
    if request is not None and request.contract_id != contract.pk:
        raise ServiceError(_("This request belongs to another contract."), field="request")
    try:
        with transaction.atomic():
            contract = _lock_contract(contract.pk)
            if contract.state not in INVOICEABLE_STATES:
                raise ServiceError(
                    _("Only a confirmed contract can be invoiced."),
                    code="contract_not_confirmed",
                    field="contract",
                )
            number = _check_number(number)
            if request is not None:
                request = InvoiceRequest.objects.select_for_update().get(pk=request.pk)
                if request.state != InvoiceRequest.State.OPEN:
                    raise ServiceError(
                        _("This request is no longer open."), code="request_closed", field="request"
                    )
            if contract.invoiced_amount + incl > contract.total_incl:
                raise ServiceError(
                    _("This would invoice more than the contract total: at most %(left)s is left.")
                    % {"left": f"{uninvoiced(contract):,.2f}"},
                    code="over_invoiced",
                    field="amount_incl",
                )
            defaults = buyer_defaults(contract)
            fapiao = Fapiao.objects.create(
                number=number,
                contract=contract,
                request=request,
                customer_id=contract.customer_id,
                kind=kind,
                issued_on=issued_on,
                amount_incl=incl,
                amount_excl=excl,
                amount_tax=tax,
                vat_rate=rate,
                currency=contract.currency,
                buyer_title=(
                    buyer_title or (request.buyer_title if request else "") or defaults["buyer_title"]
                )[:200],
                buyer_tax_id=(
                    buyer_tax_id or (request.buyer_tax_id if request else "") or defaults["buyer_tax_id"]
                )[:30],
                provider=provider,
                provider_reference=provider_reference[:100],
                recorded_by=actor,
            )
            if request is not None:
                request.state = InvoiceRequest.State.ISSUED
                request.save(update_fields=["state", "updated_at"])
            refresh_invoiced(contract)
    except IntegrityError as exc:  # a concurrent record took the number first
        raise ServiceError(
            _("A fapiao with this number is already recorded."), code="duplicate", field="number"
        ) from exc
    return fapiao


def _seller() -> tuple[str, str]:
    tenant = getattr(connection, "tenant", None)
    return str(getattr(tenant, "name", "") or ""), str(getattr(tenant, "tax_id", "") or "")


def fapiao_issue(
    *,
    actor: User,
    contract: Contract,
    amount_incl: Any,
    vat_rate: Any = Decimal("0.13"),
    kind: str = Fapiao.Kind.SPECIAL,
    buyer_title: str = "",
    buyer_tax_id: str = "",
    request: InvoiceRequest | None = None,
    number: str = "",
    issued_on: date | None = None,
    provider: fapiao_provider.Provider | None = None,
) -> Fapiao:
    """Issue through the configured tax provider, then record what it issued. The provider is called
    outside the database transaction (a slow platform holds no lock); the record then checks everything."""
    check_perm(actor, "sales.fapiao_record", _("Only finance records fapiao."))
    provider = provider or fapiao_provider.get_provider()
    rate = validate_rate(vat_rate)
    incl, excl, tax = fapiao_amounts(amount_incl=amount_incl, rate=rate)
    if contract.invoiced_amount + incl > contract.total_incl:
        raise ServiceError(
            _("This would invoice more than the contract total: at most %(left)s is left.")
            % {"left": f"{uninvoiced(contract):,.2f}"},
            code="over_invoiced",
            field="amount_incl",
        )
    defaults = buyer_defaults(contract)
    title = buyer_title or (request.buyer_title if request else "") or defaults["buyer_title"]
    tax_id = buyer_tax_id or (request.buyer_tax_id if request else "") or defaults["buyer_tax_id"]
    seller_name, seller_tax_id = _seller()
    lines = (
        tuple(
            fapiao_provider.IssueLine(
                name=ln.description or contract.title or contract.number,
                quantity=ln.quantity,
                amount_excl=ln.amount_excl,
                tax=ln.amount_tax,
                rate=ln.vat_rate,
            )
            for ln in contract.lines.all()
        )
        if incl == contract.total_incl
        else (
            fapiao_provider.IssueLine(
                name=contract.title or contract.number,
                quantity=Decimal("1"),
                amount_excl=excl,
                tax=tax,
                rate=rate,
            ),
        )
    )
    issued = provider.issue(
        fapiao_provider.IssueRequest(
            kind=kind,
            seller_name=seller_name,
            seller_tax_id=seller_tax_id,
            buyer_title=title,
            buyer_tax_id=tax_id,
            amount_incl=incl,
            amount_excl=excl,
            amount_tax=tax,
            rate=rate,
            currency=contract.currency,
            lines=lines,
            reference=f"{contract.number}-{request.pk}" if request else contract.number,
            number=number,
            issued_on=issued_on,
        )
    )
    return fapiao_record(
        actor=actor,
        contract=contract,
        request=request,
        number=issued.number,
        issued_on=issued.issued_on,
        amount_incl=issued.amount_incl,
        amount_excl=issued.amount_excl,
        amount_tax=issued.amount_tax,
        vat_rate=rate,
        kind=kind,
        buyer_title=title,
        buyer_tax_id=tax_id,
        provider=provider.name,
        provider_reference=":".join(p for p in (issued.code, issued.reference) if p),
    )


def fapiao_red(
    *,
    actor: User,
    fapiao: Fapiao,
    reason: str,
    number: str = "",
    issued_on: date | None = None,
    provider: fapiao_provider.Provider | None = None,
) -> Fapiao:
    """The red-letter fapiao (红字) reversing an issued one: the same amounts negative, a reason, once per
    fapiao; the contract's invoiced amount goes back down in the same transaction."""
    check_perm(actor, "sales.fapiao_record", _("Only finance records fapiao."))
    reason = (reason or "").strip()
    if not reason:
        raise ServiceError(_("Give the reason for the red-letter fapiao."), field="reason")
    if fapiao.red_of_id is not None:
        raise ServiceError(_("A red-letter fapiao cannot be reversed."), code="red_of_red")
    if Fapiao.objects.filter(red_of=fapiao).exists():
        raise ServiceError(_("This fapiao is already reversed."), code="already_reversed")
    provider = provider or (
        fapiao_provider.get_provider(fapiao.provider)
        if fapiao.provider in fapiao_provider.PROVIDERS
        else fapiao_provider.get_provider("manual")
    )
    issued = provider.red(fapiao, reason, number=(number or "").strip(), issued_on=issued_on)
    try:
        with transaction.atomic():
            contract = _lock_contract(fapiao.contract_id)
            if Fapiao.objects.filter(red_of=fapiao).exists():
                raise ServiceError(_("This fapiao is already reversed."), code="already_reversed")
            red = Fapiao.objects.create(
                number=_check_number(issued.number),
                contract=contract,
                customer_id=fapiao.customer_id,
                kind=fapiao.kind,
                issued_on=issued.issued_on,
                amount_incl=-abs(fapiao.amount_incl),
                amount_excl=-abs(fapiao.amount_excl),
                amount_tax=-abs(fapiao.amount_tax),
                vat_rate=fapiao.vat_rate,
                currency=fapiao.currency,
                buyer_title=fapiao.buyer_title,
                buyer_tax_id=fapiao.buyer_tax_id,
                red_of=fapiao,
                reason=reason[:300],
                provider=provider.name,
                provider_reference=":".join(p for p in (issued.code, issued.reference) if p)[:100],
                recorded_by=actor,
            )
            refresh_invoiced(contract)
    except IntegrityError as exc:
        raise ServiceError(_("This fapiao is already reversed."), code="already_reversed") from exc
    return red


# --- targets --------------------------------------------------------------------------------------------


def first_of_month(day: date) -> date:
    return day.replace(day=1)


def _manageable(actor: User) -> tuple[set[int] | None, set[int] | None]:
    """(user ids, team ids) the actor may set targets for; None: all (owners and admins)."""
    check_perm(actor, "sales.targets_manage", _("You are not allowed to set targets."))
    if data_scope(actor) == "all":
        return None, None
    teams: set[int] = set()
    for team in Team.objects.filter(manager=actor):
        teams |= team_subtree_ids(team.pk)
    return team_user_ids(actor), teams


def target_set(
    *, actor: User, month: date, amount: Any, user: User | None = None, team: Team | None = None
) -> Target | None:
    """Set (or with an empty amount, remove) the target of one rep or one team for a month. Managers set
    the targets of their teams' members and of their teams."""
    if (user is None) == (team is None):
        raise ServiceError(_("Choose a rep or a team."), field="user")
    users, teams = _manageable(actor)
    if user is not None and users is not None and user.pk not in users:
        raise PermissionDenied(_("This rep is not in your team."))
    if team is not None and teams is not None and team.pk not in teams:
        raise PermissionDenied(_("This team is not yours."))
    month = first_of_month(month)
    lookup: dict[str, Any] = (
        {"month": month, "user": user} if user is not None else {"month": month, "team": team}
    )
    if amount in (None, ""):
        Target.objects.filter(**lookup).delete()
        return None
    value = _amount(amount)
    if value < ZERO:
        raise ServiceError(_("A target cannot be negative."), field="amount")
    if value > Decimal("99999999999999"):
        raise ServiceError(_("This target is too large."), field="amount")
    target, _created = Target.objects.update_or_create(**lookup, defaults={"amount": value})
    return target


def targets_copy_last_month(*, actor: User, month: date) -> int:
    """Copy last month's targets into `month` where `month` has none yet; returns how many were copied."""
    users, teams = _manageable(actor)
    month = first_of_month(month)
    previous = first_of_month(month - timedelta(days=1))
    copied = 0
    with transaction.atomic():
        existing_users = set(
            Target.objects.filter(month=month, user__isnull=False).values_list("user_id", flat=True)
        )
        existing_teams = set(
            Target.objects.filter(month=month, team__isnull=False).values_list("team_id", flat=True)
        )
        for t in Target.objects.filter(month=previous):
            if t.user_id is not None and (
                t.user_id in existing_users or (users is not None and t.user_id not in users)
            ):
                continue
            if t.team_id is not None and (
                t.team_id in existing_teams or (teams is not None and t.team_id not in teams)
            ):
                continue
            Target.objects.create(
                month=month, user_id=t.user_id, team_id=t.team_id, amount=t.amount, currency=t.currency
            )
            copied += 1
    return copied
