"""A local fake of the Stripe API for tests: the official `stripe` client talks to it over HTTP.

- Requests are form-encoded like Stripe's (`items[0][price]=...`), answers are JSON objects built from
  Stripe's published fixtures (stripe_fixtures.json) with the fields we set, and state is kept across
  calls: customers, products, prices, checkout sessions, portal sessions, subscriptions and their items
  (proration_behavior recorded), coupons and the discounts they make on a subscription (an invoice takes
  the coupon's percent_off off its subtotal, rounded to the minor unit), invoices, invoice previews.
- Billing periods as Stripe documents them: `subscription_data[billing_cycle_anchor]` starts full monthly
  periods at the anchor (the time before it, after any `trial_end`, is one prorated line on the first
  invoice); later periods fall on the anchor's day of the month (the month's last day when shorter), at the
  anchor's time of day, in UTC. `subscription_data[billing_cycle_anchor_config]` (refused with a trial or a
  timestamp anchor, as Checkout does) anchors on the first matching UTC instant after the start and every
  month on its day_of_month (clamped to the month's last day) at its hour:minute:second;
  `proration_behavior=none` makes the stub before the first anchor free (0 lines).
- Pending invoice items (POST /v1/invoiceitems, `Idempotency-Key` honoured: the same key answers the first
  object again, with other parameters it is refused) are pulled into the customer's next subscription
  invoice as non-proration lines with their own period and metadata.
- Adding or deleting an item with `create_prorations` makes a pending
  proration item (a charge for the remaining time, a credit for the unused time) from `proration_date`
  (default: now) to the period end: unit amount x remaining seconds / period seconds, rounded half up to
  the minor unit. Pending items go on the next invoice, after the advance lines for the new period.
  Invoices carry their first ten lines inline (`lines.has_more`); GET /v1/invoices/{id}/lines pages them.
- `clock` (a timestamp) fixes "now"; `faults` makes it bill wrongly on purpose: "wrong_price" (prorations
  at a price 10.00 higher), "drop_credit" (removing an item credits nothing).
- Test helpers play the customer's side (complete a checkout, fail or pay an invoice); each emits the
  events Stripe would, signed with the test secret exactly as Stripe signs them:
  `Stripe-Signature: t=<ts>,v1=<hex HMAC-SHA256 of "<ts>.<raw body>">`.
"""

from __future__ import annotations

import calendar
import copy
import hashlib
import hmac
import itertools
import json
import threading
import time
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

FIXTURES = json.loads((Path(__file__).with_name("stripe_fixtures.json")).read_text())["resources"]
WEBHOOK_SECRET = "whsec_test_fake_0123456789"
API_KEY = "sk_test_fake_0123456789"


def decode_form(body: str) -> dict[str, Any]:
    """Stripe's nested form encoding back to dicts and lists: a[b][0][c]=v."""
    root: dict[str, Any] = {}
    for key, value in parse_qsl(body, keep_blank_values=True):
        parts = key.replace("]", "").split("[")
        node: Any = root
        for i, part in enumerate(parts):
            last = i == len(parts) - 1
            nxt_is_index = not last and parts[i + 1].isdigit()
            if isinstance(node, list):
                idx = int(part)
                while len(node) <= idx:
                    node.append(None)
                if last:
                    node[idx] = value
                else:
                    if node[idx] is None:
                        node[idx] = [] if nxt_is_index else {}
                    node = node[idx]
            else:
                if last:
                    node[part] = value
                else:
                    node = node.setdefault(part, [] if nxt_is_index else {})
    return root


def sign(body: bytes, secret: str = WEBHOOK_SECRET, timestamp: int | None = None) -> str:
    ts = int(time.time()) if timestamp is None else timestamp
    mac = hmac.new(secret.encode(), f"{ts}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={ts},v1={mac}"


class NotFound(Exception):
    pass


class FakeStripe:
    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.reset()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def reset(self) -> None:
        with getattr(self, "lock", threading.RLock()):
            self.objects: dict[str, dict[str, Any]] = {}
            self.requests: list[tuple[str, str, dict[str, Any]]] = []
            self.outbox: list[dict[str, Any]] = []
            self.counter = itertools.count(1)
            self.down = False  # simulate Stripe not answering (HTTP 500s)
            self.clock: int | None = None  # a fixed "now" (timestamp); None: the real time
            self.faults: set[str] = set()
            self.inline_lines = 10
            self.idempotent: dict[str, tuple[Any, str]] = {}
            self.idempotent_replays = 0

    def now(self) -> int:
        return self.clock if self.clock is not None else int(time.time())

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    # --- objects --------------------------------------------------------------------------------------

    def _id(self, prefix: str) -> str:
        return f"{prefix}_fake{next(self.counter):06d}"

    def _new(self, kind: str, prefix: str, **fields: Any) -> dict[str, Any]:
        obj = copy.deepcopy(FIXTURES[kind])
        obj.update(id=self._id(prefix), created=self.now(), livemode=False, metadata={})
        obj.update(fields)
        self.objects[obj["id"]] = obj
        return obj

    def get(self, obj_id: str) -> dict[str, Any]:
        if obj_id not in self.objects:
            raise NotFound(obj_id)
        return self.objects[obj_id]

    def _items_of(self, sub: dict[str, Any]) -> list[dict[str, Any]]:
        return [
            o
            for o in self.objects.values()
            if o["object"] == "subscription_item" and o["subscription"] == sub["id"] and not o.get("_deleted")
        ]

    def _render_sub(self, sub: dict[str, Any]) -> dict[str, Any]:
        out = {k: v for k, v in sub.items() if not k.startswith("_")}
        items = [{k: v for k, v in i.items() if not k.startswith("_")} for i in self._items_of(sub)]
        out["items"] = {"object": "list", "data": items, "has_more": False, "url": "/v1/subscription_items"}
        return out

    def render(self, obj: dict[str, Any]) -> dict[str, Any]:
        if obj["object"] == "subscription":
            return self._render_sub(obj)
        out = {k: v for k, v in obj.items() if not k.startswith("_")}
        if obj["object"] == "invoice" and "_lines" in obj:
            lines = obj["_lines"]
            out["lines"] = {
                "object": "list",
                "data": copy.deepcopy(lines[: self.inline_lines]),
                "has_more": len(lines) > self.inline_lines,
                "url": f"/v1/invoices/{obj['id']}/lines",
            }
        return out

    # --- periods and prorations ----------------------------------------------------------------------

    @staticmethod
    def _shift_month(ts: int, day: int, months: int) -> int:
        """The billing date `months` after (or before) the one at `ts`: day `day` of the month (the
        month's last day when shorter) at the time of day of `ts`, in UTC."""
        at = datetime.fromtimestamp(ts, UTC)
        index = at.year * 12 + at.month - 1 + months
        year, month = divmod(index, 12)
        last = calendar.monthrange(year, month + 1)[1]
        return int(at.replace(year=year, month=month + 1, day=min(day, last)).timestamp())

    @staticmethod
    def _anchor_day(sub: dict[str, Any]) -> int:
        """The day of the month periods fall on: the anchor config's (31 means each month's last day),
        else the UTC day of the anchor timestamp."""
        config = sub.get("billing_cycle_anchor_config")
        if config:
            return int(config["day_of_month"])
        return datetime.fromtimestamp(sub["billing_cycle_anchor"], UTC).day

    @staticmethod
    def _first_anchor(now: int, config: dict[str, Any]) -> int:
        """The first instant after `now` matching the anchor config (UTC; day clamped to the month)."""
        at = datetime.fromtimestamp(now, UTC)
        for months in (0, 1):
            index = at.year * 12 + at.month - 1 + months
            year, month = divmod(index, 12)
            last = calendar.monthrange(year, month + 1)[1]
            when = datetime(
                year,
                month + 1,
                min(int(config["day_of_month"]), last),
                int(config.get("hour") or 0),
                int(config.get("minute") or 0),
                int(config.get("second") or 0),
                tzinfo=UTC,
            )
            if int(when.timestamp()) > now:
                return int(when.timestamp())
        raise AssertionError("unreachable")

    def _full_period(self, sub: dict[str, Any], end: int) -> int:
        """Seconds of the full monthly period ending at `end` (a short first period before the anchor is
        prorated against the full month that would end there)."""
        return end - self._shift_month(end, self._anchor_day(sub), -1)

    @staticmethod
    def _prorate(unit: int, seconds: int, period: int) -> int:
        return int((Decimal(unit) * seconds / period).quantize(Decimal(1), ROUND_HALF_UP)) if period else 0

    def _line(
        self,
        sub: dict[str, Any],
        item: dict[str, Any],
        *,
        amount: int,
        start: int,
        end: int,
        proration: bool,
        description: str,
        invoice_item: str | None = None,
    ) -> dict[str, Any]:
        line = copy.deepcopy(FIXTURES["line_item"])
        price = item["price"]
        line.update(
            id=self._id("il"),
            amount=amount,
            subtotal=amount,
            currency=sub["currency"],
            description=description,
            period={"start": start, "end": end},
            quantity=1,
            subscription=sub["id"],
            metadata={},
            discountable=True,
            parent={
                "type": "subscription_item_details",
                "invoice_item_details": None,
                "subscription_item_details": {
                    "invoice_item": invoice_item,
                    "proration": proration,
                    "proration_details": {"credited_items": None},
                    "subscription": sub["id"],
                    "subscription_item": item["id"],
                },
            },
            pricing={
                "type": "price_details",
                "price_details": {"price": price["id"], "product": price.get("product")},
                "unit_amount_decimal": str(price["unit_amount"]),
            },
        )
        return line

    def _pending_proration(self, sub: dict[str, Any], item: dict[str, Any], when: int, sign: int) -> None:
        """A pending proration item for adding (sign 1) or removing (sign -1) `item` at `when`."""
        if sub.get("status") == "trialing":
            return  # nothing is charged during a trial
        start, end = sub["_period_start"], sub["_period_end"]
        if not start <= when <= end:
            raise ValueError("proration_date must be within the current billing period")
        if sign < 0 and "drop_credit" in self.faults:
            return
        unit = item["price"]["unit_amount"] + (1000 if "wrong_price" in self.faults else 0)
        amount = sign * self._prorate(unit, end - when, self._full_period(sub, end))
        name = item["metadata"].get("module", "")
        words = "Remaining time on" if sign > 0 else "Unused time on"
        sub["_pending"].append(
            self._line(
                sub,
                item,
                amount=amount,
                start=when,
                end=end,
                proration=True,
                description=f"{words} {name}",
                invoice_item=self._id("ii"),
            )
        )

    def _pull_invoice_items(self, sub: dict[str, Any]) -> list[dict[str, Any]]:
        """Pending invoice items for this subscription (or for the customer, without a subscription) as
        lines of the invoice being made, with their own period; they are then no longer pending."""
        lines = []
        pending = [
            o
            for o in self.objects.values()
            if o["object"] == "invoiceitem"
            and o["invoice"] is None
            and o["customer"] == sub["customer"]
            and o.get("subscription") in (None, sub["id"])
        ]
        for item in sorted(pending, key=lambda o: o["id"]):
            line = copy.deepcopy(FIXTURES["line_item"])
            line.update(
                id=self._id("il"),
                amount=item["amount"],
                subtotal=item["amount"],
                currency=item["currency"],
                description=item["description"],
                period=dict(item["period"]),
                quantity=1,
                subscription=sub["id"],
                metadata=dict(item["metadata"]),
                discountable=True,
                parent={
                    "type": "invoice_item_details",
                    "invoice_item_details": {
                        "invoice_item": item["id"],
                        "proration": False,
                        "proration_details": {"credited_items": None},
                        "subscription": item.get("subscription"),
                    },
                    "subscription_item_details": None,
                },
                pricing={"type": "price_details", "price_details": None, "unit_amount_decimal": None},
            )
            lines.append(line)
            item["_pulled"] = True
        return lines

    def _invoice_for(
        self,
        sub: dict[str, Any],
        *,
        reason: str,
        lines: list[dict[str, Any]],
        period_start: int,
        period_end: int,
    ) -> dict[str, Any]:
        subtotal = sum(li["amount"] for li in lines)
        discount_ids = list(sub.get("discounts") or [])
        off = 0
        total_discounts = []
        for discount_id in discount_ids:
            coupon = self.get(self.get(discount_id)["source"]["coupon"])
            # Stripe rounds a percent-off discount to the nearest minor unit (half up).
            amount_off = int(
                (subtotal * Decimal(str(coupon["percent_off"])) / 100).quantize(Decimal(1), ROUND_HALF_UP)
            )
            total_discounts.append({"amount": amount_off, "discount": discount_id})
            off += amount_off
        total = subtotal - off
        invoice = self._new(
            "invoice",
            "in",
            customer=sub["customer"],
            subscription=sub["id"],
            status="open",
            billing_reason=reason,
            currency=sub["currency"],
            amount_due=max(total, 0),
            amount_paid=0,
            amount_remaining=max(total, 0),
            total=total,
            subtotal=subtotal,
            discounts=discount_ids,
            total_discount_amounts=total_discounts,
            attempted=False,
            attempt_count=0,
            created=period_end,
            period_start=period_start,
            period_end=period_end,
            number=f"FAKE-{next(self.counter):04d}",
            invoice_pdf=f"{self.url}/pdf/{len(self.objects)}",
            hosted_invoice_url=f"{self.url}/i/{len(self.objects)}",
            parent={
                "type": "subscription_details",
                "quote_details": None,
                "subscription_details": {"metadata": {}, "subscription": sub["id"]},
            },
        )
        for li in lines:
            li["invoice"] = invoice["id"]
            item_id = ((li.get("parent") or {}).get("invoice_item_details") or {}).get("invoice_item")
            if item_id in self.objects and self.objects[item_id]["object"] == "invoiceitem":
                self.objects[item_id]["invoice"] = invoice["id"]
        invoice["_lines"] = lines
        return invoice

    def _discount(self, sub: dict[str, Any], coupon_id: str) -> str:
        coupon = self.get(coupon_id)
        discount = self._new(
            "discount",
            "di",
            customer=sub["customer"],
            subscription=sub["id"],
            start=self.now(),
            end=None,
            source={"coupon": coupon["id"], "type": "coupon"},
        )
        coupon["times_redeemed"] = coupon.get("times_redeemed", 0) + 1
        return str(discount["id"])

    # --- events ------------------------------------------------------------------------------------------

    def emit(self, event_type: str, obj: dict[str, Any]) -> dict[str, Any]:
        event = copy.deepcopy(FIXTURES["event"])
        event.update(
            id=self._id("evt"),
            type=event_type,
            created=self.now(),
            livemode=False,
            api_version="2026-10-28.endive",
            data={"object": copy.deepcopy(self.render(obj))},
        )
        self.outbox.append(event)
        return event

    def signed(self, event: dict[str, Any], secret: str = WEBHOOK_SECRET) -> tuple[bytes, str]:
        body = json.dumps(event).encode()
        return body, sign(body, secret)

    # --- the customer's side -----------------------------------------------------------------------

    def complete_checkout(self, session_id: str, *, pay: bool = True) -> list[dict[str, Any]]:
        """The customer entered a card: subscription, first invoice, and the events Stripe sends."""
        with self.lock:
            session = self.get(session_id)
            now = self.now()
            trial_end = int(session["_trial_end"]) if session.get("_trial_end") else None
            anchor = int(session["_anchor"]) if session.get("_anchor") else None
            config = session.get("_anchor_config")
            if config:
                # The next matching instant after the subscription starts, even if the session was open
                # across one.
                config = {k: int(config.get(k) or 0) for k in ("day_of_month", "hour", "minute", "second")}
                anchor = self._first_anchor(now, config)
            if anchor is not None and anchor <= now:
                anchor = None  # the anchor passed while the session was open: full periods from now
            cycle_start = trial_end or now
            free_stub = session.get("_proration_behavior") == "none"
            sub = self._new(
                "subscription",
                "sub",
                customer=session["customer"],
                # With subscription_data[trial_end] Stripe starts the subscription trialing, first invoice 0.
                status="trialing" if trial_end else "active",
                trial_start=now if trial_end else None,
                trial_end=trial_end,
                billing_cycle_anchor=anchor or cycle_start,
                billing_cycle_anchor_config=config or None,
                start_date=now,
                currency=session["_currency"],
                cancel_at_period_end=False,
                canceled_at=None,
                ended_at=None,
                cancel_at=None,
                metadata=session.get("_sub_metadata", {}),
                _pending=[],
            )
            if trial_end:
                sub["_period_start"], sub["_period_end"] = now, trial_end
            else:
                sub["_period_start"] = now
                sub["_period_end"] = anchor or self._shift_month(now, now, 1)
            for line in session["_line_items"]:
                self._add_item(sub, line["price"], {}, "none")
            sub["discounts"] = [self._discount(sub, c) for c in session.get("_discounts", [])]
            session.update(
                status="complete", payment_status="paid" if pay else "unpaid", subscription=sub["id"]
            )
            lines = []
            for item in self._items_of(sub):
                start, end = sub["_period_start"], sub["_period_end"]
                if trial_end:
                    amount, words = 0, "Trial period for"
                elif free_stub and anchor:
                    amount, words = 0, "1 x"  # proration_behavior=none: the stub is free
                else:
                    amount = self._prorate(
                        item["price"]["unit_amount"], end - start, self._full_period(sub, end)
                    )
                    words = "1 x"
                name = item["metadata"].get("module", "")
                lines.append(
                    self._line(
                        sub,
                        item,
                        amount=amount,
                        start=start,
                        end=end,
                        proration=False,
                        description=f"{words} {name}",
                    )
                )
            invoice = self._invoice_for(
                sub, reason="subscription_create", lines=lines, period_start=now, period_end=now
            )
            sub["latest_invoice"] = invoice["id"]
            start = len(self.outbox)
            self.emit("customer.subscription.created", sub)
            self.emit("invoice.finalized", invoice)
            if pay:
                invoice.update(
                    status="paid",
                    amount_paid=invoice["amount_due"],
                    amount_remaining=0,
                    attempted=True,
                    attempt_count=1,
                )
                self.emit("invoice.paid", invoice)
            self.emit("checkout.session.completed", session)
            return self.outbox[start:]

    def _cycle(self, sub: dict[str, Any]) -> dict[str, Any]:
        """The current period ends: the invoice made then (advance lines for the new period, then the
        pending prorations of the period that ended) and the subscription moved to the new period."""
        cut = sub["_period_end"]
        previous = sub["_period_start"]
        anchor = sub["billing_cycle_anchor"]
        if sub.get("status") == "trialing":
            sub["status"] = "active"
        # After a trial that ends before the anchor, the time up to the anchor is one prorated period.
        following = anchor if anchor > cut else self._shift_month(cut, self._anchor_day(sub), 1)
        lines = []
        for item in self._items_of(sub):
            amount = self._prorate(
                item["price"]["unit_amount"], following - cut, self._full_period(sub, following)
            )
            name = item["metadata"].get("module", "")
            lines.append(
                self._line(
                    sub,
                    item,
                    amount=amount,
                    start=cut,
                    end=following,
                    proration=False,
                    description=f"1 x {name}",
                )
            )
        lines += sub["_pending"]
        sub["_pending"] = []
        lines += self._pull_invoice_items(sub)
        sub["_period_start"], sub["_period_end"] = cut, following
        for item in self._items_of(sub):
            item.update(current_period_start=cut, current_period_end=following)
        return self._invoice_for(
            sub, reason="subscription_cycle", lines=lines, period_start=previous, period_end=cut
        )

    def renew(self, sub_id: str, *, pay: bool) -> list[dict[str, Any]]:
        """A new period's invoice: paid, or the charge fails (invoice stays open, attempted)."""
        with self.lock:
            sub = self.get(sub_id)
            invoice = self._cycle(sub)
            start = len(self.outbox)
            self.emit("invoice.finalized", invoice)
            invoice.update(attempted=True, attempt_count=1)
            if pay:
                invoice.update(status="paid", amount_paid=invoice["amount_due"], amount_remaining=0)
                self.emit("invoice.paid", invoice)
            else:
                sub["status"] = "past_due"
                self.emit("invoice.payment_failed", invoice)
                self.emit("customer.subscription.updated", sub)
            return self.outbox[start:]

    def end(self, sub_id: str) -> list[dict[str, Any]]:
        """The period ended after a cancellation: Stripe deletes the subscription."""
        with self.lock:
            sub = self.get(sub_id)
            sub.update(status="canceled", canceled_at=self.now(), ended_at=self.now())
            start = len(self.outbox)
            self.emit("customer.subscription.deleted", sub)
            return self.outbox[start:]

    def pay(self, invoice_id: str) -> list[dict[str, Any]]:
        with self.lock:
            invoice = self.get(invoice_id)
            invoice.update(status="paid", amount_paid=invoice["amount_due"], amount_remaining=0)
            sub = self.get(invoice["subscription"])
            sub["status"] = "active"
            start = len(self.outbox)
            self.emit("invoice.paid", invoice)
            self.emit("customer.subscription.updated", sub)
            return self.outbox[start:]

    def _add_item(
        self,
        sub: dict[str, Any],
        price_id: str,
        metadata: dict[str, Any],
        proration: str,
        proration_date: int | None = None,
    ) -> dict[str, Any]:
        price = self.get(price_id)
        item = self._new(
            "subscription_item",
            "si",
            subscription=sub["id"],
            price=copy.deepcopy(price),
            quantity=1,
            metadata=dict(metadata or {"module": price["metadata"].get("module", "")}),
            current_period_start=sub["_period_start"],
            current_period_end=sub["_period_end"],
            _proration_behavior=proration,
            _proration_date=proration_date,
        )
        if proration != "none":
            when = self.now() if proration_date is None else proration_date
            self._pending_proration(sub, item, when, 1)
        return item

    # --- HTTP ------------------------------------------------------------------------------------------

    def route(
        self, method: str, path: str, params: dict[str, Any], idempotency_key: str | None = None
    ) -> dict[str, Any]:
        parts = path.strip("/").split("/")[1:]  # drop "v1"
        key = "/".join(parts)
        with self.lock:
            self.requests.append((method, "/" + "/".join(parts), params))
            if method == "POST" and idempotency_key:
                # Stripe replays the first answer for a key; the same key with other parameters is an error.
                seen = self.idempotent.get(idempotency_key)
                if seen is not None:
                    if seen[0] != (path, params):
                        raise ValueError(
                            "Keys for idempotent requests can only be used with the same parameters"
                        )
                    self.idempotent_replays += 1
                    return self.get(seen[1])
                obj = self._route(method, parts, key, params)
                if obj.get("id"):
                    self.idempotent[idempotency_key] = ((path, params), obj["id"])
                return obj
            return self._route(method, parts, key, params)

    def _route(self, method: str, parts: list[str], key: str, params: dict[str, Any]) -> dict[str, Any]:
        path = "/v1/" + key
        with self.lock:
            if method == "POST" and key == "invoiceitems":
                self.get(params["customer"])
                if params.get("subscription"):
                    self.get(params["subscription"])
                if "amount" not in params or "currency" not in params:
                    raise ValueError("amount and currency are required (or price_data)")
                period = params.get("period") or {}
                start = int(period.get("start") or self.now())
                end = int(period.get("end") or start)
                if end < start:
                    raise ValueError("period[end] must be greater than or equal to period[start]")
                return self._new(
                    "invoiceitem",
                    "ii",
                    customer=params["customer"],
                    subscription=params.get("subscription") or None,
                    amount=int(params["amount"]),
                    currency=params["currency"],
                    description=params.get("description"),
                    period={"start": start, "end": end},
                    metadata=params.get("metadata", {}),
                    invoice=None,
                    proration=False,
                    date=self.now(),
                    parent={
                        "type": "subscription_details",
                        "subscription_details": {"subscription": params.get("subscription")},
                    }
                    if params.get("subscription")
                    else None,
                )
            if method == "POST" and key == "customers":
                return self._new(
                    "customer",
                    "cus",
                    name=params.get("name"),
                    email=params.get("email"),
                    metadata=params.get("metadata", {}),
                )
            if method == "POST" and key == "products":
                return self._new("product", "prod", name=params["name"], metadata=params.get("metadata", {}))
            if method == "POST" and key == "prices":
                return self._new(
                    "price",
                    "price",
                    product=params["product"],
                    currency=params["currency"],
                    unit_amount=int(params["unit_amount"]),
                    unit_amount_decimal=params["unit_amount"],
                    recurring={
                        "interval": params["recurring"]["interval"],
                        "interval_count": 1,
                        "meter": None,
                        "usage_type": "licensed",
                        "trial_period_days": None,
                    },
                    metadata=params.get("metadata", {}),
                )
            if method == "POST" and key == "coupons":
                percent = float(params["percent_off"])
                if not 0 < percent <= 100:
                    raise ValueError("percent_off must be between 0 and 100")
                return self._new(
                    "coupon",
                    "co",
                    percent_off=percent,
                    amount_off=None,
                    currency=None,
                    duration=params.get("duration", "once"),
                    duration_in_months=int(params["duration_in_months"])
                    if params.get("duration") == "repeating"
                    else None,
                    name=params.get("name"),
                    max_redemptions=None,
                    redeem_by=None,
                    times_redeemed=0,
                    valid=True,
                    metadata=params.get("metadata", {}),
                )
            if method == "POST" and key == "checkout/sessions":
                if params.get("mode") != "subscription":
                    raise ValueError("only mode=subscription is faked")
                self.get(params["customer"])
                prices = [self.get(li["price"]) for li in params["line_items"]]
                data = params.get("subscription_data", {})
                anchor, trial = data.get("billing_cycle_anchor"), data.get("trial_end")
                config = data.get("billing_cycle_anchor_config")
                if config is not None:
                    # As Stripe's Checkout: the config excludes a timestamp anchor and any trial.
                    if anchor or trial or data.get("trial_period_days") or data.get("trial_settings"):
                        raise ValueError(
                            "subscription_data[billing_cycle_anchor_config] cannot be combined with "
                            "billing_cycle_anchor or a trial"
                        )
                    day = int(config.get("day_of_month") or 0)
                    hour, minute = int(config.get("hour") or 0), int(config.get("minute") or 0)
                    second = int(config.get("second") or 0)
                    if not (1 <= day <= 31 and 0 <= hour < 24 and 0 <= minute < 60 and 0 <= second < 60):
                        raise ValueError("invalid billing_cycle_anchor_config")
                behavior = data.get("proration_behavior")
                if behavior not in (None, "none", "create_prorations"):
                    raise ValueError(
                        "subscription_data[proration_behavior] must be none or create_prorations"
                    )
                if trial and int(trial) < self.now() + 48 * 3600:
                    raise ValueError("subscription_data[trial_end] must be at least 48 hours in the future")
                if anchor:
                    start = int(trial) if trial else self.now()
                    if int(anchor) <= self.now():
                        raise ValueError("billing_cycle_anchor must be in the future")
                    if int(anchor) < start:
                        raise ValueError("billing_cycle_anchor cannot be earlier than trial_end")
                    if int(anchor) > self._shift_month(start, datetime.fromtimestamp(start, UTC).day, 1):
                        raise ValueError("billing_cycle_anchor must be before the next natural billing date")
                session = self._new(
                    "checkout.session",
                    "cs_test",
                    mode="subscription",
                    status="open",
                    customer=params["customer"],
                    client_reference_id=params.get("client_reference_id"),
                    success_url=params["success_url"],
                    cancel_url=params.get("cancel_url"),
                    metadata=params.get("metadata", {}),
                    subscription=None,
                    payment_status="unpaid",
                    amount_total=sum(p["unit_amount"] for p in prices),
                    currency=prices[0]["currency"],
                    _line_items=params["line_items"],
                    _currency=prices[0]["currency"],
                    _sub_metadata=params.get("subscription_data", {}).get("metadata", {}),
                    _trial_end=params.get("subscription_data", {}).get("trial_end"),
                    _anchor=anchor,
                    _anchor_config=config,
                    _proration_behavior=behavior,
                    _discounts=[d["coupon"] for d in params.get("discounts") or []],
                )
                session["url"] = f"{self.url}/checkout/{session['id']}"
                return session
            if method == "POST" and key == "billing_portal/sessions":
                self.get(params["customer"])
                s = self._new(
                    "billing_portal.session",
                    "bps",
                    customer=params["customer"],
                    return_url=params.get("return_url"),
                    flow=None,
                )
                s["url"] = f"{self.url}/portal/{s['id']}"
                return s
            if len(parts) == 3 and parts[0] == "invoices" and parts[2] == "lines" and method == "GET":
                lines = self.get(parts[1])["_lines"]
                after = params.get("starting_after")
                at = next((i + 1 for i, li in enumerate(lines) if li["id"] == after), 0) if after else 0
                limit = int(params.get("limit") or 10)
                return {
                    "object": "list",
                    "data": copy.deepcopy(lines[at : at + limit]),
                    "has_more": at + limit < len(lines),
                    "url": f"/v1/invoices/{parts[1]}/lines",
                }
            if len(parts) == 2 and parts[0] in ("subscriptions", "invoices", "customers") and method == "GET":
                obj = self.get(parts[1])
                if obj.get("_deleted"):
                    raise NotFound(parts[1])
                return obj
            if len(parts) == 2 and parts[0] == "subscriptions" and method == "POST":
                sub = self.get(parts[1])
                if "cancel_at_period_end" in params:
                    sub["cancel_at_period_end"] = params["cancel_at_period_end"] == "true"
                if "discounts" in params:
                    # A populated array replaces the discounts; an empty string clears them.
                    wanted = params["discounts"] or []
                    sub["discounts"] = [self._discount(sub, d["coupon"]) for d in wanted]
                return sub
            if len(parts) == 2 and parts[0] == "subscriptions" and method == "DELETE":
                sub = self.get(parts[1])
                sub.update(status="canceled", canceled_at=self.now())
                return sub
            if method == "POST" and key == "subscription_items":
                sub = self.get(params["subscription"])
                return self._add_item(
                    sub,
                    params["price"],
                    params.get("metadata", {}),
                    params.get("proration_behavior", "create_prorations"),
                    int(params["proration_date"]) if params.get("proration_date") else None,
                )
            if len(parts) == 2 and parts[0] == "subscription_items" and method == "DELETE":
                item = self.get(parts[1])
                if item.get("_deleted"):
                    raise NotFound(parts[1])
                behavior = params.get("proration_behavior", "create_prorations")
                when = int(params["proration_date"]) if params.get("proration_date") else self.now()
                if behavior != "none":
                    self._pending_proration(self.get(item["subscription"]), item, when, -1)
                item["_deleted"] = True
                item["_removed_proration_behavior"] = behavior
                item["_removed_proration_date"] = when
                return {"id": item["id"], "object": "subscription_item", "deleted": True}
            if method == "POST" and key == "invoices/create_preview":
                sub = self.get(params["subscription"])
                total = sum(i["price"]["unit_amount"] for i in self._items_of(sub))
                return {
                    **copy.deepcopy(FIXTURES["invoice"]),
                    "id": None,
                    "customer": params["customer"],
                    "status": "draft",
                    "amount_due": total,
                    "total": total,
                    "currency": sub["currency"],
                }
        raise NotFound(path)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _serve(self) -> None:
                url = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode() if length else ""
                params = decode_form(body or url.query)
                if self.headers.get("Authorization") != f"Bearer {API_KEY}":
                    return self._send(401, {"error": {"type": "invalid_request_error", "message": "bad key"}})
                if fake.down:
                    return self._send(500, {"error": {"type": "api_error", "message": "down"}})
                try:
                    obj = fake.route(
                        self.command, url.path, params, idempotency_key=self.headers.get("Idempotency-Key")
                    )
                except NotFound as exc:
                    return self._send(
                        404,
                        {
                            "error": {
                                "type": "invalid_request_error",
                                "code": "resource_missing",
                                "message": f"No such object: '{exc}'",
                            }
                        },
                    )
                except (KeyError, ValueError) as exc:
                    return self._send(400, {"error": {"type": "invalid_request_error", "message": str(exc)}})
                self._send(200, fake.render(obj) if "object" in obj and obj.get("id") else obj)

            def _send(self, status: int, payload: dict[str, Any]) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.send_header("Request-Id", "req_fake")
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_DELETE = _serve

        return Handler
