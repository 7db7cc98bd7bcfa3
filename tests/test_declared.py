"""Checks and channels as code: reading the files, the reconcile rules, export and its round trip.

Real SQLite under the real service (with the real notifier's validation); the
files are real files in a temporary folder. Each mistake's message must name
the file, the table and the field.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from conftest import FakeClock
from hypothesis import HealthCheck
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from pingd.app import make_notifier
from pingd.app import make_service
from pingd.app import open_store
from pingd.config import Config
from pingd.config import default_config
from pingd.declared.export import export_text
from pingd.declared.export import secret_variable
from pingd.declared.parse import load_declaration
from pingd.declared.plan import render_plan
from pingd.errors import DeclarationError
from pingd.service import Service
from pingd.service.pings import PingRequest
from pingd.writer.store import Store

HOOK = 'name = "ops"\nkind = "webhook"\nurl_down = "http://127.0.0.1:9/down"\n'
UUID = "0b7c2a36-6a4e-4d9f-9a52-3f0e8d1c2b4a"


def write(folder: Path, text: str, name: str = "pingd.toml") -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def apply(
    svc: Service, path: Path, *, dry_run: bool = False, env: dict[str, str] | None = None
) -> str:
    steps = svc.apply_declaration(load_declaration(path, env or {}), dry_run=dry_run)
    return render_plan(steps)


def ping(svc: Service, uuid: str, action: str = "success") -> None:
    svc.record_ping(PingRequest(action=action, method="GET", scheme="http", remote_addr="::1",
                                ua="t", body=b"", body_size=0, uuid=uuid))  # fmt: skip


def by_name(svc: Service) -> dict[str, Any]:
    return {check.name: check for check in svc.list_checks()}


# -- reading the files ------------------------------------------------------------


@pytest.mark.parametrize(
    ("table", "message"),
    [
        (
            '[[check]]\nname = "a"\ncolour = "red"',
            "pingd.toml: [[check]] 1 ('a'): colour: unknown field",
        ),
        ('[[check]]\nname = "a"\nschedule = "61 * * * *"', "[[check]] 1 ('a'): schedule:"),
        (
            '[[check]]\nname = "a"\ntimeout = "soon"',
            "[[check]] 1 ('a'): timeout: 'soon' is not a duration",
        ),
        ('[[check]]\nname = "a"\ntimeout = 5', "[[check]] 1 ('a'): timeout: timeout is too small"),
        ('[[check]]\nname = "a"\ntz = "Mars/Base"', "[[check]] 1 ('a'): tz:"),
        (
            '[[check]]\nname = "a"\nchannels = ["nope"]',
            "[[check]] 1 ('a'): channels: no [[channel]] is named 'nope'",
        ),
        (
            '[[check]]\nname = "a"\n[[check]]\nname = "a"',
            "[[check]] 2 ('a'): two [[check]] tables have the name 'a'",
        ),
        ('[[check]]\nuuid = "not-a-uuid"', "[[check]] 1: uuid: must be a UUID"),
        ("[[check]]\ntags = 'x'", "[[check]] 1: name: a check needs a name"),
        (
            '[[check]]\nname = "a"\npaused = "yes"',
            "[[check]] 1 ('a'): paused: must be true or false",
        ),
        (
            '[[channel]]\nname = "c"\nkind = "pushover"\nuser_key_env = "NOT_SET"\napp_token = "t"',
            "[[channel]] 1 ('c'): user_key_env: the environment variable NOT_SET is not set",
        ),
        (
            '[[channel]]\nname = "c"\nkind = "ntfy"\ntoken_file = "/no/such/file"',
            "[[channel]] 1 ('c'): token_file: cannot read /no/such/file",
        ),
        ('[[channel]]\nkind = "ntfy"', "[[channel]] 1: name: a channel needs a name"),
        ("prune = 1", "pingd.toml: prune must be true or false"),
    ],
)
def test_a_mistake_names_the_file_the_table_and_the_field(
    tmp_path: Path, table: str, message: str
) -> None:
    path = write(tmp_path, table + "\n")
    with pytest.raises(DeclarationError) as caught:
        load_declaration(path, {})
    assert message in str(caught.value), str(caught.value)
    assert str(path) in str(caught.value)


def test_a_channel_setting_the_notifier_refuses_names_its_table(
    tmp_path: Path, svc: Service
) -> None:
    path = write(tmp_path, '[[channel]]\nname = "c"\nkind = "webhook"\nurl_down = "ftp://x"\n')
    with pytest.raises(DeclarationError, match=r"\[\[channel\]\] 1 \('c'\): settings.url_down:"):
        apply(svc, path)
    assert svc.list_channels() == []


def test_includes_are_read_relative_to_the_file_and_hold_only_tables(tmp_path: Path) -> None:
    write(tmp_path, f"[[channel]]\n{HOOK}", "conf.d/channels.toml")
    write(tmp_path, '[[check]]\nname = "web"\nchannels = ["ops"]\n', "conf.d/web.toml")
    main = write(tmp_path, 'include = ["conf.d/*.toml"]\n[storage]\npath = "x.db"\n')
    declaration = load_declaration(main, {})
    assert [c.name for c in declaration.checks] == ["web"]
    assert [c.name for c in declaration.channels] == ["ops"]
    write(tmp_path, "[server]\nthreads = 2\n", "conf.d/zz.toml")
    with pytest.raises(DeclarationError, match=r"zz.toml: an included file holds only"):
        load_declaration(main, {})


def test_secrets_come_from_files_and_variables(tmp_path: Path, svc: Service) -> None:
    (tmp_path / "token").write_text("app-token-from-a-file-aaaaaaaa\n", encoding="utf-8")
    path = write(
        tmp_path,
        f'[[channel]]\nname = "phone"\nkind = "pushover"\n'
        f'user_key_env = "PO_USER"\napp_token_file = "{tmp_path / "token"}"\n',
    )
    assert (
        apply(svc, path, env={"PO_USER": "user-key-from-env-uuuuuuuuuuuu"}) == "+ channel 'phone'"
    )
    (channel,) = svc.list_channels()
    assert channel.settings["app_token"] == "app-token-from-a-file-aaaaaaaa"
    assert channel.settings["user_key"] == "user-key-from-env-uuuuuuuuuuuu"


# -- the reconcile rules --------------------------------------------------------------


def test_create_then_unchanged_then_change_keeping_uuid_and_history(
    tmp_path: Path, svc: Service
) -> None:
    text = (f'[[channel]]\n{HOOK}\n[[check]]\nname = "Backup"\ntimeout = "1d"\ngrace = "2h"\n'
            'tags = ["prod", "db"]\nchannels = ["ops"]\n\n[[check]]\nname = "Nightly"\n'
            'schedule = "30 2 * * *"\ntz = "Europe/Riga"\npaused = true\n')  # fmt: skip
    path = write(tmp_path, text)
    assert apply(svc, path, dry_run=True).splitlines() == [
        "+ channel 'ops'", "+ check 'Backup'", "+ check 'Nightly' (paused)"]  # fmt: skip
    assert svc.list_checks() == []  # the dry run changed nothing
    apply(svc, path)
    checks = by_name(svc)
    backup = checks["Backup"]
    assert (backup.timeout, backup.grace, backup.tags) == (86400, 7200, "prod db")
    assert svc.channel_ids_by_check()[backup.id] == [svc.list_channels()[0].id]
    assert (checks["Nightly"].schedule, checks["Nightly"].status) == ("30 2 * * *", "paused")
    assert apply(svc, path) == "= 2 checks unchanged\n= 1 channel unchanged"
    ping(svc, backup.uuid)
    write(tmp_path, text.replace('grace = "2h"', 'grace = "3h"').replace('"Nightly"', '"Nightly2"'))
    plan = apply(svc, path)
    assert "~ check 'Backup': grace 7200 -> 10800" in plan
    assert "+ check 'Nightly2' (paused)" in plan  # matched by name: a new name is a new check
    assert "check 'Nightly' is no longer declared: kept" in plan
    after = svc.get_check(backup.uuid)
    assert (after.grace, after.n_pings, after.status) == (
        10800,
        1,
        "up",
    )  # same check, same history


def test_drift_is_reported_and_the_files_win(tmp_path: Path, svc: Service) -> None:
    path = write(tmp_path, '[[check]]\nname = "Backup"\ndesc = "from the file"\n')
    apply(svc, path)
    check = by_name(svc)["Backup"]
    svc.update_check(check.id, {"desc": "by hand", "grace": 600})
    plan = apply(svc, path, dry_run=True)
    assert '! check \'Backup\' was changed outside the files (desc "from the file" -> "by hand", ' \
           "grace 3600 -> 600); the files win" in plan  # fmt: skip
    assert svc.get_check(check.uuid).desc == "by hand"
    apply(svc, path)
    assert (svc.get_check(check.uuid).desc, svc.get_check(check.uuid).grace) == (
        "from the file",
        3600,
    )
    assert apply(svc, path, dry_run=True) == "= 1 check unchanged"


def test_uuid_matching_renames_and_creates_with_the_given_uuid(
    tmp_path: Path, svc: Service
) -> None:
    path = write(tmp_path, f'[[check]]\nuuid = "{UUID}"\nname = "First"\n')
    apply(svc, path)
    assert svc.get_check(UUID).name == "First"
    ping(svc, UUID)
    write(tmp_path, f'[[check]]\nuuid = "{UUID.upper()}"\nname = "Renamed"\n')
    assert (
        apply(svc, path)
        == '~ check \'Renamed\': name "First" -> "Renamed", slug "first" -> "renamed"'
    )
    assert (svc.get_check(UUID).name, svc.get_check(UUID).n_pings) == ("Renamed", 1)


def test_api_made_checks_are_left_alone_unless_prune(tmp_path: Path, svc: Service) -> None:
    svc.create_check(name="Made by hand")
    adopted = svc.create_check(name="Adopted", grace=600)
    path = write(tmp_path, '[[check]]\nname = "Adopted"\n')
    assert apply(svc, path) == "~ check 'Adopted': grace 600 -> 3600"
    assert set(by_name(svc)) == {"Made by hand", "Adopted"}
    assert by_name(svc)["Adopted"].uuid == adopted.uuid
    write(tmp_path, 'prune = true\n[[check]]\nname = "Adopted"\n')
    assert (
        apply(svc, path, dry_run=True)
        == "- check 'Made by hand' (prune = true)\n= 1 check unchanged"
    )
    apply(svc, path)
    assert set(by_name(svc)) == {"Adopted"}


def test_two_database_checks_with_the_declared_name_need_a_uuid(
    tmp_path: Path, svc: Service
) -> None:
    svc.create_check(name="Twin")
    svc.create_check(name="Twin")
    path = write(tmp_path, '[[check]]\nname = "Twin"\n')
    with pytest.raises(DeclarationError, match="2 checks in the database are named 'Twin': give"):
        apply(svc, path)


def test_nothing_is_half_applied(tmp_path: Path, svc: Service) -> None:
    svc.create_channel("ntfy", "alerts", {"topic": "t"})
    path = write(tmp_path, f'[[channel]]\n{HOOK}\n[[check]]\nname = "a"\n[[check]]\nname = "b"\n'
                           '[[channel]]\nname = "alerts"\nkind = "webhook"\n'
                           'url_down = "http://127.0.0.1:9/x"\n')  # fmt: skip
    before = export_text(svc.declared_state())
    with pytest.raises(
        DeclarationError, match=r"\[\[channel\]\] 2 \('alerts'\): kind: the channel is a ntfy"
    ):
        apply(svc, path)
    assert export_text(svc.declared_state()) == before  # the first channel and checks rolled back
    assert [c.name for c in svc.list_channels()] == ["alerts"] and svc.list_checks() == []


def test_the_check_limit_holds_for_declared_checks(
    tmp_path: Path, store: Store, clock: FakeClock, config: Config
) -> None:
    small = make_service(replace(config, limits=replace(config.limits, max_checks=2)), store,
                         clock, notifier=make_notifier(config))  # fmt: skip
    small.bootstrap()
    path = write(tmp_path, "".join(f'[[check]]\nname = "c{i}"\n' for i in range(3)))
    with pytest.raises(DeclarationError, match=r"more checks than limits.max_checks \(2\)"):
        apply(small, path)
    assert small.list_checks() == []


# -- export, and its round trip -------------------------------------------------------

NAMES = (
    st.text(alphabet='abcdefghij XYZ-_.é"\\', min_size=1, max_size=12).map(str.strip).filter(bool)
)
CRONS = st.sampled_from(["*/5 * * * *", "30 2 * * *", "0 9 * * 1-5"])
ZONES = st.sampled_from(["UTC", "Europe/Riga", "America/New_York"])
PERIODS = st.integers(min_value=60, max_value=31536000)


@st.composite
def setups(draw: st.DrawFn) -> dict[str, Any]:
    channel_names = draw(st.lists(NAMES, max_size=3, unique=True))
    channels = [
        (name, draw(st.sampled_from(["webhook", "ntfy", "pushover"]))) for name in channel_names
    ]
    checks = []
    for name in draw(st.lists(NAMES, max_size=5, unique=True)):
        tags = draw(st.lists(st.sampled_from(["a", "b", "prod"]), unique=True))
        fields: dict[str, Any] = {"name": name, "grace": draw(PERIODS), "tags": " ".join(tags)}
        if draw(st.booleans()):
            fields |= {"schedule": draw(CRONS), "tz": draw(ZONES)}
        else:
            fields["timeout"] = draw(PERIODS)
        fields["desc"] = draw(st.text(max_size=20))
        fields["manual_resume"] = draw(st.booleans())
        chosen = (
            draw(st.lists(st.sampled_from(channel_names), unique=True)) if channel_names else []
        )
        checks.append((fields, chosen, draw(st.booleans())))
    return {"channels": channels, "checks": checks}


SETTINGS = {"webhook": {"url_down": "http://127.0.0.1:9/secret-down"},
            "ntfy": {"topic": "pingd-topic", "token": "tk_secret"},
            "pushover": {"user_key": "u" * 30, "app_token": "a" * 30}}  # fmt: skip


def fresh_service(folder: Path) -> tuple[Store, Service]:
    config = default_config(storage__path=str(folder / "pingd.db"))
    store = open_store(config)
    service = make_service(config, store, notifier=make_notifier(config))
    service.bootstrap()
    return store, service


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(setup=setups())
def test_export_then_apply_on_an_empty_database_then_export_gives_the_same_file(
    tmp_path_factory: pytest.TempPathFactory, setup: dict[str, Any]
) -> None:
    store_a, a = fresh_service(tmp_path_factory.mktemp("a"))
    store_b, b = fresh_service(tmp_path_factory.mktemp("b"))
    try:
        ids = {
            name: a.create_channel(kind, name, SETTINGS[kind]).id
            for name, kind in setup["channels"]
        }
        for fields, chosen, paused in setup["checks"]:
            check = a.create_check(**fields, channels=[ids[name] for name in chosen])
            if paused:
                a.pause_check(check.id)
        text = export_text(a.declared_state())
        for secret in ("secret-down", "tk_secret", "u" * 30, "a" * 30):
            assert secret not in text  # secrets are references, never values
        env = {secret_variable(name, key): value for name, kind in setup["channels"]
               for key, value in SETTINGS[kind].items()}  # fmt: skip
        path = write(tmp_path_factory.mktemp("files"), text)
        b.apply_declaration(load_declaration(path, env))
        assert export_text(b.declared_state()) == text
        assert {c.uuid for c in b.list_checks()} == {c.uuid for c in a.list_checks()}
        # And applying the file again to the database it came from changes nothing.
        plan = render_plan(b.apply_declaration(load_declaration(path, env), dry_run=True))
        assert not any(line[0] in "+~-!" for line in plan.splitlines()), plan
    finally:
        store_a.close()
        store_b.close()


def test_a_declared_channel_changed_through_the_api_is_drift_without_showing_secrets(
    tmp_path: Path, svc: Service
) -> None:
    path = write(tmp_path, '[[channel]]\nname = "phone"\nkind = "pushover"\n'
                           'user_key_env = "U"\napp_token_env = "T"\n')  # fmt: skip
    env = {"U": "u" * 30, "T": "t" * 30}
    apply(svc, path, env=env)
    (channel,) = svc.list_channels()
    svc.update_channel(channel.id, settings={**channel.settings, "app_token": "s" * 30})
    plan = apply(svc, path, dry_run=True, env=env)
    assert plan == ("~ channel 'phone': settings app_token\n"
                    "! channel 'phone' was changed outside the files (settings app_token); "
                    "the files win")  # fmt: skip
    apply(svc, path, env=env)
    assert svc.list_channels()[0].settings["app_token"] == "t" * 30
