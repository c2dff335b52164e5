"""Service agreements through the core's shared import: customer by exact name, term, hours sold; a second
run of the same file creates nothing; customers the importer cannot see are row errors."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from django_tenants.utils import schema_context

from crm.modules.core import import_kinds, imports
from crm.modules.service.models import Agreement

from .factories import to_public

FILE = (
    "客户名称,合同名称,开始日期,结束日期,服务工时,合同金额,自动续约\n"
    "上海启明科技有限公司,2027 运维,2027-01-01,2027-12-31,120,96000,是\n"
    "北京华远物流集团,2027 运维,2027-01-01,2027-12-31,40,20000,否\n"
    "不存在的公司,x,2027-01-01,2027-12-31,1,1,\n"
)


@pytest.fixture(autouse=True)
def media(tmp_path, settings):
    settings.MEDIA_ROOT = str(tmp_path)


def run(actor, data: bytes):
    job = imports.import_upload(actor=actor, kind="service_agreements", filename="服务合同.csv", data=data)
    imports.import_start(actor=actor, job=job, mapping=job.mapping, key="", all_or_nothing=False)
    return imports.import_run(job.pk)


def test_import_agreements(alpha, desk):
    with schema_context(alpha.schema):
        offered = {k.name for k in import_kinds.kinds_offered(alpha.users["sales"])}
        assert "service_agreements" in offered
        assert "service_agreements" not in {k.name for k in import_kinds.kinds_offered(alpha.users["clerk"])}
        job = run(alpha.users["sales"], FILE.encode("gb18030"))
        # The rep sees only his customer: the other two rows are errors.
        assert job.created_count == 1 and len(job.errors) == 2
        made = Agreement.objects.get(customer=desk.customer, start_date=date(2027, 1, 1))
        assert made.auto_renew and made.value == Decimal("96000.00") and made.owner == alpha.users["sales"]
        assert [(e.unit, e.sold) for e in made.entitlements.all()] == [("hours", Decimal("120.00"))]
        again = run(alpha.users["owner"], FILE.encode("gb18030"))
        assert again.created_count == 1  # only the row the rep could not import; his row is not doubled
        assert Agreement.objects.filter(start_date=date(2027, 1, 1)).count() == 2
    to_public()
