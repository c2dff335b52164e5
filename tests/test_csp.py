"""The Content-Security-Policy (issue 13, section 3): on every page, public and workspace, and the pages
need nothing it forbids: no inline <script>, no inline event handlers, nothing loaded from another host."""

from __future__ import annotations

import re
from typing import Any

from crm.platform.security import POLICY

INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.I)
INLINE_HANDLER = re.compile(r"\son(click|change|submit|load|input)\s*=", re.I)
FOREIGN = re.compile(r"""(?:src|href)=["']https?://(?!localhost|[a-z0-9-]+\.localhost)""", re.I)


def check(response: Any) -> str:
    assert response["Content-Security-Policy"] == POLICY
    html = response.content.decode()
    assert not INLINE_SCRIPT.search(html), INLINE_SCRIPT.search(html)
    assert not INLINE_HANDLER.search(html), INLINE_HANDLER.search(html)
    assert not FOREIGN.search(html), FOREIGN.search(html)
    return html


def test_policy_allows_only_own_scripts() -> None:
    assert (
        "script-src 'self'" in POLICY and "unsafe-inline" not in POLICY.split("script-src")[1].split(";")[0]
    )
    assert "unsafe-eval" not in POLICY and "frame-ancestors 'none'" in POLICY


def test_public_pages_carry_the_policy(public_client: Any, world: Any) -> None:
    for path in ("/", "/pricing/", "/signup/", "/console/login/"):
        response = public_client.get(path)
        assert response.status_code in (200, 302), path
        if response.status_code == 200:
            check(response)


def test_workspace_pages_carry_the_policy(alpha: Any) -> None:
    owner = alpha.client("owner")
    for path in (
        "/",
        "/customers/",
        "/tasks/",
        "/products/",
        "/retail/results/",
        "/settings/",
        "/billing/",
        "/webhooks/",
        "/api/v1/docs/",
    ):
        response = owner.get(path)
        assert response.status_code == 200, path
        check(response)
    assert alpha.client("clerk").get("/retail/lookup/")["Content-Security-Policy"] == POLICY
    # Error pages too.
    assert owner.get("/no-such-page/")["Content-Security-Policy"] == POLICY
