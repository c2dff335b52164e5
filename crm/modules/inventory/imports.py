"""Opening stock as a kind of the core's spreadsheet import: warehouse code, product (code or name),
quantity, unit cost (tax-exclusive), optionally a unit with a conversion.

Idempotent: a (warehouse, product) that already has opening stock is skipped, so importing the same file
twice adds nothing the second time (later corrections are stock counts). The rows of each warehouse are
posted as one opening-stock document (one number, one posting) inside the import's transaction."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal, InvalidOperation
from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from crm.modules.core.public import ImportJob, ImportKind, Product, RowError, import_progress_set
from crm.platform.errors import ServiceError
from crm.tenants.accounts.models import User

from . import services
from .models import StockMove, Warehouse

FIELDS = (
    ("warehouse", gettext_lazy("Warehouse code"), ("warehouse", "仓库", "仓库编码", "仓库代码", "仓库编号")),
    (
        "product",
        gettext_lazy("Product (code or name)"),
        ("product", "商品", "产品", "商品编码", "产品编码", "物料编码", "商品名称", "产品名称", "品名"),
    ),
    ("quantity", gettext_lazy("Quantity"), ("quantity", "数量", "库存数量", "期初数量", "结存数量")),
    (
        "unit_cost",
        gettext_lazy("Unit cost (excl. VAT)"),
        ("unit_cost", "unit cost", "单价", "成本", "单位成本", "成本价"),
    ),
    ("unit", gettext_lazy("Unit"), ("unit", "单位")),
)


def _prepare(actor: Any) -> dict[str, Any]:
    warehouses = {
        code.upper(): pk for pk, code in Warehouse.objects.filter(is_active=True).values_list("pk", "code")
    }
    by_code: dict[str, int] = {}
    by_name: dict[str, list[int]] = defaultdict(list)
    for pk, code, name in Product.objects.filter(is_active=True).values_list("pk", "code", "name"):
        if code:
            by_code[code] = pk
        by_name[name].append(pk)
    return {"warehouses": warehouses, "by_code": by_code, "by_name": dict(by_name)}


def _decimal(raw: str, field: str, message: str) -> Decimal:
    """A number as typed in a sheet ("1,200", "8.5", "¥8.50"), up to 4 decimals (quantities and costs)."""
    text = raw.replace(",", "").replace("¥", "").replace("￥", "").replace("元", "").strip()
    try:
        value = Decimal(text)
    except (InvalidOperation, ValueError):
        raise ValueError((field, message)) from None
    if not value.is_finite() or value != value.quantize(services.COST_PLACES):
        raise ValueError((field, message))
    return value


def _clean(rec: dict[str, str], key: str, ctx: dict[str, Any]) -> dict[str, Any]:
    code = rec.get("warehouse", "").strip().upper()
    wh = ctx["warehouses"].get(code)
    if wh is None:
        raise ValueError(("warehouse", _("Unknown warehouse “%(v)s”.") % {"v": code[:30]}))
    raw = rec.get("product", "").strip()
    pid = ctx["by_code"].get(raw)
    if pid is None:
        named = ctx["by_name"].get(raw, [])
        if len(named) > 1:
            raise ValueError(
                ("product", _("Several products are named “%(v)s”: use the code.") % {"v": raw[:60]})
            )
        pid = named[0] if named else None
    if pid is None:
        raise ValueError(("product", _("Unknown product “%(v)s”.") % {"v": raw[:60]}))
    qty = _decimal(rec.get("quantity", "").strip(), "quantity", _("Enter a positive quantity."))
    if qty <= 0 or qty > services.MAX_QTY:
        raise ValueError(("quantity", _("Enter a positive quantity.")))
    unit_cost = _decimal(rec.get("unit_cost", "").strip() or "0", "unit_cost", _("Enter the unit cost."))
    if unit_cost < 0:
        raise ValueError(("unit_cost", _("The unit cost must not be negative.")))
    return {
        "warehouse_id": wh,
        "product_id": pid,
        "quantity": qty,
        "unit_cost": unit_cost,
        "unit": rec.get("unit", "").strip()[:20],
        "_key": f"{wh}:{pid}",
    }


def _write(
    job: ImportJob, actor: User, records: list[tuple[int, dict[str, Any]]]
) -> tuple[int, int, list[RowError]]:
    pairs = {(rec["product_id"], rec["warehouse_id"]) for _line, rec in records}
    done = set(
        StockMove.objects.filter(
            kind=StockMove.Kind.OPENING,
            product_id__in={p for p, _w in pairs},
            warehouse_id__in={w for _p, w in pairs},
        ).values_list("product_id", "warehouse_id")
    )
    per_warehouse: dict[int, list[services.LineInput]] = defaultdict(list)
    lines_of: dict[int, list[int]] = defaultdict(list)
    for line, rec in records:
        if (rec["product_id"], rec["warehouse_id"]) in done:
            continue  # opening stock already there: the same file imported again adds nothing
        per_warehouse[rec["warehouse_id"]].append(
            services.LineInput(
                product_id=rec["product_id"],
                quantity=rec["quantity"],
                unit=rec["unit"],
                unit_cost=rec["unit_cost"],
            )
        )
        lines_of[rec["warehouse_id"]].append(line)
    created, total = 0, len(records)
    warehouses = Warehouse.objects.in_bulk(list(per_warehouse))
    for wid, lines in per_warehouse.items():
        try:
            services.opening_create(
                actor=actor,
                warehouse=warehouses[wid],
                lines=lines,
                reason=_("Imported"),
                idempotency_key=f"import:{job.pk}:{wid}",
            )
        except ServiceError as exc:
            return 0, 0, [RowError(lines_of[wid][0], exc.field or "product", str(exc.message))]
        created += len(lines)
        import_progress_set(job, created, total)
    return created, 0, []


OPENING_STOCK = ImportKind(
    name="opening_stock",
    label=gettext_lazy("Opening stock (per warehouse, with cost)"),
    module="inventory",
    perm="inventory.manage",
    fields=FIELDS,
    keys=(("product", gettext_lazy("Warehouse and product")),),
    required=(
        ("warehouse", gettext_lazy("Map a column to the warehouse code.")),
        ("product", gettext_lazy("Map a column to the product.")),
        ("quantity", gettext_lazy("Map a column to the quantity.")),
    ),
    prepare=_prepare,
    clean_row=_clean,
    write=_write,
    example=(
        ("warehouse", "WH01"),
        ("product", "P0001"),
        ("quantity", "120"),
        ("unit_cost", "8.50"),
        ("unit", "件"),
    ),
    note=gettext_lazy(
        "Products are found by code, else by name. A warehouse and product that already have opening stock "
        "are skipped, so the same file imported twice adds nothing; correct stock later with a stock count."
    ),
)
