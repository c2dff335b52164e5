"""Money area services: invoicing requests, fapiao amounts and tolerance, red-letter, invoice status, the
provider's wire format, targets by both bases at the tenant's month boundaries, team sums."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django_tenants.utils import schema_context

from crm.modules.sales import fapiao_provider
from crm.modules.sales import selectors_money as sel
from crm.modules.sales import services_money as svc
from crm.modules.sales.models import Contract, Fapiao, InvoiceRequest, Receipt, SalesSettings, Target
from crm.platform.errors import NotFound, PermissionDenied, ServiceError
from crm.tenants.accounts.models import Team

from .factories import line, make_contract, make_customer, make_plan
from .fake_fapiao import fake_platform

SH = ZoneInfo("Asia/Shanghai")
D = Decimal


@pytest.fixture
def t(alpha):
    with schema_context(alpha.schema):
        yield alpha


def record(t, contract, number, incl, **kw):
    kw.setdefault("issued_on", date(2026, 12, 1))
    return svc.fapiao_record(
        actor=t.users["finance"], contract=contract, number=number, amount_incl=incl, **kw
    )


def test_settings_created_on_first_read_and_updated(t):
    assert not SalesSettings.objects.exists()
    row = sel.sales_settings()
    assert sel.sales_settings().pk == row.pk and SalesSettings.objects.count() == 1
    svc.settings_update(actor=t.users["admin"], target_basis="receipts", quote_valid_days=15)
    assert (sel.sales_settings().target_basis, sel.sales_settings().quote_valid_days) == ("receipts", 15)
    with pytest.raises(PermissionDenied):
        svc.settings_update(actor=t.users["manager"], quote_valid_days=10)
    with pytest.raises(ServiceError):
        svc.settings_update(actor=t.users["owner"], target_basis="vibes")


def test_request_defaults_to_uninvoiced_and_never_exceeds_what_is_left(t):
    rep = t.users["sales"]
    customer = make_customer(rep)
    customer.custom_fields = {"tax_id": "91310000MA1FL0XX1X"}
    customer.save()
    contract = make_contract(rep, customer)  # 11,300.00
    first = svc.invoice_request_create(actor=rep, contract=contract, amount=D("5000"))
    assert (first.buyer_title, first.buyer_tax_id, first.owner_id) == (
        customer.name,
        "91310000MA1FL0XX1X",
        rep.pk,
    )
    second = svc.invoice_request_create(actor=rep, contract=contract)  # default: what is left
    assert second.amount == D("6300.00")
    with pytest.raises(ServiceError) as err:
        svc.invoice_request_create(actor=rep, contract=contract, amount=D("0.01"))
    assert err.value.code == "over_requested"
    with pytest.raises(ServiceError) as err:
        svc.invoice_request_create(actor=rep, contract=contract)
    assert err.value.code == "nothing_to_invoice"
    svc.invoice_request_close(actor=rep, request=second, state="cancelled")
    with pytest.raises(ServiceError) as err:
        svc.invoice_request_create(actor=rep, contract=contract, amount=D("6300.01"))
    assert err.value.code == "over_requested"
    assert svc.invoice_request_create(actor=rep, contract=contract, amount=D("6300.00")).amount == D(
        "6300.00"
    )


def test_request_for_installment_within_its_amount_and_only_confirmed_contracts(t):
    rep = t.users["sales"]
    contract = make_contract(rep)
    inst, _other = make_plan(contract, [(date(2026, 12, 31), "3000"), (date(2027, 1, 31), "8300")])
    made = svc.invoice_request_create(actor=rep, contract=contract, installment=inst)
    assert made.amount == D("3000.00") and made.installment_id == inst.pk
    with pytest.raises(ServiceError) as err:
        svc.invoice_request_create(actor=rep, contract=contract, installment=inst, amount=D("3000.01"))
    assert err.value.code == "over_installment"
    with pytest.raises(ServiceError) as err:  # the installment is fully requested already
        svc.invoice_request_create(actor=rep, contract=contract, installment=inst, amount=D("0.01"))
    assert err.value.code == "over_installment"
    draft = make_contract(rep, state="draft")
    with pytest.raises(ServiceError) as err:
        svc.invoice_request_create(actor=rep, contract=draft)
    assert err.value.code == "contract_not_confirmed"


def test_rep_cannot_request_on_someone_elses_contract(t):
    contract = make_contract(t.users["sales2"])
    with pytest.raises(NotFound):
        svc.invoice_request_create(actor=t.users["sales"], contract=contract)
    with pytest.raises(PermissionDenied):
        svc.invoice_request_create(actor=t.users["clerk"], contract=contract)
    # The manager of sales2? sales2 has no team: the manager cannot either.
    with pytest.raises(NotFound):
        svc.invoice_request_create(actor=t.users["manager"], contract=contract)


def test_fapiao_amounts_must_add_up_and_agree_with_the_rate_within_tolerance(t):
    contract = make_contract(t.users["sales"], lines=[line(price="100000")])
    with pytest.raises(ServiceError) as err:
        record(t, contract, "A1", D("1130"), amount_excl=D("1000"), amount_tax=D("129"))
    assert err.value.code == "amounts_disagree"
    # 1000 x 13 % = 130.00; tax 131.28 is 1.28 off: refused; 131.27 is at the tolerance: accepted.
    with pytest.raises(ServiceError) as err:
        record(t, contract, "A1", D("1131.28"), amount_excl=D("1000"), amount_tax=D("131.28"))
    assert err.value.code == "tax_out_of_tolerance"
    ok = record(t, contract, "A1", D("1131.27"), amount_excl=D("1000"), amount_tax=D("131.27"))
    assert (ok.amount_excl, ok.amount_tax) == (D("1000.00"), D("131.27"))
    computed = record(t, contract, "A2", D("1130.00"), vat_rate="6%")  # excl. and tax from the rate
    assert (computed.vat_rate, computed.amount_excl, computed.amount_tax) == (
        D("0.06"),
        D("1066.04"),
        D("63.96"),
    )
    with pytest.raises(ServiceError) as err:
        record(t, contract, "A3", D("10"), vat_rate="0.07")
    assert err.value.code == "invalid_vat_rate"


def test_status_none_partial_full_and_never_over_the_total(t):
    contract = make_contract(t.users["sales"])  # 11,300.00
    assert contract.invoice_status == "none"
    record(t, contract, "B1", D("5000"))
    contract.refresh_from_db()
    assert (contract.invoiced_amount, contract.invoice_status) == (D("5000.00"), "partial")
    with pytest.raises(ServiceError) as err:
        record(t, contract, "B2", D("6300.01"))
    assert err.value.code == "over_invoiced"
    with pytest.raises(ServiceError) as err:
        record(t, contract, "B1", D("1"))
    assert err.value.code == "duplicate"
    record(t, contract, "B2", D("6300.00"))
    contract.refresh_from_db()
    assert (contract.invoiced_amount, contract.invoice_status) == (D("11300.00"), "full")
    with pytest.raises(PermissionDenied):
        svc.fapiao_record(
            actor=t.users["sales"],
            contract=contract,
            number="B3",
            amount_incl=D("1"),
            issued_on=date(2026, 12, 1),
        )


def test_recording_for_a_request_issues_it(t):
    rep = t.users["sales"]
    contract = make_contract(rep)
    req = svc.invoice_request_create(actor=rep, contract=contract, amount=D("1130"), kind="digital")
    fapiao = record(t, contract, "C1", req.amount, request=req, kind=req.kind)
    req.refresh_from_db()
    assert req.state == InvoiceRequest.State.ISSUED and fapiao.request_id == req.pk
    with pytest.raises(ServiceError) as err:
        record(t, contract, "C2", D("1"), request=req)
    assert err.value.code == "request_closed"


def test_red_letter_reverses_once_and_restores_the_invoiced_amount(t):
    contract = make_contract(t.users["sales"])
    blue = record(t, contract, "R1", D("11300"))
    contract.refresh_from_db()
    assert contract.invoice_status == "full"
    with pytest.raises(ServiceError):
        svc.fapiao_red(
            actor=t.users["finance"], fapiao=blue, reason="", number="R1-RED", issued_on=date(2026, 12, 2)
        )
    red = svc.fapiao_red(
        actor=t.users["finance"],
        fapiao=blue,
        reason="开票信息错误",
        number="R1-RED",
        issued_on=date(2026, 12, 2),
    )
    assert (red.amount_incl, red.amount_excl, red.amount_tax) == (
        -blue.amount_incl,
        -blue.amount_excl,
        -blue.amount_tax,
    )
    assert red.red_of_id == blue.pk and red.reason == "开票信息错误"
    contract.refresh_from_db()
    assert (contract.invoiced_amount, contract.invoice_status) == (D("0.00"), "none")
    with pytest.raises(ServiceError) as err:
        svc.fapiao_red(
            actor=t.users["finance"],
            fapiao=blue,
            reason="again",
            number="R1-RED2",
            issued_on=date(2026, 12, 2),
        )
    assert err.value.code == "already_reversed"
    with pytest.raises(ServiceError) as err:
        svc.fapiao_red(
            actor=t.users["finance"], fapiao=red, reason="x", number="R1-RED3", issued_on=date(2026, 12, 2)
        )
    assert err.value.code == "red_of_red"
    with pytest.raises(PermissionDenied):
        svc.fapiao_red(
            actor=t.users["sales"], fapiao=blue, reason="x", number="R9", issued_on=date(2026, 12, 2)
        )
    # After the reversal the whole total can be invoiced again.
    record(t, contract, "R2", D("11300"))
    contract.refresh_from_db()
    assert (contract.invoiced_amount, contract.invoice_status) == (D("11300.00"), "full")


def test_fake_provider_round_trip_through_its_wire_format(t):
    rep = t.users["sales"]
    customer = make_customer(rep, "北京远航咨询有限公司")
    customer.custom_fields = {"tax_id": "91110108MA00ABCD1X"}
    customer.save()
    contract = make_contract(rep, customer, lines=[line("咨询服务", "2", "5300", "0.06")])  # 10,600.00
    with fake_platform() as platform:
        provider = fapiao_provider.FakePlatformProvider(platform.url)
        fapiao = svc.fapiao_issue(
            actor=t.users["finance"],
            contract=contract,
            amount_incl=D("10600"),
            vat_rate="0.06",
            kind="digital",
            provider=provider,
        )
        path, body = platform.received[0]
        assert path == "/invoices"
        assert body["buyer"] == {"name": "北京远航咨询有限公司", "tax_id": "91110108MA00ABCD1X"}
        assert body["invoice_type"] == "026" and "tax_id" in body["seller"]
        assert body["total"] == {"amount_excl": "10000.00", "tax": "600.00", "amount_incl": "10600.00"}
        assert body["items"] == [
            {
                "name": "咨询服务",
                "quantity": "2.0000",
                "amount_excl": "10000.00",
                "tax_rate": "0.0600",
                "tax": "600.00",
            }
        ]
        assert fapiao.number == "26440000000000000001" and fapiao.provider == "fake"
        assert fapiao.issued_on == date(2026, 12, 2) and fapiao.provider_reference == "SN000001"
        red = svc.fapiao_red(actor=t.users["finance"], fapiao=fapiao, reason="退货", provider=provider)
        assert platform.received[1][0] == "/invoices/red"
        assert platform.received[1][1]["original_number"] == fapiao.number
        assert platform.received[1][1]["total"]["amount_incl"] == "-10600.00"
        assert red.amount_incl == D("-10600.00") and red.number == "26440000000000000002"
        platform.refuse = "税号错误"
        with pytest.raises(ServiceError) as err:
            svc.fapiao_issue(
                actor=t.users["finance"], contract=contract, amount_incl=D("100"), provider=provider
            )
        assert err.value.code == "provider_refused" and "税号错误" in str(err.value.message)
    assert Fapiao.objects.filter(contract=contract).count() == 2
    # A platform that does not answer: a clear error, nothing recorded.
    with pytest.raises(ServiceError) as err:
        svc.fapiao_issue(
            actor=t.users["finance"],
            contract=contract,
            amount_incl=D("100"),
            provider=fapiao_provider.FakePlatformProvider(platform.url),
        )
    assert err.value.code == "provider_down"
    assert Fapiao.objects.filter(contract=contract).count() == 2


def test_provider_chosen_by_setting(settings):
    assert fapiao_provider.get_provider().name == "manual"
    settings.SALES_FAPIAO_PROVIDER = "fake"
    assert fapiao_provider.get_provider().name == "fake"
    settings.SALES_FAPIAO_PROVIDER = "nonsense"
    assert fapiao_provider.get_provider().name == "manual"


# --- targets ------------------------------------------------------------------------------------------


def _confirmed(t, owner, at, price="11300", state="confirmed"):
    contract = make_contract(owner, lines=[line(price=price)])
    Contract.objects.filter(pk=contract.pk).update(confirmed_at=at, state=state)
    return contract


def test_contracts_basis_uses_the_tenants_month_boundaries(t):
    rep = t.users["sales"]
    # 23:30 on 30 November in Shanghai is 15:30 UTC: November. 00:30 on 1 December is 16:30 UTC on the 30th.
    _confirmed(t, rep, datetime(2026, 11, 30, 23, 30, tzinfo=SH), price="1000.01")
    _confirmed(t, rep, datetime(2026, 12, 1, 0, 30, tzinfo=SH), price="2000.02")
    _confirmed(t, rep, datetime(2026, 11, 1, 0, 0, tzinfo=SH), price="300.30")
    _confirmed(t, rep, datetime(2026, 11, 15, 12, 0, tzinfo=SH), price="99999", state="cancelled")
    _confirmed(t, rep, datetime(2026, 10, 31, 23, 59, tzinfo=SH), price="7")
    assert sel.achieved_by_user(date(2026, 11, 1)) == {rep.pk: D("1300.31")}
    assert sel.achieved_by_user(date(2026, 12, 1)) == {rep.pk: D("2000.02")}
    series = sel.achieved_series(date(2026, 10, 1), date(2026, 12, 1))
    assert {m: v[rep.pk] for m, v in series.items()} == {
        date(2026, 10, 1): D("7.00"),
        date(2026, 11, 1): D("1300.31"),
        date(2026, 12, 1): D("2000.02"),
    }


def test_receipts_basis_counts_posted_receipts_by_date(t):
    rep = t.users["sales"]
    svc.settings_update(actor=t.users["owner"], target_basis="receipts")
    customer = make_customer(rep)
    for n, (day, amount, state) in enumerate(
        [
            (date(2026, 11, 30), "500.55", "posted"),
            (date(2026, 11, 1), "0.45", "posted"),
            (date(2026, 12, 1), "70", "posted"),
            (date(2026, 11, 20), "1000", "reversed"),
        ]
    ):
        Receipt.objects.create(
            number=f"SK{n}",
            customer=customer,
            owner=rep,
            amount=D(amount),
            received_on=day,
            state=state,
            recorded_by=rep,
        )
    _confirmed(t, rep, datetime(2026, 11, 10, tzinfo=SH))  # not counted on this basis
    assert sel.achieved_by_user(date(2026, 11, 1)) == {rep.pk: D("501.00")}
    Target.objects.create(month=date(2026, 11, 1), user=rep, amount=D("1002"))
    rows = sel.achievement(actor=rep, month=date(2026, 11, 1), months=2)["rows"]
    assert [(r["month"], r["target"], r["achieved"], r["percent"]) for r in rows] == [
        (date(2026, 10, 1), None, D("0.00"), None),
        (date(2026, 11, 1), D("1002.00"), D("501.00"), 50),
    ]


def test_team_sums_members_unless_set_explicitly(t):
    manager, rep = t.users["manager"], t.users["sales"]
    team = Team.objects.get(manager=manager)
    month = date(2026, 11, 1)
    svc.target_set(actor=manager, month=month, amount="100000", user=rep)
    svc.target_set(actor=manager, month=month, amount="50000.50", user=manager)
    _confirmed(t, rep, datetime(2026, 11, 3, tzinfo=SH), price="30000")
    _confirmed(t, manager, datetime(2026, 11, 4, tzinfo=SH), price="1000.25")
    _confirmed(t, t.users["sales2"], datetime(2026, 11, 4, tzinfo=SH), price="5")  # not in the team
    grid = sel.target_grid(actor=manager, month=month)
    (row,) = [r for r in grid["team_rows"] if r["team"].pk == team.pk]
    assert (row["target"], row["achieved"], row["explicit"]) == (D("150000.50"), D("31000.25"), None)
    assert {r["user"].pk for r in grid["rows"]} == {manager.pk, rep.pk}
    svc.target_set(actor=manager, month=month, amount="200000", team=team)
    (row,) = [r for r in sel.target_grid(actor=manager, month=month)["team_rows"] if r["team"].pk == team.pk]
    assert (row["target"], row["percent"]) == (D("200000.00"), 16)
    team_view = sel.achievement(actor=manager, month=month, team=team, months=1)["rows"][0]
    assert (team_view["target"], team_view["achieved"]) == (D("200000.00"), D("31000.25"))


def test_target_permissions_and_copy_last_month(t):
    manager = t.users["manager"]
    with pytest.raises(PermissionDenied):
        svc.target_set(actor=manager, month=date(2026, 11, 1), amount="1", user=t.users["sales2"])
    with pytest.raises(PermissionDenied):
        svc.target_set(actor=t.users["sales"], month=date(2026, 11, 1), amount="1", user=t.users["sales"])
    with pytest.raises(ServiceError):
        svc.target_set(actor=manager, month=date(2026, 11, 1), amount="-1", user=t.users["sales"])
    svc.target_set(actor=t.users["owner"], month=date(2026, 11, 15), amount="1000", user=t.users["sales"])
    svc.target_set(actor=t.users["owner"], month=date(2026, 11, 1), amount="2000", user=t.users["sales2"])
    svc.target_set(actor=t.users["owner"], month=date(2026, 12, 1), amount="5", user=t.users["sales2"])
    assert svc.targets_copy_last_month(actor=t.users["owner"], month=date(2026, 12, 1)) == 1
    assert svc.targets_copy_last_month(actor=t.users["owner"], month=date(2026, 12, 1)) == 0
    dec = dict(Target.objects.filter(month=date(2026, 12, 1)).values_list("user_id", "amount"))
    assert dec == {t.users["sales"].pk: D("1000.00"), t.users["sales2"].pk: D("5.00")}
    svc.target_set(actor=t.users["owner"], month=date(2026, 12, 1), amount=None, user=t.users["sales2"])
    assert not Target.objects.filter(month=date(2026, 12, 1), user=t.users["sales2"]).exists()


def test_merge_moves_requests_and_fapiao_and_handover_moves_open_requests(t):
    from crm.kernel import hooks

    rep = t.users["sales"]
    source, target = make_customer(rep, "源客户"), make_customer(rep, "目标客户")
    contract = make_contract(rep, source)
    req = svc.invoice_request_create(actor=rep, contract=contract, amount=D("100"))
    fapiao = record(t, contract, "M1", D("200"))
    moved = hooks.links_merge(source_id=source.pk, target_id=target.pk)
    assert moved["sales.InvoiceRequest"] == 1 and moved["sales.Fapiao"] == 1
    req.refresh_from_db()
    fapiao.refresh_from_db()
    assert req.customer_id == fapiao.customer_id == target.pk
    hooks.links_handover_move(by_target={t.users["sales2"].pk: [target.pk]}, from_user_id=rep.pk)
    req.refresh_from_db()
    assert req.owner_id == t.users["sales2"].pk
