"""Schemathesis over the served OpenAPI schema (issue 13 section 1): for every operation of the tenant API,
with every module on, requests generated from the schema (bounded examples, positive and negative data) are
sent as the workspace owner through Django's test client. Checks, per answer:

- never a server error (status >= 500);
- errors keep the one shape ``{"error": {code, message, fields}}``;
- the status code is one the operation documents (or 405, 406, 415, which any route may answer);
- a documented JSON answer conforms to its documented schema (``$ref``s inlined, nullable as null).

It keeps running as modules add routes: operations are read from the schema, not listed here. The number of
examples per operation is ``CRM_SCHEMATHESIS_EXAMPLES`` (default 12): the suite stays fast; a deeper run is
``CRM_SCHEMATHESIS_EXAMPLES=200 make test PYTEST_ARGS=tests/test_schemathesis.py``.
"""

from __future__ import annotations

import json
import os
from typing import Any
from urllib.parse import urlencode

import hypothesis
import jsonschema
import pytest
import schemathesis
from django.db import DatabaseError, connection, transaction
from drf_spectacular.generators import SchemaGenerator
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings

from crm.platform.registry import registry
from tests.test_api_bad_input import _planted_ids
from tests.test_module_contract import set_module
from tests.test_openapi import _json_schema

pytestmark = pytest.mark.schemathesis
EXAMPLES = int(os.environ.get("CRM_SCHEMATHESIS_EXAMPLES", "12"))
# Answers any route may give whatever it documents: a method or a media type it does not take. (401, 403,
# 404, 429 on every operation and 413, 423 on writes are documented by crm/api/schema.py.)
GENERIC = {405, 406, 415}
# Operations that must not run against the shared session tenant (they would change who may call the API
# for the rest of the run, or send real work to the worker): their own tests cover them.
SKIP = {
    ("POST", "/api/v1/keys/"),
}


def _schema() -> dict[str, Any]:
    return SchemaGenerator(urlconf="config.urls_tenant").get_schema(request=None, public=True)  # type: ignore[no-any-return]


def _error_shape_ok(status: int, body: bytes) -> bool:
    if status < 400:
        return True
    try:
        error = json.loads(body)["error"]
    except (ValueError, KeyError, TypeError):
        return False
    return isinstance(error, dict) and {"code", "message", "fields"} <= set(error)


def _send(client: Any, case: Any) -> tuple[int, bytes, str]:
    path = case.formatted_path
    query = case.query or {}
    if query:
        path += "?" + urlencode(query, doseq=True)
    method = case.method.lower()
    kwargs: dict[str, Any] = {}
    if method in ("post", "put", "patch", "delete") and case.body is not None and not _is_null(case.body):
        media = case.media_type or "application/json"
        if media == "application/json":
            kwargs = {"data": json.dumps(case.body), "content_type": "application/json"}
        elif media.startswith("multipart/"):
            fields = case.body if isinstance(case.body, dict) else {}
            kwargs = {"data": {k: v for k, v in fields.items() if v is not None and k}}
        else:
            kwargs = {"data": json.dumps(case.body), "content_type": media}
    elif method in ("post", "put", "patch"):
        kwargs = {"data": "{}", "content_type": "application/json"}
    # Each request in a savepoint, as each request has its own transaction in production: a server error
    # that breaks the transaction is reported, and the next request starts clean.
    savepoint = transaction.savepoint()
    response = getattr(client, method)(path, **kwargs)
    try:
        # A streamed answer (exports) queries while it is read: read it inside the request's savepoint.
        body = b"".join(response.streaming_content) if response.streaming else response.content
    except Exception as exc:  # the stream broke half-way: to the client that is a server error
        body, response.status_code = repr(exc).encode(), 500
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        transaction.savepoint_commit(savepoint)
    except DatabaseError:
        transaction.savepoint_rollback(savepoint)
    connection.set_schema_to_public()  # type: ignore[attr-defined]
    return response.status_code, body, response.get("Content-Type", "")


def _is_null(body: Any) -> bool:
    return type(body).__name__ == "NotSet"


def _check(openapi: dict[str, Any], case: Any, status: int, body: bytes, content_type: str) -> str | None:
    label = f"{case.method} {case.formatted_path} {case.query or ''}"
    if status >= 500:
        return f"{label}: {status} {body[:300]!r}"
    if not _error_shape_ok(status, body):
        return f"{label}: {status} outside the error shape: {body[:200]!r}"
    documented = openapi["paths"][case.path][case.method.lower()]["responses"]
    if str(status) not in documented and status not in GENERIC:
        return f"{label}: status {status} not documented ({sorted(documented)})"
    answer = documented.get(str(status), {})
    schema = answer.get("content", {}).get("application/json", {}).get("schema")
    if schema is not None and content_type.startswith("application/json") and body:
        try:
            jsonschema.validate(json.loads(body), _json_schema(schema, openapi["components"]["schemas"]))
        except jsonschema.ValidationError as exc:
            return f"{label}: {status} does not match its schema at {exc.json_path}: {exc.message[:200]}"
    return None


def test_every_operation_against_its_schema(alpha):
    # Given every module on in alpha, one row of each module's lists, the owner signed in
    for manifest in registry.sellable():
        if manifest.available:
            set_module(alpha.tenant, manifest.slug, True)
    _planted_ids(alpha)
    client = alpha.client("owner")
    client.raise_request_exception = False  # a view's exception is the 500 answer the check reports
    openapi = _schema()
    loaded = schemathesis.openapi.from_dict(openapi)
    failures: list[str] = []
    operations = 0

    for result in loaded.get_all_operations():
        operation = result.ok()  # type: ignore[union-attr]  # an invalid schema fails test_openapi first
        if (operation.method.upper(), operation.path) in SKIP:
            continue
        operations += 1

        @hsettings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
            phases=[hypothesis.Phase.explicit, hypothesis.Phase.generate],
        )
        @given(case=operation.as_strategy())
        def run(case: Any) -> None:
            status, body, content_type = _send(client, case)
            problem = _check(openapi, case, status, body, content_type)
            if problem and len(failures) < 50:
                failures.append(problem)

        run()

    # Then nothing failed, and the run did cover the API (every module's operations are in the schema)
    assert failures == [], "\n".join(sorted(set(failures)))
    assert operations > 60
