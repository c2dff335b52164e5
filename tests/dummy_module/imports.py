"""The dummy module's import kind, declared in its manifest's import_kinds (no registration code)."""

from __future__ import annotations

from typing import Any

from crm.modules.core.public import Customer, ImportKind, RowError

from .models import DummyNote


def _prepare(actor: Any) -> dict[str, int]:
    return dict(Customer.objects.values_list("name", "id"))


def _clean(rec: dict[str, str], key: str, customers: dict[str, int]) -> dict[str, Any]:
    name, text = rec.get("customer", "").strip(), rec.get("text", "").strip()
    if name not in customers:
        raise ValueError(("customer", "unknown customer"))
    return {"customer_id": customers[name], "text": text, "_key": f"{name}/{text}"}


def _write(
    job: Any, actor: Any, records: list[tuple[int, dict[str, Any]]]
) -> tuple[int, int, list[RowError]]:
    notes = [DummyNote(customer_id=v["customer_id"], owner=actor, text=v["text"]) for _row, v in records]
    DummyNote.objects.bulk_create(notes)
    return len(notes), 0, []


NOTES = ImportKind(
    name="dummy_notes",
    label="Dummy notes",
    module="dummy",
    perm="dummy.view_notes",
    fields=(("customer", "Customer", ("customer", "客户")), ("text", "Text", ("text", "内容"))),
    keys=(("customer_text", "Customer + text"),),
    prepare=_prepare,
    clean_row=_clean,
    write=_write,
)
