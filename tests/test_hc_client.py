"""The ``healthchecks-io`` client from PyPI, driven against the real ``pingd serve`` on loopback.

Every method of its ``Client`` and ``AsyncClient`` (create, update, get, list
by tags, pause, delete, pings, flips, integrations, badges and its ping
helpers) and its ``CheckTrap``, with only the base URLs changed, and its
pydantic models parsing every answer. Its ``get_check_flips`` iterates the
keys of the ``{"flips": [...]}`` object Healthchecks answers, so it fails
against Healthchecks itself; the test shows pingd's answer is that object and
that the client's own flip model parses each flip.
"""

from __future__ import annotations

import asyncio
import json
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from healthchecks_io import AsyncClient
from healthchecks_io import CheckCreate
from healthchecks_io import CheckTrap
from healthchecks_io import CheckUpdate
from healthchecks_io import Client
from healthchecks_io.schemas import checks as hc_checks
from serverutil import Server
from serverutil import running_server

from pingd.app import make_notifier
from pingd.app import make_service
from pingd.app import open_store
from pingd.config import default_config

# The client calls pydantic's deprecated .dict(); that is its business, not ours.
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[Server, dict[str, str]]]:
    db = tmp_path / "pingd.db"
    config = default_config(storage__path=str(db))
    store = open_store(config)
    try:
        service = make_service(config, store, notifier=make_notifier(config))
        service.bootstrap()
        service.create_channel("webhook", "Ops hook", {"url_down": "http://127.0.0.1:9/x"})
        keys = {
            "rw": service.create_api_key("client"),
            "ro": service.create_api_key("reader", read_only=True),
            "ping": service.project().ping_key,
        }
    finally:
        store.close()
    with running_server(tmp_path, db=db) as running:
        yield running, keys


def _client(
    server: Server, key: str, ping_key: str, cls: type = Client, version: int = 1
) -> Client:
    """The client as its README sets it up, with pingd's URLs (API v1 is its default)."""
    client: Client = cls(api_key=key, ping_key=ping_key, api_url=f"{server.url}/api/",
                         ping_url=f"{server.url}/ping/", api_version=version)  # fmt: skip
    return client


def _raw_flips(server: Server, key: str, uuid: str) -> object:
    request = urllib.request.Request(f"{server.url}/api/v3/checks/{uuid}/flips/",
                                     headers={"X-Api-Key": key})  # fmt: skip
    with urllib.request.urlopen(request, timeout=10) as answer:
        return json.load(answer)


def test_the_sync_client_and_check_trap(server: tuple[Server, dict[str, str]]) -> None:
    running, keys = server
    client = _client(running, keys["rw"], keys["ping"])
    check = client.create_check(CheckCreate(name="Backup", tags="prod db", timeout=3600, grace=60))
    assert check.uuid and check.name == "Backup" and check.timeout == 3600
    # v1 derives the slug from the name, so the slug helpers below find it.
    other = client.create_check(
        CheckCreate(name="Nightly", tags="prod", schedule="0 3 * * *", tz="Europe/Riga")
    )
    assert {c.name for c in client.get_checks(tags=["prod"])} == {"Backup", "Nightly"}
    assert [c.name for c in client.get_checks(tags=["prod", "db"])] == ["Backup"]
    updated = client.update_check(check.uuid, CheckUpdate(desc="nightly dump", grace=120))
    assert (updated.desc, updated.grace, updated.name) == ("nightly dump", 120, "Backup")
    assert client.get_check(check.uuid).grace == 120

    assert client.start_ping(uuid=check.uuid) == (True, "OK")
    assert client.success_ping(uuid=check.uuid, data="all good") == (True, "OK")
    assert client.fail_ping(slug="nightly")[0] is True
    assert client.exit_code_ping(0, slug="nightly")[0] is True
    with CheckTrap(client, uuid=check.uuid) as trap:
        trap.add_log("inside the trap")
    pings = client.get_check_pings(check.uuid)
    assert [p.type for p in pings] == ["success", "start", "success", "start"]
    assert pings[0].duration is not None  # the trap's run was timed

    flips = _raw_flips(running, keys["rw"], other.uuid)
    assert isinstance(flips, dict) and [f["up"] for f in flips["flips"]] == [1, 0]
    assert [hc_checks.CheckStatuses(**f).up for f in flips["flips"]] == [1, 0]
    with pytest.raises(TypeError):  # its own bug: it iterates {"flips": …}'s keys
        client.get_check_flips(other.uuid)

    (hook,) = client.get_integrations()
    assert hook is not None and (hook.name, hook.kind) == ("Ops hook", "webhook")
    badges = client.get_badges()
    assert set(badges) == {"*", "prod", "db"}
    # URLs use the configured base_url (here the default); the path works on the server.
    path = urllib.parse.urlsplit(badges["prod"].svg).path
    with urllib.request.urlopen(f"{running.url}{path}", timeout=10) as answer:
        assert answer.headers["Content-Type"] == "image/svg+xml"
        assert b">prod<" in answer.read()
    paused = client.pause_check(check.uuid)
    assert paused.status == "paused"
    reader = _client(running, keys["ro"], keys["ping"])
    (read,) = reader.get_checks(tags=["db"])
    assert read.unique_key and read.uuid is None
    assert reader.get_check(read.unique_key).name == "Backup"
    deleted = client.delete_check(other.uuid)
    assert deleted.name == "Nightly"
    assert [c.name for c in client.get_checks()] == ["Backup"]


def test_the_async_client(server: tuple[Server, dict[str, str]]) -> None:
    running, keys = server

    async def drive() -> None:
        # As a context manager, so that it closes its connections inside this loop.
        async with _client(running, keys["rw"], keys["ping"], AsyncClient, version=3) as client:
            await _drive_async(client)

    asyncio.run(drive())


async def _drive_async(client: AsyncClient) -> None:
    check = await client.create_check(CheckCreate(name="Async", tags="a", timeout=600))
    assert (await client.get_check(check.uuid)).name == "Async"
    assert [c.name for c in await client.get_checks(tags=["a"])] == ["Async"]
    await client.update_check(check.uuid, CheckUpdate(tags="a b"))
    assert (await client.start_ping(uuid=check.uuid))[0] is True
    assert (await client.success_ping(uuid=check.uuid))[0] is True
    assert (await client.fail_ping(uuid=check.uuid))[0] is True
    assert (await client.exit_code_ping(3, uuid=check.uuid))[0] is True
    async with CheckTrap(client, uuid=check.uuid):
        pass
    pings = await client.get_check_pings(check.uuid)
    assert [p.type for p in pings][:3] == ["success", "start", "fail"]
    assert [i.name for i in await client.get_integrations() if i] == ["Ops hook"]
    assert set(await client.get_badges()) == {"*", "a", "b"}
    assert (await client.pause_check(check.uuid)).status == "paused"
    assert (await client.delete_check(check.uuid)).name == "Async"
    assert await client.get_checks() == []
