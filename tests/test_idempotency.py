"""`Idempotency-Key` on API POSTs (crm/api/idempotency.py): a retry replays the first answer and creates
nothing new; the key is scoped to workspace and caller; a reused key with another body is refused."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.utils import timezone
from django_tenants.utils import schema_context

from crm.api.idempotency import purge
from crm.modules.core.models import Customer
from crm.platform.models import IdempotencyRecord

URL = "/api/v1/core/customers/"


def post(client: Any, body: dict[str, Any], key: str | None) -> Any:
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key is not None else {}
    return client.post(URL, body, content_type="application/json", **headers)


def count(tenant: Any, name: str) -> int:
    with schema_context(tenant.schema):
        return Customer.objects.filter(name=name).count()


def test_a_retry_with_the_same_key_replays_the_first_answer(alpha: Any) -> None:
    client = alpha.client("sales")
    first = post(client, {"name": "重试有限公司"}, "k-1")
    again = post(client, {"name": "重试有限公司"}, "k-1")
    assert first.status_code == 201
    assert (again.status_code, again.json()) == (201, first.json())
    assert again["Idempotent-Replayed"] == "true" and "Idempotent-Replayed" not in first
    assert count(alpha, "重试有限公司") == 1


def test_the_same_key_with_another_body_is_refused_and_changes_nothing(alpha: Any) -> None:
    client = alpha.client("sales")
    assert post(client, {"name": "第一家"}, "k-2").status_code == 201
    reused = post(client, {"name": "第二家"}, "k-2")
    assert reused.status_code == 422
    assert reused.json()["error"]["code"] == "idempotency_key_reused"
    assert count(alpha, "第二家") == 0


def test_keys_belong_to_one_caller_in_one_workspace(alpha: Any, beta: Any) -> None:
    assert post(alpha.client("sales"), {"name": "各自一家"}, "shared-key").status_code == 201
    # Another user of the same workspace, and a user of another workspace, with the same key: their own.
    assert post(alpha.client("sales2"), {"name": "各自二家"}, "shared-key").status_code == 201
    other = post(beta.client("sales"), {"name": "各自一家"}, "shared-key")
    assert other.status_code == 201 and "Idempotent-Replayed" not in other
    assert count(alpha, "各自二家") == 1 and count(beta, "各自一家") == 1


def test_a_request_still_running_answers_409(alpha: Any) -> None:
    user = alpha.users["sales"]
    IdempotencyRecord.objects.create(
        schema_name=alpha.schema, principal=f"user:{user.pk}", key="busy", request_hash="x"
    )
    busy = post(alpha.client("sales"), {"name": "忙"}, "busy")
    # A different hash is checked first; the same request while the first one runs is 409.
    assert busy.status_code == 422
    IdempotencyRecord.objects.filter(key="busy").delete()
    import hashlib
    import json

    body = json.dumps({"name": "忙"}).encode()
    digest = hashlib.sha256(f"POST {URL}\n".encode() + body).hexdigest()
    IdempotencyRecord.objects.create(
        schema_name=alpha.schema, principal=f"user:{user.pk}", key="busy", request_hash=digest
    )
    busy = alpha.client("sales").post(URL, body, content_type="application/json", HTTP_IDEMPOTENCY_KEY="busy")
    assert busy.status_code == 409 and busy.json()["error"]["code"] == "idempotency_in_progress"
    assert count(alpha, "忙") == 0


def test_bad_keys_are_refused_and_refusals_are_not_remembered(alpha: Any) -> None:
    client = alpha.client("sales")
    assert post(client, {"name": "钥匙"}, "x" * 256).status_code == 400
    assert post(client, {"name": "钥匙"}, "bad\x01key").status_code == 400
    # A validation error is an answer like any other: replayed, still nothing created.
    assert post(client, {"name": ""}, "k-invalid").status_code == 400
    assert post(client, {"name": ""}, "k-invalid")["Idempotent-Replayed"] == "true"
    # A clerk's 403 is remembered for the clerk only.
    assert post(alpha.client("clerk"), {"name": "店员"}, "k-clerk").status_code == 403


def test_expired_records_are_purged_and_the_key_can_be_used_again(alpha: Any) -> None:
    client = alpha.client("sales")
    assert post(client, {"name": "过期一"}, "k-old").status_code == 201
    IdempotencyRecord.objects.filter(key="k-old").update(created_at=timezone.now() - timedelta(hours=25))
    assert purge() == 1
    assert post(client, {"name": "过期二"}, "k-old").status_code == 201
    assert count(alpha, "过期二") == 1


def test_the_schema_documents_the_header_on_every_post(alpha: Any) -> None:
    schema = alpha.client("owner").get("/api/v1/schema/?format=json").json()
    posts = [op for ops in schema["paths"].values() for method, op in ops.items() if method == "post"]
    assert posts and all(
        any(p["name"] == "Idempotency-Key" and p["in"] == "header" for p in op.get("parameters", []))
        for op in posts
    )
