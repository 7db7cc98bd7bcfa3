"""Hostile input, fuzzed: whatever arrives under /ping/ or /v1, pingd never answers 500.

Issue 5 ("no 500 under hostile input") and SPEC §1.4 and §3.1. Hypothesis builds
raw WSGI requests (the environ a server such as waitress hands over: a
percent-decoded ``PATH_INFO`` of arbitrary bytes, a raw ``QUERY_STRING``, latin-1
header values, a body of any size and shape) and sends them through WebTest
with its linter off. Every answer must:

- never be a 5xx, and never contain "Traceback" or a Python exception name;
- under ``/ping/``: be ``text/plain; charset=utf-8`` with the CORS and cache
  headers, and one of the status/body pairs of SPEC §1.4 (HEAD: no body,
  OPTIONS: 204);
- under ``/v1``: be JSON in the SPEC §3.1 envelope with a ``requestId`` equal to
  ``X-Request-Id`` (``GET /v1/openapi.json`` and a stored ping body are the
  documented exceptions).

Afterwards the app still answers a normal ping ``200 OK`` and the database
passes ``PRAGMA integrity_check``. Rate limits are set out of reach; the clock
is real (nothing here depends on time).
"""

from __future__ import annotations

import builtins
import io
import json
import re
import socket
import sqlite3
import uuid as uuidlib
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import webtest
from hypothesis import HealthCheck
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from pingd.app import create_app
from pingd.app import make_notifier
from pingd.app import make_service
from pingd.app import open_store
from pingd.config import default_config
from pingd.service import Service
from pingd.writer.store import Store

FUZZ_SETTINGS = settings(
    max_examples=500,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
MAX_API_BODY = 65536

# SPEC §1.4: every status the Pinging API may answer, with its exact body.
PING_ANSWERS: dict[int, set[bytes]] = {
    200: {b"OK"},
    201: {b"Created"},
    204: {b""},  # OPTIONS, a CORS preflight (SPEC §1.2)
    400: {b"invalid url format", b"invalid uuid format"},
    404: {b"not found"},
    405: {b"method not allowed"},
    409: {b"ambiguous slug"},
    413: {b"request body too large"},
}
API_STATUSES = {200, 201, 400, 403, 404, 405, 409, 413, 422}
SCREAMING_SNAKE = re.compile(r"[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)*")
EXCEPTION_NAMES = sorted(
    {
        name
        for name, value in vars(builtins).items()
        if isinstance(value, type) and issubclass(value, BaseException)
    }
    | {"OperationalError", "IntegrityError", "DatabaseError", "ProgrammingError"}
    | {"Traceback", 'File "', "sqlite3.", "falcon."}
)


@dataclass(frozen=True)
class World:
    """One pingd app over a real database file, and what the fuzzer may aim at."""

    app: webtest.TestApp
    db: Path
    store: Store
    service: Service
    rw_key: str
    ro_key: str
    ping_key: str
    target_uuid: str
    canary_uuid: str  # never offered to the fuzzer: the health ping after each test
    channel_id: int
    closed_url: str


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    tmp = tmp_path_factory.mktemp("fuzz")
    db = tmp / "pingd.db"
    config = default_config(api__burst=100000, api__rate_per_second=100000, storage__path=str(db))
    # A port that is bound but never listening: a webhook aimed at it is refused
    # at once, so POST /v1/channels/{id}/test stays on loopback and fast.
    closed = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    closed.bind(("127.0.0.1", 0))
    closed_url = f"http://127.0.0.1:{closed.getsockname()[1]}/hook"
    store = open_store(config)
    try:
        service = make_service(config, store, notifier=make_notifier(config))
        boot = service.bootstrap()
        assert boot.new_api_key is not None
        ro_key = service.create_api_key("fuzz read-only", read_only=True)
        target = service.create_check(name="Fuzz target")
        service.create_check(name="Twin")
        service.create_check(name="Twin")  # a slug shared by two checks: 409
        canary = service.create_check(name="Canary")
        channel = service.create_channel(
            "webhook", "closed", {"url_down": closed_url, "url_up": closed_url}, attach_all=True
        )
        app = create_app(config, store=store, service=service)
        yield World(
            app=webtest.TestApp(app, lint=False),
            db=db,
            store=store,
            service=service,
            rw_key=boot.new_api_key,
            ro_key=ro_key,
            ping_key=boot.project.ping_key,
            target_uuid=target.uuid,
            canary_uuid=canary.uuid,
            channel_id=channel.id,
            closed_url=closed_url,
        )
    finally:
        store.close()
        closed.close()


# -- requests ----------------------------------------------------------------------


@dataclass(frozen=True)
class RawRequest:
    method: str
    path: bytes  # percent-decoded, as a server puts it into PATH_INFO
    query: bytes
    headers: tuple[tuple[str, str], ...]
    body: bytes

    def describe(self) -> str:
        headers = ", ".join(f"{name}: {value[:80]!r}" for name, value in self.headers)
        return (
            f"{self.method} {self.path[:300]!r} ?{self.query[:200]!r} [{headers}]"
            f" body {len(self.body)} bytes {self.body[:120]!r}"
        )


def send(world: World, request: RawRequest) -> webtest.TestResponse:
    environ: dict[str, Any] = {
        "REQUEST_METHOD": request.method,
        "PATH_INFO": request.path.decode("latin-1"),
        "QUERY_STRING": request.query.decode("latin-1"),
        "REMOTE_ADDR": "192.0.2.7",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "wsgi.input": io.BytesIO(request.body),
    }
    if request.body or request.method in ("POST", "PUT", "PATCH"):
        environ["CONTENT_LENGTH"] = str(len(request.body))
    for name, value in request.headers:
        if name.lower() == "content-type":
            environ["CONTENT_TYPE"] = value
        else:
            environ["HTTP_" + name.upper().replace("-", "_")] = value
    req = webtest.TestRequest.blank("/", environ=environ)
    response: webtest.TestResponse = world.app.do_request(req, status="*", expect_errors=True)
    return response


def weighted(*choices: tuple[int, st.SearchStrategy[Any]]) -> st.SearchStrategy[Any]:
    """Draw from each strategy in proportion to its weight (one_of weighs them alike)."""
    return st.sampled_from([s for weight, s in choices for _ in range(weight)]).flatmap(
        lambda strategy: strategy
    )


def _cased(text: str) -> st.SearchStrategy[str]:
    return st.sampled_from([text, text.upper(), text.lower(), text.swapcase()])


UUIDS = st.uuids().map(str).flatmap(_cased)
NEAR_UUIDS = st.uuids().flatmap(
    lambda u: st.sampled_from(
        [u.hex, "{" + str(u) + "}", str(u) + "\n", str(u)[:-1], str(u) + "0", "urn:uuid:" + str(u)]
    )
)
SLUGS = st.from_regex(r"[a-z0-9_-]{1,40}", fullmatch=True)
UPPER_SLUGS = st.from_regex(r"[a-zA-Z0-9_-]{0,10}[A-Z][a-zA-Z0-9_-]{0,10}", fullmatch=True)
SQL = st.sampled_from(
    [
        "x' OR 1=1 --",
        "'; DROP TABLE checks; --",
        '" OR ""="',
        "1; SELECT * FROM api_keys",
        "%' OR '1'='1",
        "fuzz-target' --",
        "1 UNION SELECT key_hash FROM api_keys",
        "\\'; PRAGMA writable_schema=1; --",
    ]
)
ACTIONS = st.sampled_from(
    ["start", "fail", "log", "0", "1", "007", "255", "256", "0000000000000000000000001", "-1"]
) | st.integers(0, 10**6).map(str)
OVERLONG = st.tuples(
    st.sampled_from(["a", "9", "-", "é", "%", "💥", "A"]), st.integers(1000, 20000)
)
LATIN1 = st.characters(max_codepoint=255, blacklist_characters="\r\n")


def _path_segment(world: World) -> st.SearchStrategy[bytes]:
    texts = st.one_of(
        UUIDS,
        NEAR_UUIDS,
        SLUGS,
        UPPER_SLUGS,
        SQL,
        ACTIONS,
        st.sampled_from([world.ping_key, world.ping_key.upper(), "fuzz-target", "twin", "..", "."]),
        st.text(max_size=30),
        OVERLONG.map(lambda pair: pair[0] * pair[1]),
    ).map(lambda text: text.encode("utf-8", "surrogatepass"))
    return st.one_of(texts, st.binary(max_size=24))  # any byte, as %XX decodes to


def ping_paths(world: World) -> st.SearchStrategy[bytes]:
    segment = _path_segment(world)
    target, key = world.target_uuid, world.ping_key
    action = ACTIONS.map(str.encode)
    known = st.one_of(
        st.tuples(_cased(target).map(str.encode)),
        st.tuples(_cased(target).map(str.encode), action),
        st.tuples(st.just(target.encode()), segment),
        st.tuples(st.just(key.encode()), st.sampled_from([b"fuzz-target", b"twin"])),
        st.tuples(st.just(key.encode()), st.sampled_from([b"fuzz-target", b"twin"]), action),
        st.tuples(st.just(key.encode()), SLUGS.map(str.encode), action),
        st.tuples(st.just(key.encode()), UPPER_SLUGS.map(str.encode)),
        st.tuples(st.just(key.encode()), segment, segment),
        st.tuples(UUIDS.map(str.encode), action),
    ).map(list)
    segments = weighted((3, known), (1, st.lists(segment, max_size=5)))
    paths = st.tuples(segments, st.sampled_from([b"", b"", b"/", b"//"])).map(
        lambda pair: b"/ping/" + b"/".join(pair[0]) + pair[1]
    )
    return weighted((6, paths), (1, st.sampled_from([b"/ping", b"/ping/", b"/ping//"])))


API_WORDS = [
    "checks",
    "channels",
    "pause",
    "resume",
    "pings",
    "flips",
    "body",
    "test",
    "status",
    "project",
    "openapi.json",
    "1",
    "0",
    "999999999999999999999",
    "٣",
    "-1",
]
API_ROUTES = [
    "/v1/status",
    "/v1/project",
    "/v1/openapi.json",
    "/v1/checks",
    "/v1/checks/{check}",
    "/v1/checks/{check}/pause",
    "/v1/checks/{check}/resume",
    "/v1/checks/{check}/pings",
    "/v1/checks/{check}/pings/{n}/body",
    "/v1/checks/{check}/flips",
    "/v1/channels",
    "/v1/channels/{channel}",
    "/v1/channels/{channel}/test",
]


def api_paths(world: World) -> st.SearchStrategy[bytes]:
    junk = _path_segment(world)
    word = st.sampled_from(
        [*API_WORDS, world.target_uuid, world.target_uuid.upper(), str(world.channel_id)]
    ).map(str.encode)
    check = st.one_of(
        st.just(world.target_uuid), _cased(world.target_uuid), UUIDS, NEAR_UUIDS, SQL
    ).map(lambda text: text.encode("utf-8", "surrogatepass"))
    templated = st.builds(
        lambda template, check, n, channel: (
            template.encode().replace(b"{check}", check).replace(b"{n}", n)
        ).replace(b"{channel}", channel),
        st.sampled_from(API_ROUTES),
        weighted((3, check), (1, junk)),
        st.sampled_from([b"1", b"2", b"0", b"01", b"99999999999999999999", b"x"]) | junk,
        st.one_of(st.just(str(world.channel_id).encode()), word, junk),
    )
    free = st.lists(weighted((2, word), (1, junk)), max_size=5).map(
        lambda segments: b"/v1/" + b"/".join(segments)
    )
    paths = st.tuples(weighted((3, templated), (1, free)), st.sampled_from([b"", b"", b"/"])).map(
        b"".join
    )
    return weighted((8, paths), (1, st.sampled_from([b"/v1", b"/v1/"])))


QUERY_NAMES = st.sampled_from(["rid", "create", "tag", "status", "slug", "unique", "n"]) | st.text(
    max_size=8
)
QUERY_VALUES = st.one_of(
    UUIDS,
    NEAR_UUIDS,
    st.sampled_from(["", "1", "0", "true", "01", " 1", "new", "up", "down", "grace", "paused"]),
    st.sampled_from(["started", "bogus", "fuzz-target", "twin"]),
    SLUGS,
    SQL,
    st.text(max_size=40),
    OVERLONG.map(lambda pair: pair[0] * pair[1]),
)


def _query_pair(pair: tuple[str, str, bool]) -> bytes:
    name, value, encode = pair
    if encode:
        return (quote(name, safe="") + "=" + quote(value, safe="")).encode("ascii")
    return (name + "=" + value).encode("utf-8", "surrogatepass")


QUERIES = st.one_of(
    st.lists(st.tuples(QUERY_NAMES, QUERY_VALUES, st.booleans()), max_size=4).map(
        lambda pairs: b"&".join(_query_pair(pair) for pair in pairs)
    ),
    st.sampled_from([b"%zz", b"%", b"&&&", b"==", b"rid", b"rid=%ff", b"create=1&create=1"]),
    st.binary(max_size=60),
)


def api_keys(world: World) -> st.SearchStrategy[tuple[tuple[str, str], ...]]:
    """An API key header: mostly a real key, sometimes junk or none."""
    keys = st.one_of(
        st.sampled_from([world.rw_key, world.rw_key, world.ro_key]),
        st.sampled_from([world.rw_key + " ", " " + world.ro_key, world.rw_key[:-1]]),
        st.sampled_from([world.rw_key.upper(), "pingd_", ""]),
        st.text(LATIN1, max_size=60),
    )
    header = st.one_of(
        st.tuples(st.sampled_from(["X-Api-Key", "x-api-key", "X-API-KEY"]), keys),
        st.tuples(
            st.just("Authorization"),
            st.tuples(st.sampled_from(["Bearer ", "bearer ", "Basic ", "", "Bearer"]), keys).map(
                "".join
            ),
        ),
    )
    return weighted((3, header.map(lambda pair: (pair,))), (1, st.just(())))


# Any token a client may send as a header name (a server never passes on framing headers).
HEADER_NAMES = st.text(
    st.characters(min_codepoint=33, max_codepoint=126, blacklist_characters=":"), min_size=1
).filter(lambda name: name.lower() not in ("content-length", "transfer-encoding"))


def header_values(world: World) -> st.SearchStrategy[tuple[str, str]]:
    junk = st.text(LATIN1, max_size=80)
    return st.one_of(
        st.tuples(
            st.just("Content-Type"),
            st.sampled_from(
                [
                    "application/json",
                    "application/json; charset=latin-1",
                    "application/x-www-form-urlencoded",
                    "multipart/form-data; boundary=",
                    "text/plain",
                    "*/*",
                    ";;;",
                ]
            )
            | junk,
        ),
        st.tuples(
            st.just("X-Developer-Mode"),
            st.sampled_from(["true", "TRUE", " true ", "false", "1", "", "yes"]) | junk,
        ),
        st.tuples(
            st.sampled_from(
                ["User-Agent", "X-Forwarded-For", "X-Forwarded-Proto", "Accept", "Origin", "Host"]
            ),
            junk | OVERLONG.map(lambda pair: (pair[0] * pair[1]).encode().decode("latin-1")),
        ),
        st.tuples(HEADER_NAMES, junk),
    )


def _nested(depth: int, kind: str) -> bytes:
    if kind == "list":
        return b"[" * depth + b"]" * depth
    if kind == "dict":
        return b'{"a":' * depth + b"1" + b"}" * depth
    return b'{"name":' + b"[" * depth + b"]" * depth + b"}"  # deep inside an object


CHECK_FIELDS = [
    "name",
    "tags",
    "desc",
    "timeout",
    "grace",
    "schedule",
    "tz",
    "methods",
    "manual_resume",
    "filter_body",
    "filter_default_fail",
    "success_kw",
    "failure_kw",
    "start_kw",
    "channels",
    "unique",
    "slug",
    "uuid",
    "status",
    "kind",
    "settings",
    "all_checks",
]
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=40),
    st.sampled_from(
        [60, 86400, 31536000, 31536001, 59, 3600.0, 3600.5, "3600", "1d", "", "*", "POST"]
    ),
    st.sampled_from(["* * * * *", "0 0 31 2 *", "*/0 * * * *", "60 * * * *", "* * * * * *"]),
    st.sampled_from(["UTC", "Europe/Riga", "Mars/Base", "../../etc/passwd", "name", "bogus"]),
    st.sampled_from(["webhook", "email", "carrier-pigeon", "url_down", "url_up"]),
)
JSON_VALUES = st.recursive(
    SCALARS,
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.sampled_from(CHECK_FIELDS) | st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)


def json_bodies(world: World) -> st.SearchStrategy[bytes]:
    webhook_settings = st.dictionaries(
        st.sampled_from(["url_down", "url_up", "method_down", "body_up", "headers_down", "x"]),
        st.sampled_from([world.closed_url, "ftp://x", "not a url", "", "GET", "DELETE"])
        | JSON_VALUES,
        max_size=4,
    )
    objects = st.dictionaries(
        st.sampled_from(CHECK_FIELDS) | st.text(max_size=12),
        JSON_VALUES,
        max_size=6,
    )
    channels = st.fixed_dictionaries(
        {"kind": st.sampled_from(["webhook", "carrier-pigeon", ""]) | JSON_VALUES},
        optional={"name": JSON_VALUES, "settings": webhook_settings, "all_checks": JSON_VALUES},
    )
    dumped = st.one_of(objects, channels, JSON_VALUES).map(
        lambda value: json.dumps(value).encode("utf-8")
    )
    raw = st.sampled_from(
        [
            b'{"timeout": 1e400}',
            b'{"grace": -1e400}',
            b'{"timeout": 1' + b"0" * 5000 + b"}",
            b'{"name": "\\ud800"}',
            b'{"\\udfff": 1}',
            b'{"name": "a", "name": "b"}',
            b'\xef\xbb\xbf{"name": "bom"}',
            '{"name": "utf16"}'.encode("utf-16"),
            b'{"name": "x"} trailing',
            b'{"name": NaN}',
            b'{"timeout": Infinity}',
            b"null",
            b"[]",
            b'"text"',
            b"1",
            b"{",
            b'{"name": "\xff\xfe"}',
            b"\x00" * 16,
            b"   ",
        ]
    )
    nested = st.tuples(st.integers(1, 60000), st.sampled_from(["list", "dict", "field"])).map(
        lambda pair: _nested(*pair)
    )
    return weighted((3, dumped), (1, raw), (1, nested))


def bodies(world: World) -> st.SearchStrategy[bytes]:
    return st.one_of(
        st.just(b""),
        st.binary(max_size=2000),
        st.text(max_size=200).map(lambda text: text.encode("utf-8", "surrogatepass")),
        json_bodies(world),
        st.sampled_from([MAX_API_BODY, MAX_API_BODY + 1, 100_000, 300_000]).map(lambda n: b"x" * n),
        st.integers(0, 400_000).map(lambda n: b'{"name": "' + b"a" * n + b'"}'),
    )


METHODS = st.sampled_from(
    ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT", "PROPFIND"]
    + ["GET", "POST", "GET", "POST", "PATCH", "DELETE", "HEAD", "PUT"]
    + ["get", "FOO", "M-SEARCH"]
)


def requests(world: World, paths: st.SearchStrategy[bytes]) -> st.SearchStrategy[RawRequest]:
    return st.builds(
        lambda method, path, query, key, headers, body: RawRequest(
            method, path, query, key + headers, body
        ),
        METHODS,
        paths,
        QUERIES | st.just(b""),
        api_keys(world),
        st.lists(header_values(world), max_size=4).map(tuple),
        bodies(world),
    )


# -- what every answer must look like ------------------------------------------------


# A channel test reports a network failure by its kind, on purpose without the
# URL (it may hold a secret): "could not reach 127.0.0.1: ConnectionRefusedError".
# That names an exception as a user-facing outcome, not a leak of internals.
CHANNEL_OUTCOME = re.compile(r"(could not reach|invalid request to) [^\"]*?: [A-Za-z]+")


def assert_no_leak(request: RawRequest, response: webtest.TestResponse) -> None:
    assert response.status_int < 500, f"{response.status} for {request.describe()}"
    text = CHANNEL_OUTCOME.sub("", response.body.decode("utf-8", "replace"))
    sent = request.describe() + request.body.decode("utf-8", "replace")
    leaked = [name for name in EXCEPTION_NAMES if name in text and name not in sent]
    assert not leaked, f"{leaked} in {text[:500]!r} for {request.describe()}"


def assert_ping_answer(request: RawRequest, response: webtest.TestResponse) -> None:
    assert_no_leak(request, response)
    where = f"{response.status} {response.body[:200]!r} for {request.describe()}"
    assert response.headers.get("Content-Type") == "text/plain; charset=utf-8", where
    assert response.headers.get("Access-Control-Allow-Origin") == "*", where
    assert response.headers.get("Cache-Control") == (
        "no-cache, no-store, must-revalidate, max-age=0"
    ), where
    assert response.status_int in PING_ANSWERS, where
    if request.method != "HEAD":
        assert response.body in PING_ANSWERS[response.status_int], where
    else:
        assert response.body == b"", where
    if response.status_int in (200, 201):
        assert response.headers.get("Ping-Body-Limit") == "10000", where


def _is_raw_ping_body(request: RawRequest, response: webtest.TestResponse) -> bool:
    return (
        request.method == "GET"
        and response.status_int == 200
        and re.fullmatch(rb"/v1/checks/[^/]+/pings/[0-9]+/body/?", request.path) is not None
    )


def _is_openapi(request: RawRequest, response: webtest.TestResponse) -> bool:
    return (
        request.method == "GET"
        and response.status_int == 200
        and request.path.rstrip(b"/") == b"/v1/openapi.json"
    )


def assert_api_answer(request: RawRequest, response: webtest.TestResponse) -> None:
    assert_no_leak(request, response)
    where = f"{response.status} {response.body[:300]!r} for {request.describe()}"
    assert response.status_int in API_STATUSES, where
    request_id = response.headers.get("X-Request-Id")
    assert request_id is not None and uuidlib.UUID(request_id), where
    if _is_raw_ping_body(request, response):
        assert response.headers.get("Content-Type") == "text/plain; charset=utf-8", where
        return
    assert response.headers.get("Content-Type") == "application/json", where
    if request.method == "HEAD":
        assert response.body == b"", where
        return
    data = json.loads(response.body)
    if _is_openapi(request, response):
        assert data.get("openapi", "").startswith("3.1"), where
        return
    assert isinstance(data, dict), where
    assert data.get("requestId") == request_id, where
    if response.status_int < 400:
        assert set(data) == {"data", "requestId"}, where
    else:
        assert set(data) - {"fields"} == {"error", "errorCode", "requestId"}, where
        assert isinstance(data["error"], str) and data["error"], where
        assert SCREAMING_SNAKE.fullmatch(data["errorCode"]), where
        assert ("fields" in data) == (response.status_int == 422), where


def assert_still_healthy(world: World) -> None:
    """A normal ping is answered 200 OK and stored; the database file is sound."""
    response = world.app.post(f"/ping/{world.canary_uuid}", b"still alive")
    assert (response.status_int, response.body) == (200, b"OK")
    with closing(sqlite3.connect(f"file:{world.db}?mode=ro", uri=True)) as conn:
        assert [row[0] for row in conn.execute("PRAGMA integrity_check")] == ["ok"]
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
        (stored,) = conn.execute(
            "SELECT body FROM pings JOIN checks ON checks.id = pings.check_id"
            " WHERE checks.uuid = ? ORDER BY n DESC LIMIT 1",
            (world.canary_uuid,),
        ).fetchone()
    assert bytes(stored) == b"still alive"


# -- the tests ---------------------------------------------------------------------


def test_it_answers_every_fuzzed_ping_with_a_documented_plain_text_reply(world: World) -> None:
    @FUZZ_SETTINGS
    @given(request=requests(world, ping_paths(world)))
    def fuzz(request: RawRequest) -> None:
        assert_ping_answer(request, send(world, request))

    fuzz()
    assert_still_healthy(world)


def test_it_answers_every_fuzzed_api_request_in_the_json_envelope(world: World) -> None:
    @FUZZ_SETTINGS
    @given(request=requests(world, api_paths(world)))
    def fuzz(request: RawRequest) -> None:
        assert_api_answer(request, send(world, request))

    fuzz()
    assert_still_healthy(world)


WRITE_ROUTES = st.sampled_from(
    [
        ("POST", "/v1/checks"),
        ("PATCH", "/v1/checks/{check}"),
        ("POST", "/v1/channels"),
        ("PATCH", "/v1/channels/{channel}"),
        ("POST", "/v1/checks/{check}/pause"),
    ]
)


def test_it_answers_fuzzed_json_bodies_on_write_routes_without_500(world: World) -> None:
    @FUZZ_SETTINGS
    @given(
        route=WRITE_ROUTES,
        body=json_bodies(world),
        key=st.sampled_from(["rw", "ro", "none"]),
        dev=st.booleans(),
        content_type=st.sampled_from(["application/json", "text/plain", "", "application/xml"]),
    )
    def fuzz(route: tuple[str, str], body: bytes, key: str, dev: bool, content_type: str) -> None:
        method, template = route
        path = template.format(check=world.target_uuid, channel=world.channel_id)
        headers = [("Content-Type", content_type)] if content_type else []
        if key != "none":
            headers.append(("X-Api-Key", world.rw_key if key == "rw" else world.ro_key))
        if dev:
            headers.append(("X-Developer-Mode", "true"))
        request = RawRequest(method, path.encode(), b"", tuple(headers), body)
        response = send(world, request)
        assert_api_answer(request, response)
        if key != "rw":
            assert response.status_int == 403, response.body

    fuzz()
    assert_still_healthy(world)


@pytest.mark.parametrize("kind", ["list", "dict", "field"])
@pytest.mark.parametrize("depth", [100, 1000, 5000, 10000])  # all under 64 KiB
def test_it_answers_deeply_nested_json_with_a_client_error(
    world: World, kind: str, depth: int
) -> None:
    # SPEC §3.1: a body that is not usable JSON is 400 INVALID_JSON (or 422 when it
    # parses but is not a check); never 500. Python's json gives up on deep nesting
    # with RecursionError, which is not a ValueError.
    body = _nested(depth, kind)
    request = RawRequest("POST", b"/v1/checks", b"", (("X-Api-Key", world.rw_key),), body)
    response = send(world, request)
    assert_api_answer(request, response)
    assert response.status_int in (400, 422), response.body
    assert_still_healthy(world)


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/v1/checks", b'{"\\udfff": 1}'),
        ("PATCH", "/v1/checks/{check}", b'{"x\\ud800": "y"}'),
        ("POST", "/v1/channels", b'{"kind": "webhook", "settings": {"\\ud800": "x"}}'),
        ("PATCH", "/v1/channels/{channel}", b'{"settings": {"url_down\\udc00": "x"}}'),
    ],
)
def test_it_answers_a_lone_surrogate_in_a_json_key_with_a_client_error(
    world: World, method: str, path: str, body: bytes
) -> None:
    # SPEC §3.1: unknown fields and text that is not valid Unicode are 422 (or 400
    # INVALID_JSON), in the JSON envelope; never 500, never an empty body.
    # A fresh check and channel: the module's fuzzers may have deleted the shared ones.
    check = world.service.create_check(name="Surrogate target")
    channel = world.service.create_channel("webhook", "s", {"url_down": world.closed_url})
    target = path.format(check=check.uuid, channel=channel.id)
    request = RawRequest(method, target.encode(), b"", (("X-Api-Key", world.rw_key),), body)
    response = send(world, request)
    assert_api_answer(request, response)
    assert response.status_int in (400, 422), response.body
    assert_still_healthy(world)
