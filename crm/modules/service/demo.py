"""Demo data of the service module (the `service` demo workspace, an IT consulting and technical-service
firm): the sales capability's demo first (through sales.public), then SLA plans, business hours with the
national holidays, two technicians, a year of service agreements with hours and visits sold, service
orders with work logs and sign-offs, and return visits. Idempotent: a second run finds the demo SLA plan
and does nothing."""

from __future__ import annotations

import random
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone
from django_tenants.utils import schema_context

from crm.kernel.tenant_time import tenant_zone
from crm.modules.core.public import Customer
from crm.modules.sales.public import seed_demo as sales_seed_demo
from crm.platform.permissions import Role
from crm.tenants.accounts.models import User

from . import services
from .manifest import TECHNICIAN
from .models import Entitlement, Priority, ServiceOrder, ServiceSettings, SlaPlan

PLAN = "标准服务级别"
CUSTOMERS = [
    "上海启明科技有限公司",
    "北京华远物流集团",
    "杭州云帆电子商务有限公司",
    "南京金陵制药股份有限公司",
    "广州珠江建设工程有限公司",
    "深圳前海融资租赁有限公司",
    "苏州工业园区星辰精密制造",
    "成都天府软件园管理中心",
    "武汉光谷生物医药有限公司",
    "西安秦川汽车零部件有限公司",
    "天津滨海港务集团",
    "重庆山城连锁酒店管理公司",
]
SUBJECTS = [
    ("ERP 系统登录缓慢", "用户反映早上 9 点高峰期登录需 30 秒以上。"),
    ("邮件服务器无法收信", "Exchange 队列堆积，外部邮件延迟。"),
    ("财务软件年结协助", "协助完成年度结账和报表导出。"),
    ("机房 UPS 告警", "UPS 电池自检失败，需现场检查。"),
    ("VPN 账号开通", "新入职员工 5 人需要开通远程访问。"),
    ("打印机网络共享故障", "三楼打印机无法从域内电脑访问。"),
    ("数据库备份失败", "夜间备份任务连续两天报错。"),
    ("信息安全等保咨询", "等保 2.0 三级测评前的差距分析。"),
    ("新办公室网络部署", "新租办公室 60 个点位布线与交换机配置。"),
    ("CRM 系统培训", "销售部门 20 人的系统使用培训。"),
]
HOLIDAYS_2026 = [
    "2026-01-01",
    "2026-02-16",
    "2026-02-17",
    "2026-02-18",
    "2026-02-19",
    "2026-02-20",
    "2026-04-06",
    "2026-05-01",
    "2026-06-19",
    "2026-09-25",
    "2026-10-01",
    "2026-10-02",
    "2026-10-05",
    "2026-10-06",
    "2026-10-07",
]
COMMENTS = [
    "响应及时，工程师很专业",
    "问题解决了，希望以后更快",
    "现场服务态度好",
    "文档很清楚",
    "还需要再跟进一次",
]


def seed(tenant: Any) -> None:
    sales_seed_demo(tenant)  # the sales capability's part first (it checks for its own rows)
    with schema_context(tenant.schema_name):
        if SlaPlan.objects.filter(name=PLAN).exists():
            return
        owner = User.objects.filter(role=Role.OWNER, is_active=True).order_by("id").first()
        if owner is None:
            return
        _seed(random.Random(tenant.schema_name), owner, tenant)


@transaction.atomic
def _seed(rng: random.Random, owner: User, tenant: Any) -> None:
    plan = SlaPlan.objects.create(name=PLAN)
    vip = SlaPlan.objects.create(
        name="VIP 服务级别",
        low_response=8,
        low_resolution=40,
        normal_response=4,
        normal_resolution=16,
        high_response=2,
        high_resolution=8,
        urgent_response=1,
        urgent_resolution=4,
    )
    settings_row, _created = ServiceSettings.objects.get_or_create(pk=1)
    settings_row.holidays = HOLIDAYS_2026
    settings_row.save()
    techs = list(User.objects.filter(role=TECHNICIAN, is_active=True).order_by("id"))
    slug = getattr(tenant, "slug", tenant.schema_name)
    for i, name in enumerate(("陈工", "林工")[len(techs) :], start=len(techs) + 1):
        techs.append(
            User.objects.create(
                email=f"tech{i}@{slug}.demo", name=name, role=TECHNICIAN, password=owner.password
            )
        )
    reps = list(User.objects.filter(role__in=[Role.SALES, Role.MANAGER], is_active=True).order_by("id")) or [
        owner
    ]
    customers = []
    for i, name in enumerate(CUSTOMERS):
        customer = Customer.objects.filter(name=name).first() or Customer.objects.create(
            name=name, owner=reps[i % len(reps)], phone=f"021-6{rng.randint(1000000, 9999999)}"
        )
        customers.append(customer)
    zone = tenant_zone()
    today = timezone.localdate()
    for i, customer in enumerate(customers):
        start = today - timedelta(days=rng.randint(30, 330))
        end = start + timedelta(days=364)
        hours = Decimal(rng.choice([40, 80, 120, 200]))
        agreement = services.agreement_create(
            actor=owner,
            customer=customer,
            title=f"{start.year} 年度 IT 运维服务合同",
            start_date=start,
            end_date=end,
            value=hours * Decimal("650"),
            auto_renew=i % 3 == 0,
            renewal_notice_days=rng.choice([30, 45, 60]),
            sla_plan=vip if i % 4 == 0 else plan,
            entitlements=[
                services.EntitlementInput("远程及现场服务工时", hours, Entitlement.Unit.HOURS),
                services.EntitlementInput(
                    "现场巡检", Decimal(rng.choice([4, 6, 12])), Entitlement.Unit.VISITS
                ),
            ],
        )
        for _n in range(rng.randint(4, 12)):
            _order(rng, owner, agreement, customer, techs, start, today, zone)
    services.renewals_run(today=today)


def _order(
    rng: random.Random,
    owner: User,
    agreement: Any,
    customer: Customer,
    techs: list[User],
    start: date,
    today: date,
    zone: Any,
) -> None:
    day = start + timedelta(days=rng.randint(0, max(0, (today - start).days)))
    opened = datetime.combine(day, time(rng.randint(8, 17), rng.choice([0, 15, 30, 45])), tzinfo=zone)
    subject, description = rng.choice(SUBJECTS)
    tech = rng.choice(techs)
    order = services.order_create(
        actor=owner,
        customer=customer,
        agreement=agreement,
        subject=subject,
        description=description,
        priority=rng.choice([Priority.LOW, Priority.NORMAL, Priority.NORMAL, Priority.HIGH, Priority.URGENT]),
        assignee=tech,
        opened_at=opened,
    )
    if (today - day).days < 3 and rng.random() < 0.7:
        return  # recent orders stay open
    worked = min(day + timedelta(days=rng.randint(0, 2)), today)
    for _w in range(rng.randint(1, 3)):
        services.worklog_add(
            actor=tech,
            order=order,
            hours=Decimal(rng.choice(["0.5", "1", "1.5", "2", "3", "4"])),
            note="远程排查并处理",
            work_date=worked,
            billable_overage=True,
            on_site=rng.random() < 0.3,
        )
    resolved_at = opened + timedelta(hours=rng.choice([2, 5, 20, 30, 60, 100]))
    order = services.order_transition(
        actor=tech, order=order, action="resolve", at=min(resolved_at, timezone.now())
    )
    if rng.random() < 0.8:
        order = services.order_signoff(
            actor=tech, order=order, name=customer.name[:2] + "经理", note=rng.choice(COMMENTS)
        )
        signed = min(resolved_at + timedelta(hours=2), timezone.now())
        ServiceOrder.objects.filter(pk=order.pk).update(signed_at=signed, closed_at=signed)
    for visit in order.visits.filter(done_at__isnull=True):
        if visit.scheduled_on <= today and rng.random() < 0.75:
            services.visit_complete(
                actor=owner,
                visit=visit,
                score=rng.choice([3, 4, 4, 5, 5, 5]),
                comment=rng.choice(COMMENTS),
                follow_up="下季度巡检时复查" if rng.random() < 0.3 else "",
            )
