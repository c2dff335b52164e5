from datetime import date
from decimal import Decimal
from typing import Any

from django_tenants.utils import schema_context

from .factories import make_contract, make_plan, make_stages


def test_a_contract_with_a_plan(alpha: Any) -> None:
    with schema_context(alpha.schema):
        rep = alpha.users["sales"]
        assert len(make_stages()) == 6
        contract = make_contract(rep)
        assert contract.number.startswith("HT")
        assert contract.state == "confirmed"
        assert contract.total_incl == Decimal("11300.00")
        assert contract.total_excl == Decimal("10000.00")
        plan = make_plan(contract, [(date(2027, 1, 31), "5000"), (date(2027, 3, 31), "6300")])
        assert sum(i.amount for i in plan) == contract.total_incl
