"""Realistic Chinese demo data for the core: companies, contacts, visits, tasks, products. Idempotent."""

from __future__ import annotations

import random
from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone
from django_tenants.utils import schema_context

from crm.platform.permissions import Role
from crm.tenants.accounts.models import User

from .models import Activity, Contact, Customer, Product, Task
from .services import initials, normalize_name, normalize_phone

CITIES = [
    ("上海", "上海"),
    ("江苏", "苏州"),
    ("浙江", "杭州"),
    ("广东", "深圳"),
    ("北京", "北京"),
    ("山东", "青岛"),
    ("四川", "成都"),
    ("湖北", "武汉"),
]
COMPANY_WORDS = [
    "明达",
    "华信",
    "恒泰",
    "远大",
    "金鼎",
    "新锐",
    "东方",
    "嘉禾",
    "瑞丰",
    "博远",
    "启航",
    "中科",
    "海川",
    "正泰",
    "宏图",
    "天禾",
    "联创",
    "鑫源",
    "安达",
    "德隆",
]
TRADES = ["科技", "贸易", "机械", "电子", "建材", "食品", "物流", "医疗器械"]
SURNAMES = "王李张刘陈杨黄赵周吴徐孙马朱胡郭"
GIVEN = ["伟", "芳", "娜", "敏", "静", "强", "磊", "洋", "艳", "杰", "涛", "明", "超", "霞", "平"]
TITLES = [
    ("采购经理", "决策人"),
    ("总经理", "决策人"),
    ("技术主管", "使用者"),
    ("财务", "审批人"),
    ("行政", "联系人"),
]
PURPOSES = [
    "初次拜访，了解需求",
    "介绍新产品",
    "送样品",
    "商务谈判",
    "回访使用情况",
    "催收货款",
    "年度合作洽谈",
]
RESULTS = [
    "客户有兴趣，需要报价",
    "对价格有顾虑，需再沟通",
    "已确认需求，准备方案",
    "客户暂无预算，下季度再跟进",
    "同意试用",
    "决策人出差，改约下周",
]
NEXT_STEPS = ["发送报价单", "安排技术交流", "寄送样品", "约见决策人", "提交方案", "电话回访"]
# code, name, specification, unit, price (tax incl.), cost (tax excl., what it is bought for), category
PRODUCTS = [
    ("GC-001", "螺纹钢", "HRB400 Φ12", "吨", "4150.00", "3350.00", "钢材"),
    ("GC-002", "螺纹钢", "HRB400 Φ16", "吨", "4120.00", "3330.00", "钢材"),
    ("GC-010", "热轧卷板", "Q235B 4.75mm", "吨", "4380.00", "3560.00", "钢材"),
    ("JX-101", "液压泵", "CBN-E310", "台", "1280.00", "860.00", "机械配件"),
    ("JX-102", "减速机", "WPA-80 速比1:20", "台", "2350.00", "1700.00", "机械配件"),
    ("DZ-201", "工控主板", "J1900 四网口", "块", "899.00", "560.00", "电子"),
    ("DZ-202", "PLC 控制器", "S7-200 SMART", "台", "2680.00", "2100.00", "电子"),
    ("FW-001", "安装调试服务", "按次", "次", "800.00", "300.00", "服务"),
    ("FW-002", "年度维保", "标准版", "年", "6800.00", "2500.00", "服务"),
    ("BC-301", "瓷砖", "800×800 抛釉", "平方米", "68.00", "45.00", "建材"),
]
SEED_TAG = "演示"


def _pick(rng: random.Random, seq: list[Any]) -> Any:
    return seq[rng.randrange(len(seq))]


def seed(tenant: Any) -> None:
    """Add demo data to `tenant` once (a second run finds the demo tag and does nothing)."""
    with schema_context(tenant.schema_name):
        if Customer.objects.filter(tags__contains=[SEED_TAG]).exists():
            return
        _seed(random.Random(tenant.schema_name))


@transaction.atomic
def _seed(rng: random.Random) -> None:
    now = timezone.now()
    reps = list(User.objects.filter(is_active=True, role__in=[Role.SALES, Role.MANAGER]).order_by("id"))
    if not reps:
        reps = list(User.objects.filter(is_active=True).order_by("id")[:1])
    if not reps:
        return
    for code, name, spec, unit, price, cost, category in PRODUCTS:
        Product.objects.get_or_create(
            code=code,
            name=name,
            specification=spec,
            defaults={
                "unit": unit,
                "price": Decimal(price),
                "cost": Decimal(cost),
                "category": category,
                "name_initials": initials(name),
            },
        )
    used: set[str] = set()
    for i in range(36):
        province, city = _pick(rng, CITIES)
        while True:
            name = f"{city}{_pick(rng, COMPANY_WORDS)}{_pick(rng, TRADES)}有限公司"
            if name not in used:
                used.add(name)
                break
        owner = reps[i % len(reps)] if i < 32 else None  # a few start in the public pool
        last = now - timedelta(days=rng.randint(0, 25), hours=rng.randint(0, 9))
        phone = normalize_phone(f"1{rng.choice('3589')}{rng.randint(100000000, 999999999)}")
        customer = Customer.objects.create(
            name=name,
            name_normalized=normalize_name(name),
            name_initials=initials(name),
            kind="company",
            phone=phone,
            province=province,
            city=city,
            address=f"{city}市{_pick(rng, ['高新区', '经开区', '工业园'])}{rng.randint(1, 300)}号",
            tags=[SEED_TAG, *rng.sample(["重点", "华东", "新客户", "老客户", "大客户"], 2)],
            source=_pick(rng, Customer.Source.values),
            stage=_pick(rng, ["lead", "prospect", "prospect", "customer", "lost"]),
            owner=owner,
            in_pool=owner is None,
            last_activity_at=last,
            created_by=owner,
        )
        for j in range(rng.randint(1, 3)):
            person = (
                _pick(rng, list(SURNAMES))
                + _pick(rng, GIVEN)
                + ("" if rng.random() < 0.5 else _pick(rng, GIVEN))
            )
            title, role = _pick(rng, TITLES)
            Contact.objects.create(
                customer=customer,
                name=person,
                name_initials=initials(person),
                title=title,
                role=role,
                phone=f"13{rng.randint(100000000, 999999999)}",
                is_primary=j == 0,
            )
        if owner is None:
            continue
        for k in range(rng.randint(1, 4)):
            occurred = last - timedelta(days=k * rng.randint(3, 9))
            step = _pick(rng, NEXT_STEPS)
            activity = Activity.objects.create(
                customer=customer,
                author=owner,
                kind=_pick(rng, ["visit", "visit", "call", "meeting"]),
                purpose=_pick(rng, PURPOSES),
                result=_pick(rng, RESULTS),
                next_step=step,
                next_step_at=occurred + timedelta(days=7) if k == 0 else None,
                occurred_at=occurred,
            )
            if k == 0:
                Task.objects.create(
                    title=step,
                    due_at=occurred + timedelta(days=7),
                    owner=owner,
                    customer=customer,
                    activity=activity,
                )
