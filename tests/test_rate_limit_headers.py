"""`X-RateLimit-*` headers on API answers (issue 13, section 2): the workspace's budget, what is left of it
after this request, and when the window frees a request; a 429 carries them too."""

from __future__ import annotations

from typing import Any


def test_headers_count_down_to_the_limit(alpha: Any, settings: Any) -> None:
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"tenant": "3/hour"}}
    client = alpha.client("sales")
    answers = [client.get("/api/v1/me/") for _ in range(4)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert [a["X-RateLimit-Limit"] for a in answers] == ["3"] * 4
    assert [a["X-RateLimit-Remaining"] for a in answers] == ["2", "1", "0", "0"]
    assert all(0 < int(a["X-RateLimit-Reset"]) <= 3600 for a in answers)
    assert answers[3].json()["error"]["code"] == "throttled"


def test_pages_outside_the_api_carry_no_rate_headers(alpha: Any) -> None:
    page = alpha.client("sales").get("/")
    assert "X-RateLimit-Limit" not in page
