"""Module registry: manifest validation (the system check), dependency expansion, closing after start-up.

Registries with broken manifests are built here; the global registry is never changed."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core import checks

from crm.platform import checks as platform_checks
from crm.platform.registry import MenuEntry, ModuleManifest, ModuleRegistry, RegistryClosed, registry


def manifest(slug: str, **kw: object) -> ModuleManifest:
    defaults: dict[str, object] = {
        "name": slug.title(),
        "summary": "",
        "kind": "sales_mode",
        "app_label": slug,
        "sales_mode": slug,
        "monthly_price": Decimal("99"),
    }
    return ModuleManifest(slug=slug, **{**defaults, **kw})  # type: ignore[arg-type]


def build(*manifests: ModuleManifest) -> ModuleRegistry:
    built = ModuleRegistry()
    built.register(manifest("core", kind="core", sales_mode="", monthly_price=Decimal("0")))
    for m in manifests:
        built.register(m)
    return built


def test_the_real_registry_is_valid_and_the_check_is_registered():
    assert registry.validate() == []
    assert platform_checks.check_manifests in checks.registry.registry.get_checks()
    assert [e for e in checks.run_checks() if e.id == "crm.E001"] == []


def test_a_valid_registry_has_no_problems():
    assert (
        build(manifest("a", depends=("b",)), manifest("b", kind="capability", sales_mode="")).validate() == []
    )


@pytest.mark.parametrize(
    "manifests, expected",
    [
        ((manifest("a", depends=("b",)), manifest("b", depends=("a",))), "dependency cycle"),
        ((manifest("a", depends=("a",)),), "dependency cycle"),
        ((manifest("a", depends=("ghost",)),), "unknown module 'ghost'"),
        ((manifest("a", monthly_price=Decimal("0")),), "needs a monthly price"),
        ((manifest("a", sales_mode=""),), "needs a sales_mode"),
        ((manifest("a", menu=(MenuEntry(label="A", url_name="index"),)),), "not in namespace 'a'"),
        ((manifest("a", menu=(MenuEntry(label="A", url_name="b:index"),)),), "not in namespace 'a'"),
    ],
    ids=[
        "cycle",
        "self-cycle",
        "unknown-dependency",
        "missing-price",
        "missing-sales-mode",
        "unnamespaced-menu",
        "foreign-namespace-menu",
    ],
)
def test_validation_catches(manifests, expected, monkeypatch):
    built = build(*manifests)
    problems = built.validate()
    assert any(expected in p for p in problems), problems

    # The system check reports the same problems as errors (pointed at a built registry, not the real one).
    monkeypatch.setattr(platform_checks, "registry", built)
    errors = platform_checks.check_manifests()
    assert errors and all(isinstance(e, checks.Error) and e.id == "crm.E001" for e in errors)
    assert any(expected in e.msg for e in errors)


def test_duplicate_slug_is_refused():
    built = build(manifest("a"))
    with pytest.raises(ValueError, match="duplicate"):
        built.register(manifest("a"))


def test_registry_closes_after_start_up():
    assert registry.closed
    with pytest.raises(RegistryClosed):
        registry.register(manifest("latecomer"))
    assert "latecomer" not in registry


def test_expand_adds_dependencies_transitively_and_core():
    built = build(
        manifest("a", depends=("b",)),
        manifest("b", kind="capability", sales_mode="", depends=("c",)),
        manifest("c", kind="capability", sales_mode=""),
        manifest("d"),
    )
    assert built.expand(["a"]) == {"core", "a", "b", "c"}
    assert built.expand([]) == {"core"}
    assert built.expand(["unknown"]) == {"core"}
    assert built.dependents("c", {"a", "b", "c", "d"}) == ["a", "b"]
    assert built.dependents("d", {"a", "b", "c", "d"}) == []


def test_namespaces_map_to_modules():
    assert registry.module_for_namespace("dummy") == "dummy"
    assert registry.module_for_namespace("api-dummy") == "dummy"
    assert registry.module_for_namespace("console") is None
    assert registry.module_for_namespace("api-nothing") is None


def test_name_of_a_module_and_of_a_removed_one():
    from django.utils import translation

    with translation.override("en"):
        assert registry.name_of("retail") == str(registry.get("retail").name)
    with translation.override("zh-hans"):
        assert registry.name_of("retail") == str(registry.get("retail").name) != "retail"
    # History rows can name a module that is no longer registered.
    assert registry.name_of("gone") == "gone"
    assert registry.name_of("gone", default="旧模块") == "旧模块"
