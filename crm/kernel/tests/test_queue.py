"""The approver's queue page and API: only the user's own pending steps, constant queries, htmx."""

from __future__ import annotations

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_tenants.utils import schema_context

from crm.kernel.approvals import approval_status
from crm.kernel.models import ApprovalRequest
from crm.kernel.states import transition
from tests.dummy_module.factories import manager_rule, order


def _pending(alpha, n: int) -> list[ApprovalRequest]:
    with schema_context(alpha.schema):
        u = alpha.users
        for _ in range(n):
            doc = order(u["sales"], "200000")
            transition(actor=u["sales"], document=doc, name="submit")
        return list(ApprovalRequest.objects.filter(status="pending").order_by("id"))


def _queries(client, url: str) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200
    return len(ctx.captured_queries)


def test_queue_page_shows_only_my_steps_with_constant_queries(alpha):
    with schema_context(alpha.schema):
        manager_rule()
    manager = alpha.client("manager")
    first = _pending(alpha, 5)
    body = manager.get("/approvals/").content.decode()
    assert body.count('data-testid="approval"') == 5 and first[0].number in body
    few = _queries(manager, "/approvals/")
    _pending(alpha, 45)
    assert manager.get("/approvals/").content.decode().count('data-testid="approval"') == 50
    assert _queries(manager, "/approvals/") == few
    # The rep who submitted them, and the owner, have nothing to approve.
    for role in ("sales", "owner"):
        page = alpha.client(role).get("/approvals/").content.decode()
        assert 'data-testid="approval"' not in page


def test_approve_from_the_page_with_htmx_and_notice_count(alpha):
    with schema_context(alpha.schema):
        manager_rule()
    [req] = _pending(alpha, 1)
    manager = alpha.client("manager")
    page = manager.get("/approvals/").content.decode()
    assert 'data-testid="notice-count">1<' in page
    assert (
        'data-testid="approvals-link"' in manager.get("/").content.decode()
    )  # the header links to the queue
    url = f"/approvals/{req.pk}/decide/"
    refused = alpha.client("sales").post(url, {"decision": "approve"}, HTTP_HX_REQUEST="true")
    assert refused.status_code == 404
    response = manager.post(url, {"decision": "approve", "comment": "可以"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200 and 'data-testid="approval-result"' in response.content.decode()
    assert "<html" not in response.content.decode()  # a fragment for htmx to swap in
    with schema_context(alpha.schema):
        assert ApprovalRequest.objects.get(pk=req.pk).status == "approved"
        assert approval_status(req.document()) == "approved"
    manager.get("/notices/")
    assert 'data-testid="notice-count"' not in manager.get("/approvals/").content.decode()  # read now


def test_reject_without_htmx_redirects_with_the_error(alpha):
    with schema_context(alpha.schema):
        manager_rule()
    [req] = _pending(alpha, 1)
    manager = alpha.client("manager")
    response = manager.post(f"/approvals/{req.pk}/decide/", {"decision": "reject"})
    assert response.status_code == 302
    with schema_context(alpha.schema):
        assert ApprovalRequest.objects.get(pk=req.pk).status == "pending"  # a rejection needs a comment


def test_api_queue_and_decisions(alpha):
    with schema_context(alpha.schema):
        manager_rule()
    reqs = _pending(alpha, 3)
    manager = alpha.client("manager")
    listing = manager.get("/api/v1/kernel/approvals/")
    assert listing.status_code == 200
    data = listing.json()
    rows = data["results"] if isinstance(data, dict) else data
    assert [r["number"] for r in rows] == [r.number for r in reqs]
    assert rows[0]["rule"] == "大额订单" and rows[0]["amount"] == "200000.00"
    rep_rows = alpha.client("sales").get("/api/v1/kernel/approvals/").json()
    assert (rep_rows["results"] if isinstance(rep_rows, dict) else rep_rows) == []
    # The rep cannot approve their own order: not in their queue, so not found.
    refused = alpha.client("sales").post(f"/api/v1/kernel/approvals/{reqs[0].pk}/approve/", {})
    assert refused.status_code == 404 and refused.json()["error"]["code"] == "not_found"
    bad = manager.post(f"/api/v1/kernel/approvals/{reqs[0].pk}/reject/", {}, content_type="application/json")
    assert bad.status_code == 400 and bad.json()["error"]["fields"] == {
        "comment": [bad.json()["error"]["message"]]
    }
    ok = manager.post(
        f"/api/v1/kernel/approvals/{reqs[0].pk}/approve/", {"comment": "ok"}, content_type="application/json"
    )
    assert ok.status_code == 200 and ok.json()["status"] == "approved"
    rejected = manager.post(
        f"/api/v1/kernel/approvals/{reqs[1].pk}/reject/", {"comment": "太贵"}, content_type="application/json"
    )
    assert rejected.json()["status"] == "rejected"
    remaining = manager.get("/api/v1/kernel/approvals/").json()
    assert [r["id"] for r in (remaining["results"] if isinstance(remaining, dict) else remaining)] == [
        reqs[2].pk
    ]
