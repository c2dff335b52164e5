"""Suppliers and supplier prices as kinds of the core's shared spreadsheet import (upload → mapping preview →
background run; the downloadable template's Chinese headers come from the fields below).

Suppliers: found by code (upper-cased) and updated, else created; empty cells leave an existing supplier's
value as it is; a contact name not yet at the supplier is added. Tax status and invoice type accept the
usual Chinese words (一般纳税人, 小规模, 专票, 普票3%, 不开票 ...); another spelling is offered on the preview
for mapping.

Supplier prices: supplier and product by code, else by exact name; a price of the same supplier, product
and date is updated instead of added again, so importing the same file twice adds no history rows. An
empty VAT rate is the rate of the supplier's invoice, an empty date today (the workspace's time zone)."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal, InvalidOperation
from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from crm.kernel.tenant_time import tenant_today
from crm.kernel.vat import validate_rate
from crm.modules.core.public import ImportChoice, ImportJob, ImportKind, Product, RowError, parse_date
from crm.platform.errors import ServiceError
from crm.tenants.accounts.models import User

from . import services
from .models import INVOICE_RATES, Supplier, SupplierContact

Records = list[tuple[int, dict[str, Any]]]

# Spellings (lower-cased, spaces removed) -> code.
TAX_WORDS: dict[str, str] = {
    "general": "general",
    "一般纳税人": "general",
    "一般": "general",
    "一般纳税": "general",
    "small_scale": "small_scale",
    "smallscale": "small_scale",
    "小规模纳税人": "small_scale",
    "小规模": "small_scale",
}
INVOICE_WORDS: dict[str, str] = {
    "special_13": "special_13",
    "专票": "special_13",
    "增值税专用发票": "special_13",
    "专用发票": "special_13",
    "增值税专票": "special_13",
    "13%专票": "special_13",
    "专票13%": "special_13",
    "13%": "special_13",
    "general_3": "general_3",
    "普票3%": "general_3",
    "3%普票": "general_3",
    "普通发票3%": "general_3",
    "3%": "general_3",
    "general_1": "general_1",
    "普票1%": "general_1",
    "1%普票": "general_1",
    "普通发票1%": "general_1",
    "1%": "general_1",
    "none": "none",
    "无": "none",
    "无发票": "none",
    "不开票": "none",
    "不开发票": "none",
}


def _word(raw: str) -> str:
    return "".join(raw.split()).lower().replace("％", "%")


SUPPLIER_FIELDS = (
    ("code", gettext_lazy("Code"), ("code", "供应商编码", "编码", "供应商代码", "供应商编号", "编号")),
    ("name", gettext_lazy("Name"), ("name", "供应商名称", "供应商", "名称", "单位名称", "公司名称")),
    (
        "tax_status",
        gettext_lazy("Tax status"),
        ("tax status", "tax_status", "纳税人类型", "纳税人性质", "纳税类型", "纳税人资格"),
    ),
    (
        "invoice_type",
        gettext_lazy("Invoice type"),
        ("invoice", "invoice_type", "发票类型", "开票类型", "发票", "票种"),
    ),
    (
        "payment_days",
        gettext_lazy("Payment terms (days)"),
        ("payment days", "payment_days", "账期", "账期天数", "付款天数", "结算天数", "账期(天)"),
    ),
    ("bank_name", gettext_lazy("Bank"), ("bank", "bank_name", "开户银行", "开户行", "银行")),
    (
        "bank_account",
        gettext_lazy("Bank account"),
        ("account", "bank_account", "银行账号", "账号", "银行账户"),
    ),
    ("address", gettext_lazy("Address"), ("address", "地址", "公司地址", "联系地址")),
    ("phone", gettext_lazy("Phone"), ("phone", "电话", "公司电话", "座机")),
    ("contact", gettext_lazy("Contact"), ("contact", "联系人", "联系人姓名")),
    (
        "contact_phone",
        gettext_lazy("Contact's phone"),
        ("contact phone", "联系人电话", "联系人手机", "手机", "手机号"),
    ),
    ("notes", gettext_lazy("Notes"), ("notes", "备注", "说明")),
)


def _supplier_choices(words: dict[str, dict[str, str]]) -> dict[str, ImportChoice]:
    """Tax status and invoice type: the spellings understood; others are offered on the preview to map."""
    models_choices = {"tax_status": Supplier.TaxStatus, "invoice_type": Supplier.InvoiceType}
    return {
        fld: ImportChoice(
            accepted=frozenset(words[fld]) | {str(label).lower() for _v, label in model.choices},
            options=[(str(v), str(label)) for v, label in model.choices],
        )
        for fld, model in models_choices.items()
    }


def _prepare_suppliers(actor: Any) -> dict[str, dict[str, str]]:
    """The spellings of tax status and invoice type, labels in the active language included (once a run)."""
    tax = dict(TAX_WORDS)
    tax.update({_word(str(label)): str(v) for v, label in Supplier.TaxStatus.choices})
    invoice = dict(INVOICE_WORDS)
    invoice.update({_word(str(label)): str(v) for v, label in Supplier.InvoiceType.choices})
    return {"tax_status": tax, "invoice_type": invoice}


def _clean_supplier(rec: dict[str, str], key: str, words: dict[str, dict[str, str]]) -> dict[str, Any]:
    code = "".join((rec.get("code") or "").split()).upper()
    if not code or len(code) > 30:
        raise ValueError(("code", _("Enter a code (at most 30 characters).")))
    name = " ".join((rec.get("name") or "").split())
    if not name:
        raise ValueError(("name", _("The name is empty.")))
    out: dict[str, Any] = {"code": code, "name": name[:200], "_key": code}
    for fld in ("tax_status", "invoice_type"):
        raw = (rec.get(fld) or "").strip()
        if raw:
            value = words[fld].get(_word(raw))
            if value is None:
                raise ValueError((fld, _("Unknown value “%(v)s”.") % {"v": raw[:40]}))
            out[fld] = value
    raw = (rec.get("payment_days") or "").strip().rstrip("天").strip()
    if raw:
        try:
            days = Decimal(raw.replace(",", ""))
        except InvalidOperation:
            days = Decimal("-1")
        if not days.is_finite() or days != days.to_integral_value() or not 0 <= days <= 365:
            raise ValueError(("payment_days", _("Payment terms are between 0 and 365 days.")))
        out["payment_days"] = int(days)
    for fld, size in (("bank_name", 100), ("bank_account", 50), ("address", 200), ("phone", 30)):
        value = " ".join((rec.get(fld) or "").split())
        if value:
            out[fld] = value[:size]
    notes = (rec.get("notes") or "").strip()
    if notes:
        out["notes"] = notes
    contact = " ".join((rec.get("contact") or "").split())
    if contact:
        out["_contact"] = (contact[:100], " ".join((rec.get("contact_phone") or "").split())[:30])
    return out


def _existing_suppliers(actor: User, key: str, records: Records) -> tuple[int, int]:
    codes = {rec["_key"] for _line, rec in records}
    found = set(Supplier.objects.filter(code__in=codes).values_list("code", flat=True))
    return sum(1 for _line, rec in records if rec["_key"] in found), 0


def _write_suppliers(job: ImportJob, actor: User, records: Records) -> tuple[int, int, list[RowError]]:
    existing = Supplier.objects.in_bulk([rec["_key"] for _line, rec in records], field_name="code")
    contacts: set[tuple[int, str]] = set(
        SupplierContact.objects.filter(supplier__in=list(existing.values())).values_list(
            "supplier_id", "name"
        )
    )
    created, updated, errors = 0, 0, []
    for line, rec in records:
        fields = {k: v for k, v in rec.items() if not k.startswith("_")}
        supplier = existing.get(rec["_key"])
        try:
            if supplier is None:
                if fields.get("tax_status") == "small_scale" and "invoice_type" not in fields:
                    fields["invoice_type"] = (
                        Supplier.InvoiceType.GENERAL_3
                    )  # what a small-scale taxpayer gives
                supplier = services.supplier_create(actor=actor, **fields)
                existing[supplier.code] = supplier
                created += 1
            else:
                supplier = services.supplier_update(actor=actor, supplier=supplier, **fields)
                updated += 1
        except ServiceError as exc:
            errors.append(RowError(line, exc.field or "code", str(exc.message)))
            continue
        if "_contact" in rec and (supplier.pk, rec["_contact"][0]) not in contacts:
            name, phone = rec["_contact"]
            services.supplier_contact_add(actor=actor, supplier=supplier, name=name, phone=phone)
            contacts.add((supplier.pk, name))
    return created, updated, errors


SUPPLIERS = ImportKind(
    name="suppliers",
    label=gettext_lazy("Suppliers (with a contact)"),
    module="purchasing",
    perm="purchasing.manage",
    fields=SUPPLIER_FIELDS,
    keys=(("code", gettext_lazy("Supplier code")),),
    required=(
        ("code", gettext_lazy("Map a column to the supplier code.")),
        ("name", gettext_lazy("Map a column to the name.")),
    ),
    prepare=_prepare_suppliers,
    clean_row=_clean_supplier,
    write=_write_suppliers,
    choices=_supplier_choices,
    existing=_existing_suppliers,
    example=(
        ("code", "GYS001"),
        ("name", "佛山市南海恒达五金制品有限公司"),
        ("tax_status", "一般纳税人"),
        ("invoice_type", "专票"),
        ("payment_days", "60"),
        ("bank_name", "中国工商银行佛山南海支行"),
        ("bank_account", "2013 0156 0910 0123 456"),
        ("address", "广东省佛山市南海区狮山镇科技大道 8 号"),
        ("phone", "0757-86661234"),
        ("contact", "陈国强"),
        ("contact_phone", "13802561234"),
        ("notes", "月结，每月 25 日对账"),
    ),
    note=gettext_lazy(
        "Suppliers are found by code and updated, the others are created; empty cells leave a supplier's "
        "value as it is. A small-scale taxpayer without an invoice column gives general invoices (3%)."
    ),
)


# --- supplier prices -------------------------------------------------------------------------------------

PRICE_FIELDS = (
    (
        "supplier",
        gettext_lazy("Supplier (code or name)"),
        ("supplier", "供应商", "供应商编码", "供应商名称", "供应商代码"),
    ),
    (
        "product",
        gettext_lazy("Product (code or name)"),
        ("product", "商品", "产品", "商品编码", "产品编码", "物料编码", "商品名称", "产品名称", "品名"),
    ),
    (
        "unit_price_incl",
        gettext_lazy("Unit price (tax incl.)"),
        ("price", "unit price", "含税单价", "单价", "采购价", "进价", "价格", "含税价"),
    ),
    ("vat_rate", gettext_lazy("VAT rate"), ("vat", "vat rate", "税率", "增值税税率", "税点")),
    (
        "valid_from",
        gettext_lazy("Valid from"),
        ("valid from", "date", "生效日期", "报价日期", "价格日期", "日期", "起始日期"),
    ),
    ("source", gettext_lazy("Source"), ("source", "来源", "单据号", "报价单号", "备注")),
)


def _prepare_prices(actor: Any) -> dict[str, Any]:
    by_code: dict[str, int] = {}
    by_name: dict[str, list[int]] = defaultdict(list)
    rates: dict[int, Decimal] = {}
    for pk, code, name, invoice in Supplier.objects.values_list("pk", "code", "name", "invoice_type"):
        by_code[code.upper()] = pk
        by_name[name].append(pk)
        rates[pk] = INVOICE_RATES[invoice]
    products: dict[str, int] = {}
    product_names: dict[str, list[int]] = defaultdict(list)
    for pk, code, name in Product.objects.filter(is_active=True).values_list("pk", "code", "name"):
        if code:
            products[code] = pk
        product_names[name].append(pk)
    return {
        "suppliers": by_code,
        "supplier_names": dict(by_name),
        "rates": rates,
        "products": products,
        "product_names": dict(product_names),
        "today": tenant_today(),
    }


def _find(raw: str, by_code: dict[str, int], by_name: dict[str, list[int]], field: str) -> int:
    pk = by_code.get(raw) or by_code.get(raw.upper())
    if pk is not None:
        return pk
    named = by_name.get(raw, [])
    if len(named) > 1:
        raise ValueError((field, _("Several are named “%(v)s”: use the code.") % {"v": raw[:60]}))
    if not named:
        raise ValueError((field, _("Unknown “%(v)s”.") % {"v": raw[:60]}))
    return named[0]


def _rate_of(raw: str) -> Decimal:
    """13%, 13, 0.13 -> 0.13 (one of the VAT rates the kernel knows)."""
    try:
        return validate_rate(raw.replace("％", "%"))
    except ServiceError as exc:
        raise ValueError(("vat_rate", str(exc.message))) from None


def _clean_price(rec: dict[str, str], key: str, ctx: dict[str, Any]) -> dict[str, Any]:
    raw = " ".join((rec.get("supplier") or "").split())
    if not raw:
        raise ValueError(("supplier", _("The supplier is empty.")))
    supplier_id = _find(raw, ctx["suppliers"], ctx["supplier_names"], "supplier")
    raw = (rec.get("product") or "").strip()
    if not raw:
        raise ValueError(("product", _("The product is empty.")))
    product_id = _find(raw, ctx["products"], ctx["product_names"], "product")
    text = (rec.get("unit_price_incl") or "").replace(",", "").replace("¥", "").replace("￥", "")
    text = text.replace("元", "").strip()
    try:
        price = Decimal(text)
    except InvalidOperation:
        raise ValueError(("unit_price_incl", _("Enter a price that is not negative."))) from None
    if (
        not price.is_finite()
        or price < 0
        or price > services.MAX_PRICE
        or price != price.quantize(Decimal("0.0001"))
    ):
        raise ValueError(("unit_price_incl", _("Enter a price that is not negative.")))
    raw = (rec.get("vat_rate") or "").strip()
    rate = _rate_of(raw) if raw else ctx["rates"][supplier_id]
    raw = (rec.get("valid_from") or "").strip()
    day = parse_date(raw) if raw else ctx["today"]
    if day is None:
        raise ValueError(("valid_from", _("Valid from must be a date (YYYY-MM-DD).")))
    return {
        "supplier_id": supplier_id,
        "product_id": product_id,
        "unit_price_incl": price,
        "vat_rate": rate,
        "valid_from": day,
        "source": (rec.get("source") or "").strip()[:100],
        "_key": f"{supplier_id}:{product_id}:{day.isoformat()}",
    }


def _existing_prices(actor: User, key: str, records: Records) -> tuple[int, int]:
    found = services.supplier_prices_existing([rec for _line, rec in records])
    return sum(1 for _line, rec in records if rec["_key"] in found), 0


def _write_prices(job: ImportJob, actor: User, records: Records) -> tuple[int, int, list[RowError]]:
    created, updated = services.supplier_prices_import(actor=actor, rows=[rec for _line, rec in records])
    return created, updated, []


SUPPLIER_PRICES = ImportKind(
    name="supplier_prices",
    label=gettext_lazy("Supplier prices (price history)"),
    module="purchasing",
    perm="purchasing.manage",
    fields=PRICE_FIELDS,
    keys=(("supplier_day", gettext_lazy("Supplier, product and date")),),
    required=(
        ("supplier", gettext_lazy("Map a column to the supplier.")),
        ("product", gettext_lazy("Map a column to the product.")),
        ("unit_price_incl", gettext_lazy("Map a column to the price (tax incl.).")),
    ),
    prepare=_prepare_prices,
    clean_row=_clean_price,
    write=_write_prices,
    existing=_existing_prices,
    example=(
        ("supplier", "GYS001"),
        ("product", "P0001"),
        ("unit_price_incl", "12.80"),
        ("vat_rate", "13%"),
        ("valid_from", "2027-03-01"),
        ("source", "报价单 BJ-2703"),
    ),
    note=gettext_lazy(
        "Suppliers and products are found by code, else by exact name. A price of the same supplier, "
        "product and date is updated, not added again; an empty VAT rate is the rate of the supplier's "
        "invoice, an empty date today."
    ),
)
