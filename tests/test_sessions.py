"""Browser sessions and one-time sign-in links (pingd/service/sessions.py), on real SQLite.

Only the clock is fake. Each test signs in the way the dashboard will, then
checks what the database holds and what ends a session.
"""

from __future__ import annotations

import hashlib
import threading
import time
from contextlib import closing

import pytest
from conftest import FakeClock

from pingd.config import Config
from pingd.errors import NotFound
from pingd.scheduler import AlertLoop
from pingd.service import Service
from pingd.service.sessions import LOGIN_LINK_MINUTES
from pingd.service.sessions import SESSION_IDLE_DAYS
from pingd.service.sessions import SignIn
from pingd.service.sessions import csrf_matches
from pingd.service.sessions import csrf_token
from pingd.writer.connection import connect

WHO = {"user_agent": "Firefox", "remote_addr": "192.0.2.7"}


def sign_in(service: Service, *, read_only: bool = False) -> SignIn:
    key = service.create_api_key("browser", read_only=read_only)
    signed = service.sign_in_with_key(key, **WHO)
    assert signed is not None
    return signed


def db_rows(config: Config, sql: str) -> list[tuple[object, ...]]:
    with closing(connect(config.storage.path)) as conn:
        return [tuple(row) for row in conn.execute(sql).fetchall()]


def test_a_read_write_key_signs_in_to_a_read_write_session(service: Service) -> None:
    signed = sign_in(service)
    found = service.session_for(signed.token)
    assert found == signed.session
    assert found is not None and not found.read_only


def test_a_read_only_key_signs_in_to_a_read_only_session(service: Service) -> None:
    signed = sign_in(service, read_only=True)
    found = service.session_for(signed.token)
    assert found is not None and found.read_only


def test_a_wrong_key_starts_no_session(service: Service, config: Config) -> None:
    service.create_api_key("browser")
    for key in ("", "pingd_nope", "x" * 200):
        assert service.sign_in_with_key(key, **WHO) is None
    assert db_rows(config, "SELECT * FROM sessions") == []


def test_the_database_holds_only_a_hash_of_the_token(service: Service, config: Config) -> None:
    signed = sign_in(service)
    rows = db_rows(config, "SELECT token_hash, user_agent, remote_addr FROM sessions")
    assert rows == [(hashlib.sha256(signed.token.encode()).hexdigest(), "Firefox", "192.0.2.7")]
    with closing(connect(config.storage.path)) as conn:
        dump = "\n".join(conn.iterdump())
    assert signed.token not in dump
    assert csrf_token(signed.token) not in dump


def test_an_unknown_token_has_no_session(service: Service) -> None:
    sign_in(service)
    assert service.session_for("") is None
    assert service.session_for("not-a-token") is None


def test_signing_out_ends_the_session(service: Service) -> None:
    signed = sign_in(service)
    assert service.sign_out(signed.token) is True
    assert service.session_for(signed.token) is None
    assert service.sign_out(signed.token) is False


def test_revoking_the_key_ends_its_sessions_and_links(service: Service) -> None:
    key = service.create_api_key("browser")
    signed = service.sign_in_with_key(key, **WHO)
    assert signed is not None
    link = service.create_login_link(key[:12])
    other = sign_in(service)  # another key's session lives on
    service.revoke_api_key(key[:12])
    assert service.session_for(signed.token) is None
    assert service.sign_in_with_link(link, **WHO) is None
    assert service.session_for(other.token) is not None


def test_a_session_ends_after_its_idle_days(service: Service, clock: FakeClock) -> None:
    signed = sign_in(service)
    clock.advance(days=SESSION_IDLE_DAYS, seconds=-1)
    assert service.session_for(signed.token) is not None
    clock.advance(seconds=1)
    assert service.session_for(signed.token) is None


def wait_for(condition: object, seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if callable(condition) and condition():
            return
        time.sleep(0.05)
    raise AssertionError("the writer did not write the renewal in time")


def test_a_session_in_use_is_renewed_in_the_background(
    service: Service, clock: FakeClock, config: Config
) -> None:
    signed = sign_in(service)
    clock.advance(days=2)
    assert service.session_for(signed.token) is not None
    # Written in the writer's next quiet moment, not waited for.
    wait_for(lambda: (found := service.session_for(signed.token)) and found.last_seen == clock())
    clock.advance(days=SESSION_IDLE_DAYS - 1)
    assert service.session_for(signed.token) is not None


def test_a_session_used_again_within_a_day_is_not_written(
    service: Service, clock: FakeClock
) -> None:
    signed = sign_in(service)
    clock.advance(hours=23)
    service.session_for(signed.token)
    time.sleep(1.5)  # longer than the writer's deferred interval
    found = service.session_for(signed.token)
    assert found is not None and found.last_seen == signed.session.last_seen


def test_a_login_link_signs_in_once(service: Service) -> None:
    service.create_api_key("browser")
    link = service.create_login_link()
    first = service.sign_in_with_link(link, **WHO)
    assert first is not None and not first.session.read_only
    assert service.sign_in_with_link(link, **WHO) is None
    assert service.session_for(first.token) is not None


def test_a_login_link_expires_after_its_minutes(service: Service, clock: FakeClock) -> None:
    link = service.create_login_link()
    clock.advance(minutes=LOGIN_LINK_MINUTES)
    assert service.sign_in_with_link(link, **WHO) is None


def test_a_login_link_for_a_read_only_key_gives_a_read_only_session(service: Service) -> None:
    key = service.create_api_key("wall screen", read_only=True)
    signed = service.sign_in_with_link(service.create_login_link(key[:12]), **WHO)
    assert signed is not None and signed.session.read_only


def test_a_login_link_needs_exactly_one_key(service: Service) -> None:
    service.revoke_api_key(service.list_api_keys()[0].prefix)  # the first run's key
    service.create_api_key("screen", read_only=True)
    with pytest.raises(NotFound, match="read-write"):
        service.create_login_link()
    service.create_api_key("a")
    with pytest.raises(NotFound, match="starts with 'pingd_'"):
        service.create_login_link("pingd_")


def test_two_sign_ins_racing_with_one_link_give_one_session(service: Service) -> None:
    link = service.create_login_link()
    results: list[SignIn | None] = []
    threads = [
        threading.Thread(target=lambda: results.append(service.sign_in_with_link(link, **WHO)))
        for _ in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert len(results) == 8
    assert sum(result is not None for result in results) == 1


def test_a_form_token_belongs_to_its_session_alone(service: Service) -> None:
    one, two = sign_in(service), sign_in(service)
    assert csrf_matches(one.token, csrf_token(one.token))
    assert not csrf_matches(one.token, csrf_token(two.token))
    assert not csrf_matches(one.token, "")
    assert csrf_token(one.token) != one.token


def test_pruning_removes_ended_sessions_and_expired_links(
    service: Service, clock: FakeClock, config: Config
) -> None:
    old = sign_in(service)
    service.create_login_link()
    clock.advance(days=SESSION_IDLE_DAYS)
    fresh = sign_in(service)
    assert service.prune_sessions() == 2
    assert service.session_for(old.token) is None
    assert service.session_for(fresh.token) is not None
    assert len(db_rows(config, "SELECT id FROM sessions")) == 1


def test_the_alert_loop_deletes_ended_sessions_once_an_hour(
    service: Service, clock: FakeClock, config: Config
) -> None:
    old = sign_in(service)
    clock.advance(days=SESSION_IDLE_DAYS)
    fresh = sign_in(service)
    AlertLoop(service, tick_seconds=60).run_once()  # prunes at its first tick
    assert db_rows(config, "SELECT id FROM sessions") == [(fresh.session.id,)]
    assert old.session.id != fresh.session.id
