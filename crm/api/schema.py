"""OpenAPI post-processing: document the one error shape on every operation, for every module at once."""

from __future__ import annotations

from typing import Any

ERROR_SCHEMA = {
    "type": "object",
    "properties": {
        "error": {
            "type": "object",
            "properties": {
                "code": {"type": "string", "example": "invalid"},
                "message": {"type": "string"},
                "fields": {
                    "type": "object",
                    "additionalProperties": {"type": "array", "items": {"type": "string"}},
                    "description": "Per-field messages (empty when the error is not about one field).",
                },
                "field_codes": {
                    "type": "object",
                    "additionalProperties": {"type": "array", "items": {"type": "string"}},
                    "description": "400 answers only: per field, machine-readable codes (required, "
                    "max_length, invalid, null, does_not_exist, ...) in the order of the messages.",
                },
            },
            "required": ["code", "message", "fields"],
        }
    },
    "required": ["error"],
}
ERROR_STATUSES = {
    "400": "Invalid input or a business rule refused it; nothing was changed.",
    "401": "Not signed in, or the API key is wrong or revoked.",
    "403": "Signed in but not permitted.",
    "404": "No such route or object (also every route of a module the workspace has not enabled).",
    "429": "The workspace's request budget is used up; retry later.",
}
# Only for writes: a read-only workspace still answers reads.
WRITE_ERROR_STATUSES = {
    "413": "The request body is over the upload limit; nothing was changed.",
    "423": "The workspace is read-only (suspended); nothing was changed. Reads still work.",
}


def add_error_responses(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict[str, Any]:
    """drf-spectacular post-processing hook (SPECTACULAR_SETTINGS["POSTPROCESSING_HOOKS"])."""
    result.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_SCHEMA
    ref = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    for operations in result.get("paths", {}).values():
        for method, operation in operations.items():
            responses = operation.setdefault("responses", {})
            statuses = dict(ERROR_STATUSES)
            if method in ("post", "put", "patch", "delete"):
                statuses.update(WRITE_ERROR_STATUSES)
            for code, description in statuses.items():
                responses.setdefault(code, {"description": description, "content": ref})
    return result
