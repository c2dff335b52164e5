"""Import kind "contracts" (one row per line, grouped by number, idempotent) and the demo seeder."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django_tenants.utils import schema_context

from crm.modules.core import imports
from crm.modules.sales import demo_documents
from crm.modules.sales.models import Contract, Quote

from .factories import make_customer

CSV = (
    "合同编号,客户,合同名称,签订日期,明细,数量,单位,含税单价,税率,成本\n"
    "OLD-001,上海启明科技有限公司,ERP 实施,2026-03-01,实施服务,10,人天,2120,6%,900\n"
    "OLD-001,上海启明科技有限公司,ERP 实施,2026-03-01,培训,1,场,5300,6%,1800\n"
    "OLD-002,上海启明科技有限公司,运维,2026-04-01,年度运维,1,年,31800,6%,\n"
    "OLD-003,没有这个客户,运维,2026-04-01,年度运维,1,年,31800,6%,\n"
)


@pytest.fixture(autouse=True)
def media(tmp_path: Any, settings: Any) -> None:
    settings.MEDIA_ROOT = str(tmp_path)


def run(actor: Any, data: bytes) -> Any:
    job = imports.import_upload(actor=actor, kind="contracts", filename="合同.csv", data=data)
    imports.import_start(actor=actor, job=job, mapping=job.mapping, key="", all_or_nothing=False)
    return imports.import_run(job.pk)


def test_contracts_import_with_lines_is_idempotent(alpha: Any) -> None:
    with schema_context(alpha.schema):
        rep = alpha.users["sales"]
        make_customer(rep)
        job = run(rep, CSV.encode("gb18030"))
        assert job.created_count == 2, job.errors
        assert len(job.errors) == 1
        first = Contract.objects.get(number="OLD-001")
        assert first.state == "confirmed" and first.owner_id == rep.pk
        assert first.lines.count() == 2
        assert first.total_incl == Decimal("26500.00")  # 21200 + 5300
        assert first.total_excl == Decimal("25000.00")
        assert first.cost_excl == Decimal("10800.00")
        again = run(rep, CSV.encode("gb18030"))
        assert again.created_count == 0
        assert Contract.objects.filter(number__startswith="OLD-").count() == 2


def test_demo_seeds_quotes_and_contracts_once(alpha: Any) -> None:
    with schema_context(alpha.schema):
        for i in range(5):
            make_customer(alpha.users["sales"], f"演示客户{i}")
        demo_documents.seed(alpha.tenant)
        contracts, quotes = Contract.objects.count(), Quote.objects.count()
        assert contracts == demo_documents.CONTRACTS and quotes >= demo_documents.QUOTES
        assert Contract.objects.filter(state="confirmed").count() > contracts // 2
        assert Contract.objects.filter(state="cancelled").exists()
        assert Quote.objects.filter(version=2).exists()
        demo_documents.seed(alpha.tenant)
        assert (Contract.objects.count(), Quote.objects.count()) == (contracts, quotes)
