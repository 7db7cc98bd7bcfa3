"""The project family of the OpenAPI document: health, the project, the document itself.

Describes ``/v1/status``, ``/v1/project`` and ``/v1/openapi.json`` and the
``Status`` and ``Project`` schemas, as pingd.api.project answers them. The
document lists these around the other families (status and project first,
this document last; ``Project`` among the schemas, ``Status`` last), so each
comes in its own function. It must not describe checks or channels, nor
import the other family modules of this package.
"""

from __future__ import annotations

from typing import Any

from pingd.openapi.common import answer
from pingd.openapi.common import envelope
from pingd.openapi.common import errors
from pingd.openapi.common import operation
from pingd.openapi.common import ref


def project_schemas() -> dict[str, Any]:
    return {
        "Project": {
            "type": "object",
            "required": ["name", "ping_key", "ping_url_base", "uuid", "metrics_url_base"],
            "properties": {
                "name": {"type": "string"},
                "ping_key": {"type": "string", "pattern": "^[a-z0-9]{22}$"},
                "ping_url_base": {"type": "string", "format": "uri"},
                "uuid": {"type": "string", "format": "uuid"},
                "metrics_url_base": {
                    "type": "string",
                    "format": "uri",
                    "description": "Prometheus metrics: add a read-only API key",
                },
            },
        },
    }


def status_schemas() -> dict[str, Any]:
    return {
        "Status": {
            "type": "object",
            "required": ["status", "version"],
            "properties": {"status": {"const": "ok"}, "version": {"type": "string"}},
        },
    }


def status_paths() -> dict[str, Any]:
    public: list[dict[str, Any]] = [{}]
    return {
        "/v1/status": {"get": operation(
            "Health: answers after a database round trip",
            {"200": answer(envelope(ref("Status")), "The server and database answer"),
             **errors()},
            security=public)},
    }  # fmt: skip


def project_paths() -> dict[str, Any]:
    return {
        "/v1/project": {"get": operation(
            "The project: its ping key and the base of its ping URLs",
            {"200": answer(envelope(ref("Project")), "The project"), **errors(403)})},
    }  # fmt: skip


def document_paths() -> dict[str, Any]:
    public: list[dict[str, Any]] = [{}]
    return {
        "/v1/openapi.json": {"get": operation(
            "This document",
            {"200": {"description": "The OpenAPI document",
                     "headers": {"X-Request-Id": {"$ref": "#/components/headers/X-Request-Id"}},
                     "content": {"application/json": {"schema": {"type": "object"}}}},
             **errors()},
            security=public)},
    }  # fmt: skip
