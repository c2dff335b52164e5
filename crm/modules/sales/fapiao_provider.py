"""Issuing a fapiao through a tax provider: one small interface, chosen by the Django setting
``SALES_FAPIAO_PROVIDER`` ("manual" by default, or "fake"; ``SALES_FAPIAO_PROVIDER_URL`` is where the fake
platform answers).

- ``manual``: finance issues the fapiao in the tax bureau's own software and types what was issued; the
  provider hands back the typed values (what the record form does).
- ``fake``: speaks a plausible wire format of a Chinese e-invoice platform (全电发票 / 数电票 style): a JSON
  POST with the seller's and buyer's tax ids, the lines and amounts; the answer carries the invoice number,
  the invoice code and the issue time. Tests serve it with a local HTTP server on 127.0.0.1.

    provider = get_provider()
    issued = provider.issue(IssueRequest(...))      # -> Issued(number, code, issued_on, amounts, reference)
    issued = provider.red(fapiao, reason)           # the red-letter (红字) reversal of an issued one
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Protocol

from django.conf import settings
from django.utils.translation import gettext as _

from crm.platform.errors import ServiceError

TIMEOUT_SECONDS = 10


@dataclass(frozen=True)
class IssueLine:
    name: str
    quantity: Decimal
    amount_excl: Decimal
    tax: Decimal
    rate: Decimal


@dataclass(frozen=True)
class IssueRequest:
    """What a provider needs to issue one fapiao."""

    kind: str  # special / ordinary / digital
    seller_name: str
    seller_tax_id: str
    buyer_title: str
    buyer_tax_id: str
    amount_incl: Decimal
    amount_excl: Decimal
    amount_tax: Decimal
    rate: Decimal
    currency: str = "CNY"
    lines: tuple[IssueLine, ...] = ()
    reference: str = ""  # our request or contract number (the platform's order id)
    # Manual issuing: what finance typed.
    number: str = ""
    issued_on: date | None = None
    note: str = ""


@dataclass(frozen=True)
class Issued:
    number: str
    issued_on: date
    amount_incl: Decimal
    amount_excl: Decimal
    amount_tax: Decimal
    code: str = ""
    reference: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


class Provider(Protocol):
    name: str

    def issue(self, request: IssueRequest) -> Issued: ...

    def red(self, fapiao: Any, reason: str, *, number: str = "", issued_on: date | None = None) -> Issued: ...


class ManualProvider:
    """Records by hand: the number and date are what finance typed."""

    name = "manual"

    def issue(self, request: IssueRequest) -> Issued:
        if not request.number or request.issued_on is None:
            raise ServiceError(_("Enter the fapiao number and date."), code="fapiao_number", field="number")
        return Issued(
            number=request.number,
            issued_on=request.issued_on,
            amount_incl=request.amount_incl,
            amount_excl=request.amount_excl,
            amount_tax=request.amount_tax,
        )

    def red(self, fapiao: Any, reason: str, *, number: str = "", issued_on: date | None = None) -> Issued:
        if not number or issued_on is None:
            raise ServiceError(
                _("Enter the red-letter fapiao's number and date."), code="fapiao_number", field="number"
            )
        return Issued(
            number=number,
            issued_on=issued_on,
            amount_incl=-fapiao.amount_incl,
            amount_excl=-fapiao.amount_excl,
            amount_tax=-fapiao.amount_tax,
        )


def _money(value: Any) -> str:
    return f"{Decimal(value):.2f}"


class FakePlatformProvider:
    """A JSON-over-HTTP e-invoice platform (the local fake's wire format, see tests/fake_fapiao.py).

    POST {url}/invoices        {"request_id", "invoice_type", "seller": {"name", "tax_id"},
                                "buyer": {"name", "tax_id"}, "currency", "total": {"amount_excl", "tax",
                                "amount_incl"}, "items": [{"name", "quantity", "amount_excl", "tax_rate",
                                "tax"}], "remark"}
    POST {url}/invoices/red    {"request_id", "original_number", "reason", "total": {...negative...}}
    answer 200                 {"code": "0000", "data": {"invoice_number", "invoice_code", "issue_time",
                                "amount_excl", "tax", "amount_incl", "serial_no"}}
    answer other               {"code": "<error code>", "message": "..."}
    """

    name = "fake"

    def __init__(self, url: str | None = None) -> None:
        self.url = (url or getattr(settings, "SALES_FAPIAO_PROVIDER_URL", "") or "").rstrip("/")

    def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        if not self.url.startswith(("http://", "https://")):
            raise ServiceError(_("The fapiao provider is not configured."), code="provider_unconfigured")
        data = json.dumps(body, ensure_ascii=False).encode()
        req = urllib.request.Request(  # noqa: S310 (only http(s), checked above)
            f"{self.url}{path}", data=data, headers={"Content-Type": "application/json"}, method="POST"
        )
        try:
            with urllib.request.urlopen(req, timeout=TIMEOUT_SECONDS) as response:  # noqa: S310 (configured URL)
                answer = json.loads(response.read().decode() or "{}")
        except urllib.error.HTTPError as exc:
            try:
                answer = json.loads(exc.read().decode() or "{}")
            except ValueError:
                answer = {}
            raise ServiceError(
                _("The fapiao provider refused: %(message)s")
                % {"message": answer.get("message") or exc.code},
                code="provider_refused",
            ) from exc
        except (urllib.error.URLError, TimeoutError, ValueError) as exc:
            raise ServiceError(_("The fapiao provider did not answer."), code="provider_down") from exc
        if (
            not isinstance(answer, dict)
            or answer.get("code") != "0000"
            or not isinstance(answer.get("data"), dict)
        ):
            message = answer.get("message") if isinstance(answer, dict) else ""
            raise ServiceError(
                _("The fapiao provider refused: %(message)s") % {"message": message or "?"},
                code="provider_refused",
            )
        return dict(answer["data"])

    @staticmethod
    def _issued(data: dict[str, Any]) -> Issued:
        try:
            issued_at = datetime.strptime(str(data["issue_time"]), "%Y-%m-%d %H:%M:%S")
            return Issued(
                number=str(data["invoice_number"]),
                code=str(data.get("invoice_code", "")),
                issued_on=issued_at.date(),
                amount_incl=Decimal(str(data["amount_incl"])),
                amount_excl=Decimal(str(data["amount_excl"])),
                amount_tax=Decimal(str(data["tax"])),
                reference=str(data.get("serial_no", "")),
                extra=data,
            )
        except (KeyError, ValueError, InvalidOperation) as exc:
            raise ServiceError(
                _("The fapiao provider's answer could not be read."), code="provider_bad_answer"
            ) from exc

    def issue(self, request: IssueRequest) -> Issued:
        body = {
            "request_id": request.reference,
            "invoice_type": {"special": "004", "ordinary": "007", "digital": "026"}.get(request.kind, "026"),
            "seller": {"name": request.seller_name, "tax_id": request.seller_tax_id},
            "buyer": {"name": request.buyer_title, "tax_id": request.buyer_tax_id},
            "currency": request.currency,
            "total": {
                "amount_excl": _money(request.amount_excl),
                "tax": _money(request.amount_tax),
                "amount_incl": _money(request.amount_incl),
            },
            "items": [
                {
                    "name": ln.name,
                    "quantity": str(ln.quantity),
                    "amount_excl": _money(ln.amount_excl),
                    "tax_rate": str(ln.rate),
                    "tax": _money(ln.tax),
                }
                for ln in request.lines
            ],
            "remark": request.note,
        }
        return self._issued(self._post("/invoices", body))

    def red(self, fapiao: Any, reason: str, *, number: str = "", issued_on: date | None = None) -> Issued:
        body = {
            "request_id": f"red-{fapiao.number}",
            "original_number": fapiao.number,
            "reason": reason,
            "total": {
                "amount_excl": _money(-fapiao.amount_excl),
                "tax": _money(-fapiao.amount_tax),
                "amount_incl": _money(-fapiao.amount_incl),
            },
        }
        return self._issued(self._post("/invoices/red", body))


PROVIDERS: dict[str, type[Any]] = {"manual": ManualProvider, "fake": FakePlatformProvider}


def provider_name() -> str:
    name = str(getattr(settings, "SALES_FAPIAO_PROVIDER", "manual") or "manual")
    return name if name in PROVIDERS else "manual"


def get_provider(name: str | None = None) -> Provider:
    """The configured provider (an unknown name falls back to manual issuing)."""
    cls = PROVIDERS.get(name or provider_name(), ManualProvider)
    provider: Provider = cls()
    return provider
