"""OpenAPI helpers: problem responses from the one table, bodies of raw-read routes, the signing scheme."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel

from backend.problems import MEDIA_TYPE, PROBLEMS, TYPE_BASE

AUTH_CODES = (
    "missing-authorization",
    "malformed-authorization",
    "stale-timestamp",
    "bad-nonce",
    "replayed-nonce",
    "unknown-partner-or-key",
    "revoked-key",
    "bad-signature",
)

SIGNING = """Every partner request is signed (contract v1):

    Authorization: TANHUI-HMAC-SHA256 partner="…",key="…",timestamp="…",nonce="…",signature="<base64>"

`signature` = base64(HMAC-SHA256(secret, canonical)); `canonical` is five lines, each ended by `\\n`:
METHOD, PATH?QUERY (as sent), timestamp (Unix s, ±300 s), nonce (16–64 of [A-Za-z0-9], single use
for 600 s), lowercase hex SHA-256 of the raw body. Failures answer 401 naming the failed check."""


def problem_responses(*codes: str, signed: bool = True) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses=`` for the given problem codes (plus the signing failures)."""
    by_status: dict[int, list[str]] = {}
    for code in (*codes, *(AUTH_CODES if signed else ())):
        by_status.setdefault(PROBLEMS[code][0], []).append(code)
    return {
        status: {
            "description": "; ".join(f"`{TYPE_BASE}{c}`: {PROBLEMS[c][1]}" for c in sorted(set(cs))),
            "content": {MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
        }
        for status, cs in sorted(by_status.items())
    }


def json_body(model: type[BaseModel]) -> dict[str, Any]:
    """``openapi_extra`` documenting a body that the route reads raw (it must verify the signed bytes)."""
    return {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{model.__name__}"}}},
        },
        "security": [{"TanhuiHmac": []}],
    }


SIGNED_ONLY: dict[str, Any] = {"security": [{"TanhuiHmac": []}]}


def install(app: FastAPI, models: list[type[BaseModel]]) -> None:
    """Add the models of raw-read bodies, the Problem schema and the signing scheme to the document."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        doc = get_openapi(
            title=app.title, version=app.version, description=app.description, routes=app.routes
        )
        schemas = doc.setdefault("components", {}).setdefault("schemas", {})
        for model in models:
            js = model.model_json_schema(ref_template="#/components/schemas/{model}")
            schemas.update(js.pop("$defs", {}))
            schemas[model.__name__] = js
        doc["components"]["securitySchemes"] = {
            "TanhuiHmac": {"type": "apiKey", "in": "header", "name": "Authorization", "description": SIGNING},
            "Bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
        }
        app.openapi_schema = doc
        return doc

    app.openapi = openapi  # type: ignore[method-assign]
