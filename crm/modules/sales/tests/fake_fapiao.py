"""A local fake of a Chinese e-invoice platform (money area): a threaded http.server on 127.0.0.1 that
speaks the wire format of crm.modules.sales.fapiao_provider.FakePlatformProvider and records what it got."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class FakePlatform:
    url: str = ""
    received: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    refuse: str = ""  # a message: answer every request with an error code
    counter: int = 0


@contextmanager
def fake_platform() -> Iterator[FakePlatform]:
    state = FakePlatform()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # http.server's naming
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length).decode("utf-8") or "{}")
            state.received.append((self.path, body))
            if state.refuse:
                return self._answer(200, {"code": "4001", "message": state.refuse})
            if self.path not in ("/invoices", "/invoices/red"):
                return self._answer(404, {"code": "4040", "message": "no such endpoint"})
            total = body.get("total") or {}
            excl, tax = Decimal(total["amount_excl"]), Decimal(total["tax"])
            if excl + tax != Decimal(total["amount_incl"]):
                return self._answer(200, {"code": "4002", "message": "金额不一致"})
            state.counter += 1
            data = {
                "invoice_number": f"2644{state.counter:016d}",
                "invoice_code": "" if self.path == "/invoices" else "RED",
                "issue_time": "2026-12-02 10:15:00",
                "amount_excl": total["amount_excl"],
                "tax": total["tax"],
                "amount_incl": total["amount_incl"],
                "serial_no": f"SN{state.counter:06d}",
            }
            return self._answer(200, {"code": "0000", "message": "success", "data": data})

        def _answer(self, status: int, body: dict[str, Any]) -> None:
            payload = json.dumps(body, ensure_ascii=False).encode("utf-8")
            self.send_response(status)
            self.send_header("Content-Type", "application/json;charset=utf-8")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
