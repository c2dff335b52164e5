"""Retail forms: input parsing only; rules live in the services."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from crm.kernel.forms import AmountField
from crm.modules.core.public import Product
from crm.platform.permissions import Role
from crm.tenants.accounts.models import User

from .models import PointsRule, Store, Tier


class LookupForm(forms.Form):
    name = forms.CharField(label=_("Member name"), max_length=100)
    member_no = forms.CharField(label=_("Member number"), max_length=40)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # No autocomplete: the browser must not offer earlier members' names to the next customer.
        for f in self.fields.values():
            f.widget.attrs.update({"autocomplete": "off", "autocapitalize": "off"})


class SaleForm(forms.Form):
    store = forms.ModelChoiceField(label=_("Store"), queryset=Store.objects.none())
    amount = AmountField(label=_("Amount (CNY)"), required=False)
    product = forms.ModelChoiceField(
        label=_("Or a catalogue item"), queryset=Product.objects.filter(is_active=True), required=False
    )
    quantity = forms.DecimalField(label=_("Quantity"), max_digits=10, decimal_places=2, initial=Decimal("1"))
    note = forms.CharField(label=_("Note"), max_length=200, required=False)

    def __init__(self, *args: Any, stores: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["store"].queryset = stores  # type: ignore[attr-defined]
        self.fields["amount"].widget.attrs.update({"inputmode": "decimal"})
        if stores.count() == 1:
            self.fields["store"].initial = stores.first()

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if not data.get("amount") and not data.get("product"):
            raise forms.ValidationError(_("Enter an amount or choose a catalogue item."))
        return data


class RedeemForm(forms.Form):
    points = forms.IntegerField(label=_("Points to redeem"), min_value=1)
    confirm = forms.BooleanField(label=_("The member agrees to redeem these points"), required=False)


class VoidForm(forms.Form):
    reason = forms.CharField(label=_("Reason"), max_length=200)


class MemberForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=100)
    member_no = forms.CharField(label=_("Member number"), max_length=40)
    phone = forms.CharField(label=_("Phone"), max_length=30, required=False)
    email = forms.EmailField(label=_("Email"), required=False)
    birthday = forms.DateField(
        label=_("Birthday"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    valid_until = forms.DateField(
        label=_("Valid until"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    store = forms.ModelChoiceField(label=_("Registered at"), queryset=Store.objects.all(), required=False)


class StoreForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=100)
    code = forms.CharField(label=_("Code"), max_length=30)
    address = forms.CharField(label=_("Address"), max_length=200, required=False)


class AssignForm(forms.Form):
    user = forms.ModelChoiceField(
        label=_("Clerk"), queryset=User.objects.filter(role=Role.CLERK, is_active=True).order_by("name")
    )


class TierForm(forms.ModelForm):
    class Meta:
        model = Tier
        fields = [
            "name",
            "rank",
            "basis",
            "threshold",
            "discount_percent",
            "points_multiplier",
            "validity_months",
        ]


class PointsRuleForm(forms.ModelForm):
    class Meta:
        model = PointsRule
        fields = [
            "points_per_rmb",
            "rounding",
            "expiry_months",
            "redemption_value",
            "membership_months",
            "downgrade_at_renewal",
        ]
