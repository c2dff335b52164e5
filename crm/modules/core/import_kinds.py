"""The plug-in point of the spreadsheet import: what can be imported, by whom, and how.

A module declares its kinds in its manifest, `import_kinds=("crm.modules.<slug>.imports.KIND",)` (dotted
paths of ImportKind objects; the core's own are customers, contacts, products). The registry loads them,
in module registry order, when it is first read (the first request or task that looks a kind up) and is
closed from then on, like the module registry: every process sees the same kinds.

A kind is offered to a user only while its module is enabled for the tenant and the user holds its
permission; the upload, the confirmation and the background run each check again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.db import connection
from django.utils.module_loading import import_string
from django.utils.translation import gettext_lazy as _

from crm.platform.errors import ServiceError
from crm.platform.permissions import check_perm, has_perm
from crm.platform.registry import ModuleRegistry, RegistryClosed, Text, registry

if TYPE_CHECKING:
    from crm.tenants.accounts.models import User

    from .models import ImportJob


@dataclass
class RowError:
    """One problem with one row; `row` is the 1-based spreadsheet row (the header is row 1), 0 for the
    whole job (e.g. the module was switched off before the run)."""

    row: int
    field: str
    message: str


Records = list[tuple[int, dict[str, Any]]]


@dataclass
class Choice:
    """A column whose cells must be one of known values (a customer's source, a member's tier).
    `accepted`: every spelling the kind understands, lower-cased; `options`: (value, label) the importer may
    map an unknown spelling to (the value is a spelling the kind accepts)."""

    accepted: frozenset[str]
    options: list[tuple[str, str]]


# clean_row puts [(field, message)] under "_warnings" in its result when it dropped a bad value (an invalid
# phone or email) but kept the row: the importer sees them as warnings, not as skipped rows.
WARNINGS = "_warnings"
# (field, label, header synonyms as found in Chinese and English spreadsheets)
Field = tuple[str, Any, tuple[str, ...]]


@dataclass(frozen=True)
class ImportKind:
    """One thing that can be imported.

    clean_row(rec, key, context) turns one row (field -> cell text) into clean values plus "_key" (the
    value that finds an existing record, also used to spot repeated rows), or raises
    ValueError((field, message)). It must not query the database: `prepare(actor)` builds the `context`
    once per run (lookup tables). `resolve(actor, key, records)` may check the clean rows against the
    database before anything is written (returns row errors). `write(job, actor, records)` runs inside the
    import's transaction and returns (created, updated, row errors); any error rolls everything back."""

    name: str  # stored on ImportJob.kind (max 20 characters)
    label: Text  # shown in "What to import"
    module: str  # module slug that must be enabled for the tenant
    perm: str  # permission the importer must hold
    fields: tuple[Field, ...]
    keys: tuple[tuple[str, Text], ...]  # how existing records are found; the first is the default
    clean_row: Callable[[dict[str, str], str, Any], dict[str, Any]]
    write: Callable[[ImportJob, User, Records], tuple[int, int, list[RowError]]]
    # Fields that must be mapped to a column, with the message when one is not.
    required: tuple[tuple[str, Text], ...] = ()
    # prepare(actor) -> context: lookup tables built once per run, for the importing user (e.g. whom they
    # may give records to).
    prepare: Callable[[User], Any] | None = None
    resolve: Callable[[User, str, Records], list[RowError]] | None = None
    key_label: Text = ""  # label of the key choice (shown when there are several keys)
    note: Text = ""  # one sentence on the mapping page (e.g. how existing records are found)
    # choices(context) -> field -> Choice: cells not accepted are listed on the preview for the user to map.
    choices: Callable[[Any], dict[str, Choice]] | None = None
    # merge(earlier, later) -> merged clean record, for rows of the file with the same key (default: the later
    # row's non-empty values win).
    merge: Callable[[dict[str, Any], dict[str, Any]], dict[str, Any]] | None = None
    # existing(actor, key, records) -> how many records would update an existing one, and how many new ones
    # look like an existing record (shown on the preview; read-only).
    existing: Callable[[User, str, Records], tuple[int, int]] | None = None
    # (field, example value) for the downloadable template (headers: the first Chinese header word).
    example: tuple[tuple[str, str], ...] = ()

    def field_names(self) -> set[str]:
        return {f for f, _label, _words in self.fields}


class ImportKindRegistry:
    def __init__(self, modules: ModuleRegistry | None = None) -> None:
        self._kinds: dict[str, ImportKind] = {}
        self._closed = False
        self._modules = modules

    def _load(self) -> None:
        """First read: register every manifest's declared kinds, then close."""
        if self._closed:
            return
        for manifest in (self._modules or registry).all():
            for path in manifest.import_kinds:
                kind = import_string(path)
                if not isinstance(kind, ImportKind):
                    raise TypeError(f"{manifest.slug}: import kind {path!r} is not an ImportKind")
                self.register(kind)
        self._closed = True

    def register(self, kind: ImportKind) -> None:
        if self._closed:
            raise RegistryClosed(f"import kinds are closed; cannot register {kind.name!r}")
        if kind.name in self._kinds and self._kinds[kind.name] is not kind:
            raise ValueError(f"duplicate import kind {kind.name!r}")
        if len(kind.name) > 20 or not kind.keys:
            raise ValueError(f"import kind {kind.name!r}: name longer than 20 characters or no key")
        self._kinds[kind.name] = kind

    def close(self) -> None:
        self._closed = True

    @property
    def closed(self) -> bool:
        return self._closed

    def all(self) -> list[ImportKind]:
        self._load()  # first read: start-up is over
        return list(self._kinds.values())

    def get(self, name: str) -> ImportKind | None:
        self._load()
        return self._kinds.get(name)


import_kinds = ImportKindRegistry()


def enabled_here(module: str) -> bool:
    """Whether `module` is enabled for the tenant whose schema the connection is on."""
    if module in registry.always_on():
        return True
    from crm.tenants.models import Tenant
    from crm.tenants.selectors import enabled_modules

    tenant = Tenant.objects.filter(schema_name=connection.schema_name).first()  # type: ignore[attr-defined]
    return tenant is not None and module in enabled_modules(tenant)


def kinds_offered(user: User) -> list[ImportKind]:
    """The kinds `user` may import here and now, in registration order."""
    enabled: dict[str, bool] = {}
    out = []
    for kind in import_kinds.all():
        if not has_perm(user, kind.perm):
            continue
        if kind.module not in enabled:
            enabled[kind.module] = enabled_here(kind.module)
        if enabled[kind.module]:
            out.append(kind)
    return out


def kind_check(user: User, name: str) -> ImportKind:
    """The kind called `name` if `user` may import it now; else the refusal (unknown or switched-off kind:
    ServiceError on "kind"; missing permission: PermissionDenied)."""
    kind = import_kinds.get(name)
    if kind is None:
        raise ServiceError(_("Choose what to import."), field="kind")
    check_perm(user, kind.perm)
    if not enabled_here(kind.module):
        raise ServiceError(_("This import is not available: its module is switched off."), field="kind")
    return kind
