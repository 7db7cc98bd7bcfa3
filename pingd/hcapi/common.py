"""What every resource of the Healthchecks-compatible API shares: versions, keys, CORS, errors.

The API under ``/api/v1/``, ``/api/v2/`` and ``/api/v3/`` answers as
Healthchecks does (``hc/api/decorators.py``): the key from ``X-Api-Key`` (or,
for a POST, the ``api_key`` field of its JSON body), ``401 {"error": "missing
api key"}`` or ``{"error": "wrong api key"}``, a read-only key refused on a
read-write resource with the same 401, CORS headers, ``OPTIONS`` answered 204
and a wrong method 405, both with empty bodies. Resources declare ``access``
and ``cors`` per method; ``HcMiddleware`` reads them. It must not know any
resource or family; they import it.
"""

from __future__ import annotations

import json
import logging
import re
import time
from typing import Any
from typing import Protocol

import falcon

from pingd.domain.transport import clear_key_message
from pingd.domain.transport import key_sent_in_clear
from pingd.errors import BadRequest
from pingd.errors import InvalidInput
from pingd.errors import PayloadTooLarge
from pingd.errors import PingdError
from pingd.errors import Unauthorized
from pingd.service import Service

logger = logging.getLogger("pingd.hcapi")

VERSIONS = (1, 2, 3)
_HC_PATH = re.compile(r"/api/v([123])(?:/|$)")
MAX_BODY_BYTES = 65536

# Access levels a resource declares per method.
NONE, READ, WRITE = "none", "read", "write"


def is_hc_path(path: str) -> bool:
    """Tell whether a request path belongs to the Healthchecks-compatible API."""
    return _HC_PATH.match(path) is not None


def version_of(req: falcon.Request) -> int:
    """Return the API version a request used (1, 2 or 3)."""
    match = _HC_PATH.match(req.path)
    return int(match.group(1)) if match else 3


class Key(Protocol):
    """What the API needs of an authenticated key (``pingd.store.projects.ApiKey``)."""

    @property
    def prefix(self) -> str: ...

    @property
    def read_only(self) -> bool: ...


def caller_is_read_only(req: falcon.Request) -> bool:
    """Tell whether the request was made with a read-only key (its answers differ)."""
    key: Key = req.context.hc_key
    return key.read_only


def body_of(req: falcon.Request) -> dict[str, Any]:
    """Return the JSON object the middleware read from a POST ({} when it had no body)."""
    body: dict[str, Any] = req.context.hc_json
    return body


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _read_json(req: falcon.Request) -> dict[str, Any]:
    """Read a POST body as Healthchecks does: {} when empty, else a JSON object."""
    length = req.content_length
    if length is not None and length > MAX_BODY_BYTES:
        raise PayloadTooLarge(f"request body is larger than {MAX_BODY_BYTES} bytes")
    raw = req.bounded_stream.read(MAX_BODY_BYTES + 1)
    if len(raw) > MAX_BODY_BYTES:
        raise PayloadTooLarge(f"request body is larger than {MAX_BODY_BYTES} bytes")
    if not raw:
        return {}
    try:
        data = json.loads(raw.decode("utf-8"), parse_constant=_refuse_constant)
        # Text JSON allows but UTF-8 cannot hold ("\ud800") could not be stored.
        json.dumps(data, ensure_ascii=False).encode("utf-8")
    except (ValueError, UnicodeError, RecursionError):
        raise BadRequest("could not parse request body") from None
    if not isinstance(data, dict):
        raise BadRequest("json validation error: value is not an object")
    return data


class HcMiddleware:
    """Keys, CORS, OPTIONS and the log line of every request under ``/api/v1|2|3/``."""

    def __init__(self, service: Service, *, require_https: str = "auto") -> None:
        self._service = service
        self._require_https = require_https

    def process_request(self, req: falcon.Request, resp: falcon.Response) -> None:
        if is_hc_path(req.path):
            req.context.hc_started = time.perf_counter()
            req.context.hc_key = None

    def process_resource(
        self, req: falcon.Request, resp: falcon.Response, resource: Any, params: dict[str, Any]
    ) -> None:
        if resource is None or not is_hc_path(req.path) or req.method == "OPTIONS":
            return
        needed = resource.access.get(req.method, NONE)
        req.context.hc_json = {}
        if needed == NONE:
            return
        if req.method == "POST":
            req.context.hc_json = _read_json(req)
        presented = req.get_header("X-Api-Key")
        if presented is None and needed == WRITE and "api_key" in req.context.hc_json:
            presented = str(req.context.hc_json["api_key"])
        if not presented:
            raise Unauthorized("missing api key")
        client = req.remote_addr or ""
        if key_sent_in_clear(self._require_https, req.scheme, client):
            raise Unauthorized(clear_key_message(client, presented))
        key = self._service.authenticate(presented)
        if key is None or (needed == WRITE and key.read_only):
            raise Unauthorized("wrong api key")
        req.context.hc_key = key

    def process_response(
        self, req: falcon.Request, resp: falcon.Response, resource: Any, req_succeeded: bool
    ) -> None:
        if not is_hc_path(req.path):
            return
        methods = getattr(resource, "cors", None)
        if methods:
            resp.set_header("Access-Control-Allow-Origin", "*")
            resp.set_header("Access-Control-Allow-Headers", "X-Api-Key")
            resp.set_header("Access-Control-Allow-Methods", ", ".join((*methods, "OPTIONS")))
            resp.set_header("Access-Control-Max-Age", "600")
        key = getattr(req.context, "hc_key", None)
        started = getattr(req.context, "hc_started", time.perf_counter())
        logger.info(
            "hcapi %s %s status=%s ms=%.1f key=%s",
            req.method,
            req.path,
            resp.status_code,
            (time.perf_counter() - started) * 1000,
            f"{key.prefix}…" if key else "-",
        )


def render_hc_error(resp: falcon.Response, ex: PingdError) -> None:
    """Answer an error as Healthchecks does: JSON for 400 and 401, empty 403 and 405, text else."""
    status, message = ex.status, ex.message
    if isinstance(ex, InvalidInput):  # the service's own validation, in Healthchecks' words
        status = 400
        field, problem = next(iter(ex.fields.items()), ("body", "is not valid"))
        message = f"json validation error: {field} {_short(problem)}"
    if status == 404:  # no such route or check; Healthchecks sends an HTML page
        message = "not found"
    resp.status = status
    if status in (400, 401, 413):
        resp.content_type = falcon.MEDIA_JSON
        resp.text = json.dumps({"error": message})
    elif status in (403, 405):
        resp.data = b""
    else:
        resp.content_type = falcon.MEDIA_TEXT
        resp.text = message
    retry_after = getattr(ex, "retry_after_seconds", None)
    if retry_after is not None:
        resp.set_header("Retry-After", str(retry_after))


def _short(problem: str) -> str:
    """Turn a /v1 problem ("must be a string", "is too long (…)") into Healthchecks' form."""
    if problem.startswith("must be a string"):
        return "is not a string"
    return problem.split(" (")[0] if problem.startswith("is ") else problem


class HcResource:
    """Base of every Healthchecks-compatible resource: its service and the OPTIONS answer."""

    access: dict[str, str] = {}
    cors: tuple[str, ...] = ()

    def __init__(self, service: Service, base_url: str) -> None:
        self._service = service
        self._base_url = base_url

    def on_options(self, req: falcon.Request, resp: falcon.Response, **params: Any) -> None:
        resp.status = 204
        resp.data = b""


def answer(resp: falcon.Response, data: Any, status: int = 200) -> None:
    """Send a JSON answer in Healthchecks' shape (no envelope)."""
    resp.status = status
    resp.content_type = falcon.MEDIA_JSON
    resp.text = json.dumps(data)
