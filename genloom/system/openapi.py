"""The OpenAPI document as the server really answers: request-validation failures are 400s in each surface's
error shape (FastAPI documents them as 422 HTTPValidationError)."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "type": "object",
    "description": "RFC 9457 problem details; `code` is stable and machine-readable, `field` names the input at fault.",
    "properties": {
        "type": {"type": "string"}, "title": {"type": "string"}, "status": {"type": "integer"},
        "code": {"type": "string"}, "message": {"type": "string"}, "detail": {"type": "string"},
        "instance": {"type": "string"}, "field": {"type": "string"},
    },
    "required": ["status", "code", "message"],
    "example": {"type": "https://genloom.dev/errors/validation_error", "title": "Validation failed",
                "status": 400, "code": "validation_error", "message": "input.prompt: Field required",
                "detail": "input.prompt: Field required", "instance": "/v1/jobs", "field": "input.prompt"},
}


def document_errors_as_served(app: FastAPI) -> None:
    """FastAPI documents request-validation failures as 422 HTTPValidationError; genloom answers them with
    400 in the surface's error shape. Make the OpenAPI document say what the server does."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        doc = build()
        schemas = doc.setdefault("components", {}).setdefault("schemas", {})
        schemas["Problem"] = PROBLEM_SCHEMA
        for name in ("HTTPValidationError", "ValidationError"):
            schemas.pop(name, None)
        for operations in doc.get("paths", {}).values():
            for operation in operations.values():
                responses = operation.get("responses", {})
                if responses.pop("422", None) is not None and "400" not in responses:
                    responses["400"] = {
                        "description": "Invalid input",
                        "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}},
                    }
        app.openapi_schema = doc
        return doc

    app.openapi = openapi  # type: ignore[method-assign]
