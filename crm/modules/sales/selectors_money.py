"""Reads of the money area: sales settings, invoicing requests, fapiao, targets and achievement."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db.models import Q, QuerySet, Sum
from django.db.models.functions import TruncMonth
from django.utils.translation import gettext as _

from crm.kernel.scope import team_members_q, visible_to
from crm.kernel.tenant_time import month_bounds, tenant_today, tenant_zone
from crm.platform.errors import NotFound
from crm.platform.permissions import Role, data_scope, has_perm
from crm.tenants.accounts.models import Team, User

from .models import Contract, Fapiao, InvoiceRequest, Receipt, SalesSettings, Target


def sales_settings() -> SalesSettings:
    """The workspace's one SalesSettings row, created with the defaults on first read."""
    row = SalesSettings.objects.order_by("pk").first()
    if row is None:
        row, _created = SalesSettings.objects.get_or_create(pk=1)
    return row


# --- helpers of scope -------------------------------------------------------------------------------------


def sees_all_money(user: Any) -> bool:
    """Finance, admins and owners see every invoicing request and fapiao; others those of the contracts
    in their data scope."""
    return has_perm(user, "sales.fapiao_record") or has_perm(user, "sales.receivables_all")


def contracts_for_money(user: Any) -> QuerySet[Contract]:
    qs = Contract.objects.all()
    if sees_all_money(user):
        return qs if has_perm(user, "sales.invoice_request") else qs.none()
    return visible_to(qs, user, perm="sales.invoice_request")


def contract_get(*, actor: Any, pk: int) -> Contract:
    contract = contracts_for_money(actor).select_related("customer", "owner").filter(pk=pk).first()
    if contract is None:
        raise NotFound(_("No such contract."))
    return contract


def team_children() -> dict[int | None, list[int]]:
    """Team id -> its direct sub-teams, in one query."""
    children: dict[int | None, list[int]] = {}
    for pk, parent in Team.objects.values_list("pk", "parent_id"):
        children.setdefault(parent, []).append(pk)
    return children


def team_subtree_ids(team_id: int, children: dict[int | None, list[int]] | None = None) -> set[int]:
    """The team and its sub-teams (Team.parent tree)."""
    children = team_children() if children is None else children
    found, todo = set(), [team_id]
    while todo:
        current = todo.pop()
        if current in found:
            continue
        found.add(current)
        todo.extend(children.get(current, []))
    return found


def team_member_ids(team_id: int) -> set[int]:
    """Members of the team and of its sub-teams (team achievement is the sum of these)."""
    return set(User.objects.filter(team_id__in=team_subtree_ids(team_id)).values_list("pk", flat=True))


# --- invoicing requests and fapiao --------------------------------------------------------------------------


def invoice_requests(
    *, actor: Any, state: str = "", contract_id: int | None = None
) -> QuerySet[InvoiceRequest]:
    qs = InvoiceRequest.objects.select_related("contract", "customer", "owner", "requested_by", "installment")
    if not sees_all_money(actor):
        qs = visible_to(qs, actor, perm="sales.invoice_request")
    elif not has_perm(actor, "sales.invoice_request"):
        return qs.none()
    if state:
        qs = qs.filter(state=state)
    if contract_id:
        qs = qs.filter(contract_id=contract_id)
    return qs.order_by("-id")


def request_get(*, actor: Any, pk: int) -> InvoiceRequest:
    found = invoice_requests(actor=actor).filter(pk=pk).first()
    if found is None:
        raise NotFound(_("No such invoicing request."))
    return found


def fapiao_list(
    *,
    actor: Any,
    kind: str = "",
    month: date | None = None,
    customer_id: int | None = None,
    red: bool | None = None,
    contract_id: int | None = None,
    q: str = "",
) -> QuerySet[Fapiao]:
    """Fapiao the actor may see, filtered: kind, month of issue, customer, red-letter or not."""
    qs = Fapiao.objects.select_related("contract", "customer", "red_of")
    if not sees_all_money(actor):
        qs = visible_to(qs, actor, owner_field="contract__owner", perm="sales.invoice_request")
    elif not has_perm(actor, "sales.invoice_request"):
        return qs.none()
    if kind:
        qs = qs.filter(kind=kind)
    if month is not None:
        first = month.replace(day=1)
        following = (first + timedelta(days=32)).replace(day=1)
        qs = qs.filter(issued_on__gte=first, issued_on__lt=following)
    if customer_id:
        qs = qs.filter(customer_id=customer_id)
    if red is True:
        qs = qs.filter(red_of__isnull=False)
    elif red is False:
        qs = qs.filter(red_of__isnull=True)
    if contract_id:
        qs = qs.filter(contract_id=contract_id)
    q = (q or "").strip()
    if q:
        qs = qs.filter(Q(number__startswith=q) | Q(buyer_title__icontains=q))
    return qs.order_by("-issued_on", "-id")


def fapiao_get(*, actor: Any, pk: int) -> Fapiao:
    found = fapiao_list(actor=actor).filter(pk=pk).first()
    if found is None:
        raise NotFound(_("No such fapiao."))
    return found


def fapiao_rows(qs: QuerySet[Fapiao]) -> Iterator[list[Any]]:
    """Export rows of the fapiao list (streamed)."""
    for f in qs.iterator(chunk_size=2000):
        yield [
            f.number,
            f.issued_on,
            f.get_kind_display(),
            f.contract.number,
            f.customer.name,
            f.buyer_title,
            f.buyer_tax_id,
            f.amount_excl,
            f.amount_tax,
            f.amount_incl,
            f.vat_rate,
            f.red_of.number if f.red_of is not None else "",
            f.reason,
        ]


def contract_invoicing(contract: Contract) -> dict[str, Any]:
    """Invoiced vs uninvoiced of one contract, its fapiao (red-letter ones marked) and open requests."""
    fapiaos = list(
        Fapiao.objects.filter(contract=contract).select_related("red_of").order_by("issued_on", "id")
    )
    reversed_ids = {f.red_of_id for f in fapiaos if f.red_of_id}
    requests = list(
        InvoiceRequest.objects.filter(contract=contract)
        .select_related("requested_by", "installment")
        .order_by("-id")
    )
    open_requested = sum(
        (r.amount for r in requests if r.state == InvoiceRequest.State.OPEN), Decimal("0.00")
    )
    invoiced = contract.invoiced_amount
    return {
        "contract": contract,
        "invoiced": invoiced,
        "uninvoiced": max(Decimal("0.00"), contract.total_incl - invoiced),
        "requested_open": open_requested,
        "requestable": max(Decimal("0.00"), contract.total_incl - invoiced - open_requested),
        "fapiaos": fapiaos,
        "reversed_ids": reversed_ids,
        "requests": requests,
        "open_requests": [r for r in requests if r.state == InvoiceRequest.State.OPEN],
        "percent": int(invoiced * 100 / contract.total_incl) if contract.total_incl else 0,
    }


def customer_invoicing(customer: Any) -> dict[str, Any]:
    """The customer panel: invoiced and uninvoiced over the customer's confirmed contracts, last fapiao."""
    totals = Contract.objects.filter(customer=customer, state__in=("confirmed", "completed")).aggregate(
        total=Sum("total_incl"), invoiced=Sum("invoiced_amount")
    )
    total, invoiced = totals["total"] or Decimal("0.00"), totals["invoiced"] or Decimal("0.00")
    last = Fapiao.objects.filter(customer=customer).order_by("-issued_on", "-id").first()
    open_requests = InvoiceRequest.objects.filter(customer=customer, state=InvoiceRequest.State.OPEN).count()
    return {
        "total": total,
        "invoiced": invoiced,
        "uninvoiced": max(Decimal("0.00"), total - invoiced),
        "last_fapiao": last,
        "open_requests": open_requests,
    }


# --- targets and achievement ------------------------------------------------------------------------------

REP_ROLES = (Role.SALES, Role.MANAGER)


def parse_month(value: Any, default: date | None = None) -> date:
    """ "2026-12" (or a date) as the first of that month; anything unreadable is the current month."""
    if isinstance(value, date):
        return value.replace(day=1)
    try:
        year, month = str(value or "").strip()[:7].split("-")
        return date(int(year), int(month), 1)
    except (ValueError, TypeError):
        return (default or tenant_today()).replace(day=1)


def add_months(month: date, n: int) -> date:
    index = month.year * 12 + month.month - 1 + n
    return date(index // 12, index % 12 + 1, 1)


def basis() -> str:
    return sales_settings().target_basis


def achieved_by_user(month: date, *, user_ids: Iterable[int] | None = None) -> dict[int, Decimal]:
    """What each rep achieved in the tenant's month `month` by the workspace's basis: confirmed contracts
    (confirmed_at within the month's bounds in the tenant's zone, not cancelled, total incl.) or receipts
    (received_on within the month, posted, amount)."""
    return achieved_series(month, month, user_ids=user_ids).get(month.replace(day=1), {})


def achieved_series(
    first: date, last: date, *, user_ids: Iterable[int] | None = None
) -> dict[date, dict[int, Decimal]]:
    """{month: {user id: achieved}} for the months first..last, in one query."""
    first, last = first.replace(day=1), last.replace(day=1)
    start, _ = month_bounds(first)
    _, end = month_bounds(last)
    ids = None if user_ids is None else list(user_ids)
    if basis() == SalesSettings.TargetBasis.RECEIPTS:
        receipts = Receipt.objects.filter(
            state=Receipt.State.POSTED, received_on__gte=first, received_on__lt=add_months(last, 1)
        )
        if ids is not None:
            receipts = receipts.filter(owner_id__in=ids)
        rows: Any = (
            receipts.annotate(m=TruncMonth("received_on")).values("m", "owner_id").annotate(s=Sum("amount"))
        )
    else:
        qs = Contract.objects.filter(confirmed_at__gte=start, confirmed_at__lt=end).exclude(
            state=Contract.State.CANCELLED
        )
        if ids is not None:
            qs = qs.filter(owner_id__in=ids)
        rows = (
            qs.annotate(m=TruncMonth("confirmed_at", tzinfo=tenant_zone()))
            .values("m", "owner_id")
            .annotate(s=Sum("total_incl"))
        )
    out: dict[date, dict[int, Decimal]] = {}
    for row in rows:
        m = row["m"]
        key = (m.date() if isinstance(m, datetime) else m).replace(day=1)
        out.setdefault(key, {})[row["owner_id"]] = row["s"] or Decimal("0.00")
    return out


def percent(achieved: Decimal, target: Decimal | None) -> int | None:
    if not target:
        return None
    return int((achieved * 100 / target).to_integral_value())


def reps_for(actor: Any) -> QuerySet[User]:
    """Reps whose targets the actor sees: everyone for owners and admins, the team subtree for managers,
    oneself for a rep."""
    qs = User.objects.filter(is_active=True, role__in=REP_ROLES).order_by("name", "id")
    scope = data_scope(actor)
    if scope == "all":
        return qs
    if scope == "team":
        return qs.filter(team_members_q(actor, "pk"))
    return qs.filter(pk=actor.pk)


def teams_for(actor: Any) -> list[Team]:
    if data_scope(actor) == "all":
        return list(Team.objects.order_by("name"))
    if data_scope(actor) == "team":
        ids: set[int] = set()
        children = team_children()
        for team in Team.objects.filter(manager=actor):
            ids |= team_subtree_ids(team.pk, children)
        return list(Team.objects.filter(pk__in=ids).order_by("name"))
    return []


def target_grid(*, actor: Any, month: date) -> dict[str, Any]:
    """The targets page: one row per rep and per team for `month`, with achievement and percent."""
    month = month.replace(day=1)
    reps = list(reps_for(actor))
    targets = {t.user_id: t.amount for t in Target.objects.filter(month=month, user__isnull=False)}
    team_targets = {t.team_id: t.amount for t in Target.objects.filter(month=month, team__isnull=False)}
    achieved = achieved_by_user(month)
    rows = []
    for rep in reps:
        got = achieved.get(rep.pk, Decimal("0.00"))
        rows.append(
            {
                "user": rep,
                "target": targets.get(rep.pk),
                "achieved": got,
                "percent": percent(got, targets.get(rep.pk)),
            }
        )
    team_rows = []
    all_users = list(User.objects.filter(is_active=True).values_list("pk", "team_id"))
    children = team_children()
    for team in teams_for(actor):
        subtree = team_subtree_ids(team.pk, children)
        members = {pk for pk, tid in all_users if tid in subtree}
        got = sum((achieved.get(pk, Decimal("0.00")) for pk in members), Decimal("0.00"))
        explicit = team_targets.get(team.pk)
        summed = sum((targets.get(pk) or Decimal("0.00") for pk in members), Decimal("0.00"))
        target = explicit if explicit is not None else (summed or None)
        team_rows.append(
            {
                "team": team,
                "target": target,
                "explicit": explicit,
                "members_target": summed,
                "achieved": got,
                "percent": percent(got, target),
                "members": len(members),
            }
        )
    return {
        "month": month,
        "previous": add_months(month, -1),
        "next": add_months(month, 1),
        "rows": rows,
        "team_rows": team_rows,
        "basis": basis(),
    }


def achievement(
    *, actor: Any, month: date, user: Any = None, team: Team | None = None, months: int = 12
) -> dict[str, Any]:
    """Target vs achieved of a rep (default: the actor) or of a team, for the `months` months to `month`."""
    month = month.replace(day=1)
    first = add_months(month, -(months - 1))
    if team is not None:
        ids = team_member_ids(team.pk)
        explicit = {
            t.month: t.amount for t in Target.objects.filter(team=team, month__gte=first, month__lte=month)
        }
        member_targets: dict[date, Decimal] = {}
        for t in Target.objects.filter(user_id__in=ids, month__gte=first, month__lte=month):
            member_targets[t.month] = member_targets.get(t.month, Decimal("0.00")) + t.amount
        targets = {**member_targets, **explicit}
    else:
        user = user or actor
        ids = {user.pk}
        targets = {
            t.month: t.amount for t in Target.objects.filter(user=user, month__gte=first, month__lte=month)
        }
    series = achieved_series(first, month, user_ids=ids)
    rows = []
    for i in range(months):
        m = add_months(first, i)
        got = sum(series.get(m, {}).values(), Decimal("0.00"))
        rows.append(
            {"month": m, "target": targets.get(m), "achieved": got, "percent": percent(got, targets.get(m))}
        )
    return {
        "rows": rows,
        "chart": {
            "x": [f"{r['month']:%Y-%m}" for r in rows],
            "target": [str(r["target"] or 0) for r in rows],
            "achieved": [str(r["achieved"]) for r in rows],
            "series": [str(_("Target")), str(_("Achieved"))],
            "matrix": [[str(r["target"] or 0) for r in rows], [str(r["achieved"]) for r in rows]],
        },
        "basis": basis(),
        "rep": user,
        "team": team,
        "month": month,
    }


def my_target(user: Any) -> dict[str, Any]:
    """The rep's dashboard card: this month's target, achieved and percent."""
    month = tenant_today().replace(day=1)
    target = Target.objects.filter(month=month, user=user).values_list("amount", flat=True).first()
    got = achieved_by_user(month, user_ids=[user.pk]).get(user.pk, Decimal("0.00"))
    pct = percent(got, target)
    return {"month": month, "target": target, "achieved": got, "percent": pct, "bar": min(100, pct or 0)}


def team_targets(user: Any) -> dict[str, Any]:
    """The manager's dashboard card: per rep of the team, target and achieved this month."""
    grid = target_grid(actor=user, month=tenant_today())
    rows = [r for r in grid["rows"] if r["target"] or r["achieved"]]
    for r in rows:
        r["bar"] = min(100, r["percent"] or 0)
    return {
        "month": grid["month"],
        "rows": rows,
        "chart": {
            "x": [r["user"].name for r in rows],
            "series": [str(_("Target")), str(_("Achieved"))],
            "matrix": [[str(r["target"] or 0) for r in rows], [str(r["achieved"]) for r in rows]],
        },
    }
