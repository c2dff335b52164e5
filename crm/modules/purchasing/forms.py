"""Purchasing forms: input parsing only; rules live in the services."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms
from django.forms import formset_factory
from django.utils.translation import gettext_lazy as _

from crm.kernel.vat import VAT_RATE_CHOICES
from crm.modules.inventory.public import Warehouse

from .models import Supplier, SupplierPayment

DEC: dict[str, Any] = {"max_digits": 14, "decimal_places": 4}


class SupplierForm(forms.ModelForm):
    class Meta:
        model = Supplier
        fields = [
            "code",
            "name",
            "tax_status",
            "invoice_type",
            "payment_days",
            "phone",
            "address",
            "bank_name",
            "bank_account",
            "notes",
            "is_active",
        ]
        widgets = {"notes": forms.Textarea(attrs={"rows": 3})}

    def validate_unique(self) -> None:
        """The service says it (with the field), not the model form."""


class SearchForm(forms.Form):
    q = forms.CharField(label=_("Search"), max_length=100, required=False)


class ContactForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=100)
    title = forms.CharField(label=_("Title"), max_length=100, required=False)
    phone = forms.CharField(label=_("Phone"), max_length=30, required=False)
    email = forms.EmailField(label=_("Email"), required=False)


def _rate_choices() -> list[tuple[str, Any]]:
    return [("", _("From the invoice")), *((str(r), label) for r, label in VAT_RATE_CHOICES)]


class PriceForm(forms.Form):
    product = forms.TypedChoiceField(label=_("Product"), coerce=int)
    unit_price_incl = forms.DecimalField(label=_("Unit price (tax incl.)"), min_value=Decimal("0"), **DEC)
    vat_rate = forms.ChoiceField(label=_("VAT rate"), required=False)
    valid_from = forms.DateField(
        label=_("Valid from"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    source = forms.CharField(label=_("Source"), max_length=100, required=False)

    def __init__(self, *args: Any, products: list[tuple[int, str]] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["product"].choices = products or []  # type: ignore[attr-defined]
        self.fields["vat_rate"].choices = _rate_choices()  # type: ignore[attr-defined]


class LineForm(forms.Form):
    product = forms.TypedChoiceField(label=_("Product"), coerce=int, required=False, empty_value=None)
    quantity = forms.DecimalField(label=_("Quantity"), min_value=Decimal("0"), required=False, **DEC)
    unit = forms.CharField(label=_("Unit"), max_length=20, required=False)
    unit_price_incl = forms.DecimalField(
        label=_("Unit price (tax incl.)"), min_value=Decimal("0"), required=False, **DEC
    )
    vat_rate = forms.ChoiceField(label=_("VAT rate"), required=False)

    def __init__(self, *args: Any, products: list[tuple[Any, str]] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["product"].choices = [("", "-"), *(products or [])]  # type: ignore[attr-defined]
        self.fields["vat_rate"].choices = _rate_choices()  # type: ignore[attr-defined]
        self.fields["quantity"].widget.attrs.update({"inputmode": "decimal"})


LineFormSet = formset_factory(LineForm, extra=5, max_num=50)


class OrderForm(forms.Form):
    supplier = forms.ModelChoiceField(label=_("Supplier"), queryset=Supplier.objects.filter(is_active=True))
    warehouse = forms.ModelChoiceField(
        label=_("Receiving warehouse"),
        queryset=Warehouse.objects.filter(is_active=True, kind="stock"),
        required=False,
    )
    payment_days = forms.IntegerField(
        label=_("Payment terms (days)"), min_value=0, max_value=365, required=False
    )
    expected_on = forms.DateField(
        label=_("Expected on"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    terms = forms.CharField(label=_("Terms"), required=False, widget=forms.Textarea(attrs={"rows": 3}))


class ReasonForm(forms.Form):
    reason = forms.CharField(max_length=300, required=False)


class ReceiveForm(forms.Form):
    warehouse = forms.ModelChoiceField(
        label=_("Warehouse"), queryset=Warehouse.objects.filter(is_active=True, kind="stock")
    )
    allow_over = forms.BooleanField(label=_("Confirm receiving more than ordered"), required=False)
    note = forms.CharField(label=_("Note"), max_length=200, required=False)
    key = forms.CharField(widget=forms.HiddenInput, required=False)


class RfqForm(forms.Form):
    title = forms.CharField(label=_("Title"), max_length=200, required=False)
    due_date = forms.DateField(
        label=_("Quotes due"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    suppliers = forms.ModelMultipleChoiceField(
        label=_("Suppliers"),
        queryset=Supplier.objects.filter(is_active=True),
        widget=forms.CheckboxSelectMultiple,
        required=False,
    )


class QuoteForm(forms.Form):
    supplier = forms.ModelChoiceField(label=_("Supplier"), queryset=Supplier.objects.filter(is_active=True))
    invoice_type = forms.ChoiceField(
        label=_("Invoice given"),
        choices=[("", _("As the supplier's")), *Supplier.InvoiceType.choices],
        required=False,
    )
    freight = forms.DecimalField(
        label=_("Freight (whole quote)"), min_value=Decimal("0"), initial=0, max_digits=16, decimal_places=2
    )
    payment_days = forms.IntegerField(
        label=_("Payment terms (days)"), min_value=0, max_value=365, required=False
    )
    notes = forms.CharField(label=_("Notes"), max_length=200, required=False)


class BillForm(forms.Form):
    supplier = forms.ModelChoiceField(label=_("Supplier"), queryset=Supplier.objects.all())
    number = forms.CharField(label=_("Bill number"), max_length=60)
    amount_incl = forms.DecimalField(
        label=_("Amount (tax incl.)"), min_value=Decimal("0.01"), max_digits=16, decimal_places=2
    )
    bill_date = forms.DateField(label=_("Bill date"), widget=forms.DateInput(attrs={"type": "date"}))
    order = forms.CharField(label=_("Purchase order number"), max_length=40, required=False)
    note = forms.CharField(label=_("Note"), max_length=200, required=False)


class PaymentForm(forms.Form):
    supplier = forms.ModelChoiceField(label=_("Supplier"), queryset=Supplier.objects.all())
    amount = forms.DecimalField(label=_("Amount"), min_value=Decimal("0.01"), max_digits=16, decimal_places=2)
    paid_on = forms.DateField(label=_("Paid on"), widget=forms.DateInput(attrs={"type": "date"}))
    method = forms.ChoiceField(label=_("Payment method"), choices=SupplierPayment.Method.choices)
    reference = forms.CharField(label=_("Reference"), max_length=100, required=False)
    key = forms.CharField(widget=forms.HiddenInput, required=False)


class SettingsForm(forms.Form):
    input_vat_deductible = forms.BooleanField(
        label=_("We are a general VAT taxpayer and deduct input VAT"), required=False
    )
    capital_rate_percent = forms.DecimalField(
        label=_("Cost of capital (% a year)"),
        min_value=Decimal("0"),
        max_value=Decimal("100"),
        max_digits=5,
        decimal_places=2,
    )
