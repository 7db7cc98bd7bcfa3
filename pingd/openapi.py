"""The OpenAPI 3.1 document of the management API (placeholder, filled below)."""

from __future__ import annotations

from typing import Any


def build_document(base_url: str) -> dict[str, Any]:
    """Return the OpenAPI document describing /v1."""
    return {"openapi": "3.1.0", "info": {"title": "pingd", "version": "0"}, "paths": {}}
