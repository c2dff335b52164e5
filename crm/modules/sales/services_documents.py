"""Writes of the documents area: quotes (versions, sending, decisions, expiry, email), contracts and
orders (from a quote or a customer, submission, approval-guarded confirmation, completion, cancellation)
and revisions (变更) of confirmed contracts.

Every state change goes through the kernel's `states.transition` (permission, saved-state check,
approval guard on the confirmed state, transition log). Lines are written by the kernel's document
services, so the totals are always the sums of the stored line amounts.

Revisions: a confirmed contract's lines change only through an approved `ContractRevision`. On
submission the tenant's approval rules on sales.contract are checked against the revision's after-state
(amount, discount %, margin % of the proposed lines): when none matches the revision is applied at once;
otherwise it waits for a decision by an approver of the matching rules' steps (never its requester or
the contract's owner), and is applied in the deciding transaction.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from crm.kernel import approvals
from crm.kernel.dispatch import enqueue
from crm.kernel.documents import (
    LineData,
    document_create,
    document_lines_data,
    document_recompute,
    document_update,
)
from crm.kernel.hooks import document_event
from crm.kernel.models import ApprovalRule
from crm.kernel.money import line_amounts, round_money
from crm.kernel.scope import can_edit
from crm.kernel.states import transition
from crm.kernel.tenant_time import tenant_today
from crm.kernel.vat import validate_rate
from crm.modules.core.public import Activity, Contact, Customer, Product
from crm.platform.errors import NotFound, PermissionDenied, ServiceError
from crm.platform.permissions import check_perm

from . import receivables_panel
from .models import Contract, ContractLine, ContractRevision, Opportunity, Quote, SalesSettings
from .services_pipeline import opportunity_won_by_contract

ZERO = Decimal("0.00")
HUNDRED = Decimal("100")
MAX_LINES = 200


def settings_get() -> SalesSettings:
    return SalesSettings.objects.get_or_create(pk=1)[0]


# --- lines ---------------------------------------------------------------------------------------------


def _decimal(value: Any, *, field: str, n: int) -> Decimal:
    try:
        result = Decimal(str(value).strip().replace(",", "")) if value not in (None, "") else None
    except (InvalidOperation, ValueError):
        result = None
    if result is None or not result.is_finite():
        raise ServiceError(_("Line %(n)s: enter a number.") % {"n": n}, field=field)
    return result


def lines_from_rows(rows: Sequence[dict[str, Any]], *, whole_discount: Any = None) -> list[LineData]:
    """Lines from form or API rows: {product, description, quantity, unit, unit_price_incl, vat_rate,
    discount_percent, unit_cost_excl}. A catalogue product fills what the row leaves empty (name, unit,
    price, VAT rate, cost). `whole_discount` (percent) is spread over every line: each line's discount
    becomes 1 - (1 - own) x (1 - whole), so the stored line amounts still add up to the total."""
    if len(rows) > MAX_LINES:
        raise ServiceError(_("A document has at most %(n)s lines.") % {"n": MAX_LINES}, field="lines")
    whole = ZERO
    if whole_discount not in (None, ""):
        whole = _decimal(whole_discount, field="whole_discount", n=0)
        if not (ZERO <= whole < HUNDRED):
            raise ServiceError(_("The discount must be between 0 and 100 %."), field="whole_discount")
    ids = [int(r["product"]) for r in rows if r.get("product")]
    products = {p.pk: p for p in Product.objects.filter(pk__in=ids)}
    lines: list[LineData] = []
    for n, row in enumerate(rows, start=1):
        product = products.get(int(row["product"])) if row.get("product") else None
        if row.get("product") and product is None:
            raise ServiceError(_("Line %(n)s: no such product.") % {"n": n}, field="lines")
        description = str(row.get("description") or "").strip() or (product.name if product else "")
        price_raw = row.get("unit_price_incl")
        price = (
            product.price
            if product is not None and price_raw in (None, "")
            else _decimal(price_raw, field="lines", n=n)
        )
        rate_raw = row.get("vat_rate")
        rate = validate_rate(product.vat_rate if product is not None and rate_raw in (None, "") else rate_raw)
        cost_raw = row.get("unit_cost_excl")
        if cost_raw in (None, ""):
            cost = product.cost if product is not None else None
        else:
            cost = _decimal(cost_raw, field="lines", n=n)
            if cost < 0:
                raise ServiceError(_("Line %(n)s: the cost cannot be negative.") % {"n": n}, field="lines")
        own = _decimal(row.get("discount_percent") or "0", field="lines", n=n)
        discount = own
        if whole:
            discount = (HUNDRED - (HUNDRED - own) * (HUNDRED - whole) / HUNDRED).quantize(Decimal("0.01"))
        lines.append(
            LineData(
                description=description[:300],
                quantity=_decimal(row.get("quantity"), field="lines", n=n),
                unit_price_incl=price,
                vat_rate=rate,
                unit=str(row.get("unit") or (product.unit if product else ""))[:20],
                discount_percent=discount,
                product_id=product.pk if product else None,
                unit_cost_excl=cost,
            )
        )
    return lines


def line_to_row(data: LineData) -> dict[str, Any]:
    return {
        "product": data.product_id,
        "description": data.description,
        "quantity": str(data.quantity),
        "unit": data.unit,
        "unit_price_incl": str(data.unit_price_incl),
        "vat_rate": str(data.vat_rate),
        "discount_percent": str(data.discount_percent),
        "unit_cost_excl": None if data.unit_cost_excl is None else str(data.unit_cost_excl),
    }


@dataclass(frozen=True)
class Totals:
    incl: Decimal
    excl: Decimal
    tax: Decimal
    gross_incl: Decimal
    cost_excl: Decimal | None

    @property
    def discount_percent(self) -> Decimal:
        if not self.gross_incl:
            return ZERO
        return ((1 - self.incl / self.gross_incl) * 100).quantize(Decimal("0.01"))

    @property
    def margin_percent(self) -> Decimal | None:
        if self.cost_excl is None or not self.excl:
            return None
        return ((self.excl - self.cost_excl) / self.excl * 100).quantize(Decimal("0.01"))

    @property
    def margin_excl(self) -> Decimal | None:
        return None if self.cost_excl is None else self.excl - self.cost_excl


def totals_of(lines: Iterable[LineData]) -> Totals:
    """What the kernel would store for these lines (the live totals of the line editor, a revision's
    after-state), with the same rounding as `documents._line_row` and `document_recompute`."""
    incl = excl = tax = gross = ZERO
    cost: Decimal | None = ZERO
    count = 0
    for ln in lines:
        count += 1
        price = ln.unit_price_incl * (1 - ln.discount_percent / HUNDRED)
        amounts = line_amounts(quantity=ln.quantity, unit_price_incl=price, rate=ln.vat_rate)
        incl, excl, tax = incl + amounts.incl, excl + amounts.excl, tax + amounts.tax
        gross += round_money(ln.quantity * ln.unit_price_incl)
        if ln.unit_cost_excl is None or cost is None:
            cost = None
        else:
            cost += round_money(ln.quantity * ln.unit_cost_excl)
    return Totals(incl=incl, excl=excl, tax=tax, gross_incl=gross, cost_excl=cost if count else None)


# --- access --------------------------------------------------------------------------------------------


def _check_can_edit(actor: Any, document: Any, perm: str) -> None:
    check_perm(actor, perm)
    if not can_edit(actor, document):
        raise PermissionDenied(_("You may not change %(number)s.") % {"number": document.number})


def _check_customer(actor: Any, customer: Customer) -> None:
    from crm.modules.core.public import customers_visible

    if not customers_visible(actor).filter(pk=customer.pk).exists():
        raise NotFound(_("No such customer."))


def _check_contact(customer: Customer, contact: Contact | None) -> None:
    if contact is not None and contact.customer_id != customer.pk:
        raise ServiceError(_("The contact belongs to another customer."), field="contact")


# --- quotes --------------------------------------------------------------------------------------------


def quote_create(
    *,
    actor: Any,
    customer: Customer,
    lines: Sequence[LineData] = (),
    contact: Contact | None = None,
    opportunity: Opportunity | None = None,
    title: str = "",
    valid_until: date | None = None,
    terms: str | None = None,
) -> Quote:
    check_perm(actor, "sales.quote_edit")
    _check_customer(actor, customer)
    _check_contact(customer, contact)
    conf = settings_get()
    return document_create(
        actor=actor,
        model=Quote,
        lines=lines,
        customer=customer,
        contact=contact,
        opportunity=opportunity,
        title=title.strip()[:200],
        valid_until=valid_until or tenant_today() + timedelta(days=conf.quote_valid_days),
        terms=conf.quote_terms if terms is None else terms,
    )


def quote_from_opportunity(*, actor: Any, opportunity: Opportunity) -> Quote:
    """A draft quote with the opportunity's customer, contact and products as lines."""
    rows = [
        {
            "product": p.product_id,
            "quantity": p.quantity,
            "unit_price_incl": p.unit_price_incl if p.unit_price_incl else None,
        }
        for p in opportunity.products.all()
    ]
    return quote_create(
        actor=actor,
        customer=opportunity.customer,
        contact=opportunity.contact,
        opportunity=opportunity,
        title=opportunity.name,
        lines=lines_from_rows(rows),
    )


def quote_update(
    *, actor: Any, quote: Quote, lines: Sequence[LineData] | None = None, **fields: Any
) -> Quote:
    """Header fields (title, contact, valid_until, terms) and/or all lines, while a draft."""
    _check_can_edit(actor, quote, "sales.quote_edit")
    allowed = {"title", "contact", "valid_until", "terms"}
    unknown = set(fields) - allowed
    if unknown:
        raise ServiceError(
            _("These fields cannot be changed here: %(f)s") % {"f": ", ".join(sorted(unknown))}
        )
    if "contact" in fields:
        _check_contact(quote.customer, fields["contact"])
    return document_update(actor=actor, document=quote, lines=lines, **fields)


QUOTE_STAMPS = {"send": "sent_at", "accept": "decided_at", "reject": "decided_at", "cancel": "decided_at"}


def quote_send(*, actor: Any, quote: Quote) -> bool:
    """Send a draft (True). When the tenant's rules on sales.quote ask for an approval the quote does not
    have yet, it is submitted to the approvers instead and stays a draft (False): send it once approved."""
    _check_can_edit(actor, quote, "sales.quote_edit")
    if approvals.approval_status(quote) == approvals.NEEDS_APPROVAL:
        approvals.approval_submit(actor=actor, document=quote)
        return False
    quote_transition(actor=actor, quote=quote, name="send")
    return True


def quote_transition(*, actor: Any, quote: Quote, name: str, reason: str = "") -> Quote:
    """send / accept / reject (reason) / cancel (reason) / expire, through the kernel transition."""
    _check_can_edit(actor, quote, "sales.quote_edit")
    if name == "supersede":
        raise ServiceError(_("Revise the quote to supersede it."), code="illegal_transition")
    with transaction.atomic():
        saved = transition(actor=actor, document=quote, name=name, reason=reason)
        stamp = QUOTE_STAMPS.get(name)
        update: dict[str, Any] = {}
        if stamp:
            update[stamp] = timezone.now()
        if name in ("reject", "cancel"):
            update["decision_reason"] = reason.strip()[:300]
        if update:
            Quote.objects.filter(pk=saved.pk).update(**update)
            for key, value in update.items():
                setattr(quote, key, value)
    quote.state = saved.state
    return quote


def quote_revise(*, actor: Any, quote: Quote) -> Quote:
    """A new draft version (same root, version + 1, the lines copied); the old version is superseded."""
    _check_can_edit(actor, quote, "sales.quote_edit")
    with transaction.atomic():
        saved = Quote.objects.select_for_update().get(pk=quote.pk)
        if saved.state not in ("draft", "sent", "rejected", "expired"):
            raise ServiceError(
                _("%(number)s is %(state)s: it cannot be revised.")
                % {"number": saved.number, "state": saved.state_label()},
                code="illegal_transition",
            )
        root_id = saved.root_id or saved.pk
        latest = Quote.objects.filter(pk=root_id).values_list("version", flat=True).first() or 1
        latest = max(
            latest, max(Quote.objects.filter(root_id=root_id).values_list("version", flat=True), default=1)
        )
        new = document_create(
            actor=actor,
            model=Quote,
            lines=document_lines_data(saved),
            owner=saved.owner,
            customer=saved.customer,
            contact=saved.contact,
            opportunity=saved.opportunity,
            title=saved.title,
            root_id=root_id,
            version=latest + 1,
            valid_until=max(saved.valid_until or tenant_today(), tenant_today())
            if saved.state != "expired"
            else tenant_today() + timedelta(days=settings_get().quote_valid_days),
            terms=saved.terms,
            currency=saved.currency,
        )
        transition(actor=actor, document=saved, name="supersede")
    return new


def quotes_expire(today: date | None = None) -> int:
    """Daily: sent quotes past their validity become expired (idempotent: a second run finds none)."""
    today = today or tenant_today()
    expired = 0
    for quote in Quote.objects.filter(state="sent", valid_until__lt=today).select_related("owner"):
        with transaction.atomic():
            transition(actor=quote.owner, document=quote, name="expire")
            expired += 1
    return expired


def quote_email(*, actor: Any, quote: Quote, to: str, subject: str, message: str) -> Activity:
    """Send the quote's PDF to `to` after commit (a task taking ids; idempotent) and log it as a note
    on the customer."""
    from django.core.exceptions import ValidationError
    from django.core.validators import validate_email

    _check_can_edit(actor, quote, "sales.quote_edit")
    to = to.strip()
    try:
        validate_email(to)
    except ValidationError:
        raise ServiceError(_("Enter a valid email address."), field="to") from None
    if not subject.strip():
        raise ServiceError(_("A subject is required."), field="subject")
    with transaction.atomic():
        activity = Activity.objects.create(
            customer=quote.customer,
            author=actor,
            kind=Activity.Kind.NOTE,
            purpose=(_("Quote %(number)s sent by email to %(to)s") % {"number": quote.number, "to": to})[
                :255
            ],
            result=message,
            occurred_at=timezone.now(),
        )
        enqueue(
            "crm.modules.sales.tasks_documents.quote_email_send",
            args=[quote.pk, activity.pk, to, subject.strip()[:200], message],
        )
    return activity


def quote_email_send(quote_id: int, activity_id: int, to: str, subject: str, message: str) -> bool:
    """The task's body: send once per activity (a retry after success sends nothing)."""
    from django.conf import settings
    from django.core.cache import cache
    from django.core.mail import EmailMessage
    from django.db import connection

    key = f"sales:quote-mail:{connection.schema_name}:{activity_id}"  # type: ignore[attr-defined]
    quote = Quote.objects.select_related("customer").filter(pk=quote_id).first()
    if quote is None or not cache.add(key, 1, timeout=7 * 86400):
        return False
    from .selectors_documents import quote_pdf

    try:
        mail = EmailMessage(subject, message, settings.DEFAULT_FROM_EMAIL, [to])
        mail.attach(f"{quote.number}.pdf", quote_pdf(quote), "application/pdf")
        mail.send()
    except Exception:
        cache.delete(key)
        raise
    return True


# --- contracts -----------------------------------------------------------------------------------------

CONTRACT_FIELDS = {
    "title",
    "contact",
    "kind",
    "payment_days",
    "prepayment_percent",
    "delivery_terms",
    "start_date",
    "end_date",
    "signed_on",
    "terms",
}


def _check_contract_fields(fields: dict[str, Any]) -> None:
    unknown = set(fields) - CONTRACT_FIELDS
    if unknown:
        raise ServiceError(
            _("These fields cannot be changed here: %(f)s") % {"f": ", ".join(sorted(unknown))}
        )
    pct = fields.get("prepayment_percent")
    if pct is not None and not (ZERO <= Decimal(pct) <= HUNDRED):
        raise ServiceError(_("The prepayment must be between 0 and 100 %."), field="prepayment_percent")
    if fields.get("kind") is not None and fields["kind"] not in Contract.Kind.values:
        raise ServiceError(_("Choose contract or order."), field="kind")
    start, end = fields.get("start_date"), fields.get("end_date")
    if start and end and end < start:
        raise ServiceError(_("The end date is before the start date."), field="end_date")


def contract_create(
    *, actor: Any, customer: Customer, lines: Sequence[LineData] = (), **fields: Any
) -> Contract:
    """A draft contract or order for a customer (payment days and terms default from the settings)."""
    check_perm(actor, "sales.contract_edit")
    _check_customer(actor, customer)
    _check_contact(customer, fields.get("contact"))
    fields.setdefault("kind", Contract.Kind.CONTRACT)
    _check_contract_fields({k: v for k, v in fields.items() if k not in ("quote", "opportunity", "currency")})
    conf = settings_get()
    if fields.get("payment_days") is None:
        fields["payment_days"] = conf.default_payment_days
    if fields.get("terms") is None:
        fields["terms"] = conf.contract_terms
    fields["title"] = str(fields.get("title") or "").strip()[:200]
    return document_create(actor=actor, model=Contract, lines=lines, customer=customer, **fields)


def contract_from_quote(*, actor: Any, quote: Quote, kind: str = Contract.Kind.CONTRACT) -> Contract:
    """One click from an accepted quote: the quote's customer, contact, opportunity, title and lines."""
    check_perm(actor, "sales.contract_edit")
    saved = Quote.objects.select_related("customer", "contact").get(pk=quote.pk)
    if saved.state != Quote.State.ACCEPTED:
        raise ServiceError(
            _("%(number)s is %(state)s: only an accepted quote becomes a contract or an order.")
            % {"number": saved.number, "state": saved.state_label()},
            code="quote_not_accepted",
        )
    return contract_create(
        actor=actor,
        customer=saved.customer,
        lines=document_lines_data(saved),
        kind=kind,
        contact=saved.contact,
        opportunity=saved.opportunity,
        quote=saved,
        title=saved.title,
        terms=saved.terms,
        currency=saved.currency,
    )


def contract_update(
    *, actor: Any, contract: Contract, lines: Sequence[LineData] | None = None, **fields: Any
) -> Contract:
    """A draft's header and lines. A confirmed contract changes only through an approved revision."""
    _check_can_edit(actor, contract, "sales.contract_edit")
    _check_contract_fields(fields)
    if "contact" in fields:
        _check_contact(contract.customer, fields["contact"])
    state = Contract.objects.values_list("state", flat=True).get(pk=contract.pk)
    if state in (Contract.State.CONFIRMED, Contract.State.COMPLETED):
        raise ServiceError(
            _("%(number)s is confirmed: change it with a revision, approved like the contract.")
            % {"number": contract.number},
            code="revision_required",
        )
    return document_update(actor=actor, document=contract, lines=lines, **fields)


def contract_transition(*, actor: Any, contract: Contract, name: str, reason: str = "") -> Contract:
    """submit / reopen / confirm (approval guard; receivables told in the same transaction) / complete /
    cancel (reason, sales.contract_cancel)."""
    perm = "sales.contract_cancel" if name == "cancel" else "sales.contract_edit"
    check_perm(actor, perm)
    if name != "cancel" and not can_edit(actor, contract):
        raise PermissionDenied(_("You may not change %(number)s.") % {"number": contract.number})
    with transaction.atomic():
        saved = transition(actor=actor, document=contract, name=name, reason=reason)
        receivables_panel.on_contract_state(contract_id=saved.pk, state=saved.state)
        if name == "confirm":
            now = timezone.now()
            Contract.objects.filter(pk=saved.pk).update(confirmed_at=now)
            contract.confirmed_at = now
            saved.confirmed_at = now  # type: ignore[attr-defined]
            receivables_panel.on_contract_confirmed(actor=actor, contract=saved)
            if contract.opportunity_id:
                opportunity_won_by_contract(actor=actor, opportunity_id=contract.opportunity_id)
        elif name == "cancel":
            Contract.objects.filter(pk=saved.pk).update(cancel_reason=reason.strip()[:300])
            contract.cancel_reason = reason.strip()[:300]
        if name in ("confirm", "cancel", "complete"):
            # Other modules' synchronous handlers (inventory reserves and releases stock); a refusal
            # raises ServiceError and rolls the transition back.
            document_event(doc_type=Contract.doc_type, event=name, actor=actor, document=saved)
    contract.state = saved.state
    return contract


# --- revisions -----------------------------------------------------------------------------------------

REVISION_TERMS = ("payment_days", "prepayment_percent", "delivery_terms", "start_date", "end_date", "terms")


def _terms_of(contract: Contract) -> dict[str, Any]:
    return {f: (None if getattr(contract, f) is None else str(getattr(contract, f))) for f in REVISION_TERMS}


def _snapshot(lines: Sequence[LineData], terms: dict[str, Any]) -> dict[str, Any]:
    return {"lines": [line_to_row(ln) for ln in lines], "terms": terms}


def lines_of_snapshot(snapshot: dict[str, Any]) -> list[LineData]:
    out = []
    for row in snapshot.get("lines", []):
        cost = row.get("unit_cost_excl")
        out.append(
            LineData(
                description=row["description"],
                quantity=Decimal(row["quantity"]),
                unit_price_incl=Decimal(row["unit_price_incl"]),
                vat_rate=Decimal(row["vat_rate"]),
                unit=row.get("unit") or "",
                discount_percent=Decimal(row.get("discount_percent") or "0"),
                product_id=row.get("product"),
                unit_cost_excl=None if cost in (None, "") else Decimal(cost),
            )
        )
    return out


def revision_create(
    *,
    actor: Any,
    contract: Contract,
    reason: str,
    lines: Sequence[LineData],
    terms: dict[str, Any] | None = None,
) -> ContractRevision:
    """A draft revision of a confirmed contract: the proposed lines and terms next to the current ones."""
    from crm.kernel.documents import _validate

    _check_can_edit(actor, contract, "sales.contract_edit")
    if not reason.strip():
        raise ServiceError(_("Please give a reason."), field="reason")
    if not lines:
        raise ServiceError(_("A contract needs at least one line."), field="lines")
    _validate(lines)
    with transaction.atomic():
        saved = Contract.objects.select_for_update().get(pk=contract.pk)
        if saved.state != Contract.State.CONFIRMED:
            raise ServiceError(
                _("Only a confirmed contract is revised; %(number)s is %(state)s.")
                % {"number": saved.number, "state": saved.state_label()},
                code="illegal_transition",
            )
        if saved.revisions.filter(state__in=["draft", "submitted"]).exists():
            raise ServiceError(
                _("%(number)s already has an open revision.") % {"number": saved.number}, code="open_revision"
            )
        before_terms = _terms_of(saved)
        after_terms = {**before_terms, **{k: v for k, v in (terms or {}).items() if k in REVISION_TERMS}}
        after_terms = {k: (None if v in (None, "") else str(v)) for k, v in after_terms.items()}
        number = (max(saved.revisions.values_list("number", flat=True), default=saved.revision)) + 1
        return ContractRevision.objects.create(
            contract=saved,
            number=number,
            reason=reason.strip(),
            before=_snapshot(document_lines_data(saved), before_terms),
            after=_snapshot(list(lines), after_terms),
            total_before=saved.total_incl,
            total_after=totals_of(lines).incl,
            requested_by=actor,
        )


@dataclass(frozen=True)
class DiffRow:
    kind: str  # added / removed / changed / same
    description: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    changes: tuple[str, ...] = ()


def _key(row: dict[str, Any]) -> tuple[Any, str]:
    return (row.get("product"), row.get("description", ""))


def revision_diff(revision: ContractRevision) -> list[DiffRow]:
    """Line by line: lines matched by product and description; added, removed, changed (which of
    quantity, price, discount, VAT rate) or the same."""
    before = list(revision.before.get("lines", []))
    after = list(revision.after.get("lines", []))
    rows: list[DiffRow] = []
    remaining = list(before)
    for new in after:
        match = next((old for old in remaining if _key(old) == _key(new)), None)
        if match is None:
            rows.append(DiffRow("added", new["description"], None, new))
            continue
        remaining.remove(match)
        changes = tuple(
            f
            for f in ("quantity", "unit_price_incl", "discount_percent", "vat_rate")
            if Decimal(match[f]) != Decimal(new[f])
        )
        rows.append(DiffRow("changed" if changes else "same", new["description"], match, new, changes))
    rows.extend(DiffRow("removed", old["description"], old, None) for old in remaining)
    return rows


def revision_matching_rules(revision: ContractRevision) -> list[ApprovalRule]:
    """The contract rules the revision's after-state matches (amount, discount %, margin %)."""
    totals = totals_of(lines_of_snapshot(revision.after))
    values: dict[str, Decimal | None] = {
        ApprovalRule.Metric.AMOUNT: totals.incl,
        ApprovalRule.Metric.DISCOUNT: totals.discount_percent,
        ApprovalRule.Metric.MARGIN: totals.margin_percent,
    }
    found = []
    for rule in ApprovalRule.objects.filter(doc_type=Contract.doc_type, is_active=True):
        value = values.get(rule.metric)
        if value is None:
            if rule.metric == ApprovalRule.Metric.MARGIN:
                found.append(rule)
            continue
        ok = {
            "gt": value > rule.threshold,
            "gte": value >= rule.threshold,
            "lt": value < rule.threshold,
            "lte": value <= rule.threshold,
        }[rule.comparison]
        if ok:
            found.append(rule)
    return found


def revision_approvers(revision: ContractRevision) -> list[Any]:
    """Who may decide a submitted revision: the approvers of the first step of every matching rule."""
    contract = revision.contract
    users: dict[int, Any] = {}
    for rule in revision_matching_rules(revision):
        step = rule.steps.select_related("user").order_by("position", "id").first()
        if step is None:
            continue
        for user in approvals.step_approvers(step, owner=contract.owner, requester=revision.requested_by):
            users[user.pk] = user
    return list(users.values())


def _apply(revision: ContractRevision) -> None:
    contract = Contract.objects.select_for_update().get(pk=revision.contract_id)
    lines = lines_of_snapshot(revision.after)
    delivered = {
        (ln.product_id, ln.description): ln.delivered_quantity  # type: ignore[attr-defined]
        for ln in ContractLine.objects.filter(document=contract)
    }
    ContractLine.objects.filter(document=contract).delete()
    rows = []
    for position, data in enumerate(lines, start=1):
        price = data.unit_price_incl * (1 - data.discount_percent / HUNDRED)
        amounts = line_amounts(quantity=data.quantity, unit_price_incl=price, rate=data.vat_rate)
        rows.append(
            ContractLine(
                document=contract,
                position=position,
                product_id=data.product_id,
                description=data.description,
                quantity=data.quantity,
                unit=data.unit,
                unit_price_incl=data.unit_price_incl,
                vat_rate=data.vat_rate,
                discount_percent=data.discount_percent,
                unit_cost_excl=data.unit_cost_excl,
                amount_incl=amounts.incl,
                amount_excl=amounts.excl,
                amount_tax=amounts.tax,
                delivered_quantity=delivered.get((data.product_id, data.description), ZERO),
            )
        )
    ContractLine.objects.bulk_create(rows)
    terms = revision.after.get("terms", {})
    update: dict[str, Any] = {"revision": revision.number}
    for name in REVISION_TERMS:
        if name in terms:
            value = terms[name]
            if name in ("start_date", "end_date"):
                value = date.fromisoformat(value) if value else None
            elif name == "payment_days":
                value = int(value or 0)
            elif name == "prepayment_percent":
                value = Decimal(value or "0")
            elif value is None:
                value = ""
            update[name] = value
    Contract.objects.filter(pk=contract.pk).update(**update)
    document_recompute(contract)
    revision.state = ContractRevision.State.APPLIED
    revision.applied_at = timezone.now()
    revision.save(update_fields=["state", "applied_at", "updated_at"])


def revision_submit(*, actor: Any, revision: ContractRevision) -> ContractRevision:
    """Check the rules on the after-state: none matches -> applied now; else waits for an approver."""
    _check_can_edit(actor, revision.contract, "sales.contract_edit")
    with transaction.atomic():
        saved = ContractRevision.objects.select_for_update().select_related("contract").get(pk=revision.pk)
        if saved.state != ContractRevision.State.DRAFT:
            raise ServiceError(_("This revision is no longer a draft."), code="not_editable")
        if revision_matching_rules(saved):
            if not revision_approvers(saved):
                raise ServiceError(
                    _("Nobody can approve this revision: ask an administrator to fix the approval rules."),
                    code="no_approver",
                )
            saved.state = ContractRevision.State.SUBMITTED
            saved.save(update_fields=["state", "updated_at"])
        else:
            _apply(saved)
    return saved


def revision_decide(
    *, actor: Any, revision: ContractRevision, approve: bool, comment: str = ""
) -> ContractRevision:
    """An approver of the matching rules approves (applied in this transaction) or rejects (comment)."""
    with transaction.atomic():
        saved = ContractRevision.objects.select_for_update().select_related("contract").get(pk=revision.pk)
        if saved.state != ContractRevision.State.SUBMITTED:
            raise ServiceError(_("This revision is not waiting for a decision."), code="not_pending")
        if actor.pk in (saved.requested_by_id, saved.contract.owner_id):
            raise PermissionDenied(_("You cannot approve your own document."))
        if actor.pk not in {u.pk for u in revision_approvers(saved)}:
            raise PermissionDenied(_("You are not an approver of this revision."))
        if approve:
            _apply(saved)
        else:
            if not comment.strip():
                raise ServiceError(_("Please say why you reject it."), field="comment")
            saved.state = ContractRevision.State.REJECTED
            saved.reason = f"{saved.reason}\n— {comment.strip()}"
            saved.save(update_fields=["state", "reason", "updated_at"])
    return saved


def revision_withdraw(*, actor: Any, revision: ContractRevision) -> ContractRevision:
    _check_can_edit(actor, revision.contract, "sales.contract_edit")
    with transaction.atomic():
        saved = ContractRevision.objects.select_for_update().get(pk=revision.pk)
        if saved.state not in (ContractRevision.State.DRAFT, ContractRevision.State.SUBMITTED):
            raise ServiceError(_("This revision is already closed."), code="not_pending")
        saved.state = ContractRevision.State.WITHDRAWN
        saved.save(update_fields=["state", "updated_at"])
    return saved
