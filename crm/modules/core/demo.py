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
# code, name, specification, unit, price (tax incl.), cost (tax excl., what it is bought for), category.
# One catalogue per industry: a workspace's demo sells what a firm of its sales mode sells. The trading
# firm's codes are used by the purchasing demo (its suppliers quote them): keep them.
Catalogue = list[tuple[str, str, str, str, str, str, str]]
PRODUCTS: Catalogue = [  # trade: steel, machine parts, electronics, tiles (a trading firm's goods)
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
CATALOGUES: dict[str, Catalogue] = {
    "trade": PRODUCTS,
    "project": [  # system integration: hardware, licences, implementation
        ("XT-001", "机架式服务器", "2U 双路 64G", "台", "28600.00", "21500.00", "硬件"),
        ("XT-002", "千兆交换机", "48口 三层", "台", "6800.00", "4900.00", "硬件"),
        ("XT-003", "防火墙", "企业级 1000 并发", "台", "15800.00", "11200.00", "硬件"),
        ("XT-010", "视频会议终端", "4K 一体机", "套", "9800.00", "6600.00", "硬件"),
        ("RJ-101", "OA 系统授权", "100 用户", "套", "36000.00", "12000.00", "软件"),
        ("RJ-102", "数据库授权", "标准版 每核", "个", "8800.00", "6200.00", "软件"),
        ("SS-201", "综合布线", "六类 每点位", "点", "260.00", "150.00", "工程"),
        ("SS-202", "系统集成实施", "人天", "人天", "1800.00", "700.00", "服务"),
        ("SS-203", "驻场运维", "按月", "月", "12000.00", "7000.00", "服务"),
    ],
    "service": [  # management consulting and training
        ("ZX-001", "管理诊断", "两周 现场调研", "项", "48000.00", "18000.00", "咨询"),
        ("ZX-002", "绩效体系设计", "含落地辅导", "项", "96000.00", "40000.00", "咨询"),
        ("ZX-003", "股权激励方案", "标准版", "项", "68000.00", "25000.00", "咨询"),
        ("PX-101", "中层管理培训", "两天 内训", "场", "26000.00", "9000.00", "培训"),
        ("PX-102", "销售技能训练营", "三天 公开课", "人", "4800.00", "1500.00", "培训"),
        ("GW-201", "常年管理顾问", "按年", "年", "120000.00", "50000.00", "顾问"),
        ("GW-202", "专家工时", "按小时", "小时", "1500.00", "600.00", "顾问"),
    ],
    "production": [  # machinery made to order
        ("CP-001", "数控车床", "CK6150 1米", "台", "168000.00", "126000.00", "整机"),
        ("CP-002", "立式加工中心", "VMC850", "台", "235000.00", "178000.00", "整机"),
        ("CP-010", "非标自动化设备", "按图定制", "台", "380000.00", "270000.00", "整机"),
        ("LJ-101", "精密主轴", "BT40 8000转", "件", "12800.00", "8600.00", "零部件"),
        ("LJ-102", "滚珠丝杠", "FFZD4010-3", "根", "1850.00", "1200.00", "零部件"),
        ("LJ-103", "来图加工件", "45#钢 调质", "件", "85.00", "52.00", "零部件"),
        ("FW-301", "设备安装调试", "按台", "次", "5000.00", "2200.00", "服务"),
        ("FW-302", "年度保养", "含易损件", "年", "18000.00", "9000.00", "服务"),
    ],
    "retail": [  # a department store chain: beauty, home, clothing
        ("MZ-001", "保湿面霜", "50g", "瓶", "268.00", "120.00", "美妆"),
        ("MZ-002", "精华液", "30ml", "瓶", "459.00", "210.00", "美妆"),
        ("MZ-003", "防晒乳", "SPF50 60ml", "支", "159.00", "70.00", "美妆"),
        ("JJ-101", "四件套", "纯棉 1.8米", "套", "599.00", "280.00", "家居"),
        ("JJ-102", "保温杯", "500ml 不锈钢", "个", "129.00", "55.00", "家居"),
        ("FS-201", "羊毛大衣", "女款 M", "件", "1680.00", "760.00", "服饰"),
        ("FS-202", "休闲运动鞋", "男款 42", "双", "499.00", "230.00", "服饰"),
        ("SP-301", "进口坚果礼盒", "1.2kg", "盒", "198.00", "105.00", "食品"),
    ],
    "volume": [  # online electronics accessories, many small orders
        ("PJ-001", "快充充电器", "65W 氮化镓", "个", "129.00", "58.00", "数码配件"),
        ("PJ-002", "数据线", "Type-C 1米", "根", "29.90", "9.50", "数码配件"),
        ("PJ-003", "无线耳机", "蓝牙5.3 降噪", "副", "299.00", "145.00", "数码配件"),
        ("PJ-004", "充电宝", "20000mAh", "个", "159.00", "76.00", "数码配件"),
        ("PJ-005", "手机壳", "iPhone 16 透明", "个", "39.00", "8.00", "数码配件"),
        ("PJ-006", "钢化膜", "两片装", "盒", "19.90", "4.00", "数码配件"),
        ("PJ-007", "智能手表", "运动版", "块", "699.00", "390.00", "智能穿戴"),
    ],
    "distribution": [  # packaged food and drinks sold by the carton to dealers
        ("SP-001", "纯牛奶", "250ml×24盒", "箱", "68.00", "49.00", "乳品"),
        ("SP-002", "矿泉水", "550ml×24瓶", "箱", "28.00", "17.00", "饮料"),
        ("SP-003", "方便面", "五连包×6", "箱", "72.00", "53.00", "方便食品"),
        ("SP-004", "香辣火锅底料", "300g×30袋", "箱", "420.00", "300.00", "调味品"),
        ("SP-005", "酱油", "1.9L×6瓶", "箱", "96.00", "66.00", "调味品"),
        ("SP-006", "薯片", "70g×24袋", "箱", "158.00", "108.00", "休闲食品"),
        ("SP-007", "中秋月饼礼盒", "8枚装", "盒", "168.00", "88.00", "节令礼盒"),
    ],
}
# A workspace with no sales mode (the CRM core alone) gets a mixed catalogue: the trading firm's.
CATALOGUE_ORDER = ("trade", "project", "service", "production", "retail", "volume", "distribution")


def catalogue_for(tenant: Any) -> Catalogue:
    """The catalogue of the workspace's sales mode. Trade first: the purchasing demo, which a trading
    workspace also runs, buys the trade catalogue's codes."""
    from crm.platform.registry import registry
    from crm.tenants.selectors import enabled_modules

    enabled = enabled_modules(tenant)
    modes = {m.sales_mode for m in registry.sellable() if m.slug in enabled}
    return next((CATALOGUES[mode] for mode in CATALOGUE_ORDER if mode in modes), PRODUCTS)


SEED_TAG = "演示"


def _pick(rng: random.Random, seq: list[Any]) -> Any:
    return seq[rng.randrange(len(seq))]


def seed(tenant: Any) -> None:
    """Add demo data to `tenant` once (a second run finds the demo tag and does nothing)."""
    with schema_context(tenant.schema_name):
        if Customer.objects.filter(tags__contains=[SEED_TAG]).exists():
            return
        _seed(random.Random(tenant.schema_name), catalogue_for(tenant))


@transaction.atomic
def _seed(rng: random.Random, catalogue: Catalogue) -> None:
    now = timezone.now()
    reps = list(User.objects.filter(is_active=True, role__in=[Role.SALES, Role.MANAGER]).order_by("id"))
    if not reps:
        reps = list(User.objects.filter(is_active=True).order_by("id")[:1])
    if not reps:
        return
    for code, name, spec, unit, price, cost, category in catalogue:
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
