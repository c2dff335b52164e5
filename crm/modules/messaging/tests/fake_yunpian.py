"""A local fake of Yunpian's v2 single_send endpoint (threaded http.server on 127.0.0.1).

It records each request (path, headers, form) and answers like Yunpian: 200 + {"code": 0, ..., "sid": n}
on success, 400 + {"http_status_code": 400, "code": ..., "msg": ..., "detail": ...} on error."""

from __future__ import annotations

import json
import threading
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

PATH = "/v2/sms/single_send.json"


@dataclass
class FakeYunpian:
    url: str = ""
    requests: list[dict[str, Any]] = field(default_factory=list)
    # Next answers, consumed in order; empty: success.
    errors: list[tuple[int, int, str]] = field(default_factory=list)
    next_sid: int = 3310228982


@contextmanager
def fake_yunpian() -> Iterator[FakeYunpian]:
    state = FakeYunpian()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            form = urllib.parse.parse_qs(raw.decode("utf-8"), keep_blank_values=True)
            state.requests.append(
                {"path": self.path, "headers": dict(self.headers), "form": {k: v[0] for k, v in form.items()}}
            )
            if state.errors:
                status, code, msg = state.errors.pop(0)
                body: dict[str, Any] = {"http_status_code": status, "code": code, "msg": msg, "detail": msg}
            else:
                status = 200
                body = {
                    "code": 0,
                    "msg": "发送成功",
                    "count": 1,
                    "fee": 0.05,
                    "unit": "RMB",
                    "mobile": form.get("mobile", [""])[0],
                    "sid": state.next_sid,
                }
                state.next_sid += 1
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
    state.url = f"http://127.0.0.1:{server.server_address[1]}{PATH}"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
