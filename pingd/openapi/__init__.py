"""The OpenAPI 3.1 document of the management API, served at ``/v1/openapi.json``.

Written by hand to describe what pingd/api/ does; tests/test_openapi.py runs
Schemathesis against the app with this document to keep the two honest.

Each family's paths and schemas sit in its own module (``checks``,
``channels``, ``windows``, ``project``), with what they share in ``common``; this file
holds only ``build_document``, which puts them together in the document's
order, with the parts that belong to no family (info, servers, security).
"""

from __future__ import annotations

from typing import Any

from pingd import __version__
from pingd.openapi import channels
from pingd.openapi import checks
from pingd.openapi import common
from pingd.openapi import project
from pingd.openapi import windows


def _paths() -> dict[str, Any]:
    return {
        **project.status_paths(),
        **project.project_paths(),
        **checks.paths(),
        **channels.paths(),
        **windows.paths(),
        **project.document_paths(),
    }


def _schemas() -> dict[str, Any]:
    return {
        **common.schemas(),
        **checks.schemas(),
        **project.project_schemas(),
        **channels.schemas(),
        **windows.schemas(),
        **project.status_schemas(),
    }


def build_document(base_url: str) -> dict[str, Any]:
    """Return the OpenAPI document describing /v1."""
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "pingd management API",
            "version": __version__,
            "description": (
                "Manage checks and read their history. Send the API key in `X-Api-Key` "
                "(or `Authorization: Bearer`). Add `x-developer-mode: true` to work on a "
                "private in-memory sandbox of fake checks instead of real data."
            ),
        },
        "servers": [{"url": base_url}],
        "security": [{"ApiKey": []}, {"Bearer": []}],
        "paths": _paths(),
        "components": {
            "securitySchemes": {
                "ApiKey": {"type": "apiKey", "in": "header", "name": "X-Api-Key"},
                "Bearer": {"type": "http", "scheme": "bearer"},
            },
            "headers": {
                "X-Request-Id": {
                    "description": "The requestId of the body, to quote when asking for help",
                    "schema": {"type": "string", "format": "uuid"},
                }
            },
            "parameters": checks.parameters(),
            "schemas": _schemas(),
        },
    }
