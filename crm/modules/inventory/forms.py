"""Inventory forms: input parsing only; rules live in the services."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms
from django.forms import formset_factory
from django.utils.translation import gettext_lazy as _

from .models import Warehouse


class WarehouseForm(forms.ModelForm):
    class Meta:
        model = Warehouse
        fields = ["code", "name", "address", "kind", "is_active", "allows_negative"]


class SettingsForm(forms.Form):
    allow_negative = forms.BooleanField(label=_("Allow negative stock in every warehouse"), required=False)
    default_warehouse = forms.ModelChoiceField(
        label=_("Orders reserve and ship from"),
        queryset=Warehouse.objects.filter(is_active=True, kind=Warehouse.Kind.STOCK),
        required=False,
        empty_label=_("The first warehouse by code"),
    )


class FilterForm(forms.Form):
    q = forms.CharField(label=_("Product"), max_length=100, required=False)
    warehouse = forms.ModelChoiceField(label=_("Warehouse"), queryset=Warehouse.objects.all(), required=False)
    low = forms.BooleanField(label=_("Low stock only"), required=False)


class AsOfForm(forms.Form):
    day = forms.DateField(label=_("Stock as of"), widget=forms.DateInput(attrs={"type": "date"}))
    warehouse = forms.ModelChoiceField(label=_("Warehouse"), queryset=Warehouse.objects.all(), required=False)


class LineForm(forms.Form):
    product = forms.TypedChoiceField(label=_("Product"), coerce=int, required=False, empty_value=None)
    quantity = forms.DecimalField(
        label=_("Quantity"), min_value=Decimal("0"), required=False, max_digits=18, decimal_places=4
    )
    unit = forms.CharField(label=_("Unit"), max_length=20, required=False)
    unit_cost = forms.DecimalField(
        label=_("Unit cost (excl. VAT)"),
        min_value=Decimal("0"),
        required=False,
        max_digits=18,
        decimal_places=4,
    )

    def __init__(self, *args: Any, products: list[tuple[Any, str]] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["product"].choices = [("", "-"), *(products or [])]  # type: ignore[attr-defined]
        self.fields["quantity"].widget.attrs.update({"inputmode": "decimal"})


LineFormSet = formset_factory(LineForm, extra=5, max_num=50)


class TransferForm(forms.Form):
    from_warehouse = forms.ModelChoiceField(
        label=_("From"), queryset=Warehouse.objects.filter(is_active=True)
    )
    to_warehouse = forms.ModelChoiceField(label=_("To"), queryset=Warehouse.objects.filter(is_active=True))
    reason = forms.CharField(label=_("Reason"), max_length=200, required=False)
    key = forms.CharField(widget=forms.HiddenInput, required=False)


class CountForm(forms.Form):
    warehouse = forms.ModelChoiceField(
        label=_("Warehouse"), queryset=Warehouse.objects.filter(is_active=True)
    )
    reason = forms.CharField(label=_("Reason"), max_length=200)
    key = forms.CharField(widget=forms.HiddenInput, required=False)


class StockProductForm(forms.Form):
    tracked = forms.BooleanField(label=_("Stock-tracked"), required=False, initial=True)
    base_unit = forms.CharField(label=_("Base unit"), max_length=20, required=False)
    min_stock = forms.DecimalField(
        label=_("Minimum stock"), min_value=Decimal("0"), initial=0, max_digits=18, decimal_places=4
    )
    reorder_qty = forms.DecimalField(
        label=_("Reorder quantity"), min_value=Decimal("0"), initial=0, max_digits=18, decimal_places=4
    )


class ConversionForm(forms.Form):
    unit = forms.CharField(label=_("Unit"), max_length=20)
    factor = forms.DecimalField(
        label=_("Base units per unit"), min_value=Decimal("0.0001"), max_digits=18, decimal_places=4
    )


class OpeningForm(forms.Form):
    warehouse = forms.ModelChoiceField(
        label=_("Warehouse"), queryset=Warehouse.objects.filter(is_active=True)
    )
    reason = forms.CharField(label=_("Note"), max_length=200, required=False)
    key = forms.CharField(widget=forms.HiddenInput, required=False)


def _stock_warehouses() -> Any:
    return Warehouse.objects.filter(is_active=True, kind=Warehouse.Kind.STOCK)


class ShipForm(forms.Form):
    """The header of a delivery; the quantities per line are posted as qty_<contract line id>."""

    warehouse = forms.ModelChoiceField(label=_("Warehouse"), queryset=_stock_warehouses())
    waybill = forms.CharField(label=_("Waybill number"), max_length=60, required=False)
    carrier = forms.CharField(label=_("Carrier"), max_length=60, required=False)
    note = forms.CharField(label=_("Note"), max_length=300, required=False)
    key = forms.CharField(widget=forms.HiddenInput, required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["warehouse"].queryset = _stock_warehouses()  # type: ignore[attr-defined]


class ReturnForm(forms.Form):
    """The header of a customer return; the quantities per delivery line are posted as qty_<line id>."""

    reason = forms.CharField(label=_("Reason"), max_length=200, required=False)
    key = forms.CharField(widget=forms.HiddenInput, required=False)


class SampleForm(forms.Form):
    customer = forms.TypedChoiceField(label=_("Customer"), coerce=int)
    warehouse = forms.ModelChoiceField(label=_("From warehouse"), queryset=_stock_warehouses())
    expected_return = forms.DateField(
        label=_("Expected return"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    note = forms.CharField(label=_("Note"), max_length=300, required=False)
    key = forms.CharField(widget=forms.HiddenInput, required=False)

    def __init__(self, *args: Any, customers: list[tuple[Any, str]] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["customer"].choices = [("", "-"), *(customers or [])]  # type: ignore[attr-defined]
        self.fields["warehouse"].queryset = _stock_warehouses()  # type: ignore[attr-defined]


class SampleFilterForm(forms.Form):
    STATES = [("", _("All")), ("open", _("Out")), ("closed", _("Closed"))]
    state = forms.ChoiceField(label=_("State"), choices=STATES, required=False)
    owner = forms.IntegerField(required=False, widget=forms.HiddenInput)
    customer = forms.IntegerField(required=False, widget=forms.HiddenInput)
    overdue = forms.BooleanField(label=_("Overdue only"), required=False)


class ConsumeForm(forms.Form):
    reason = forms.CharField(label=_("Reason"), max_length=200)
