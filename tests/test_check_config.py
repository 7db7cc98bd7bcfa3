"""``pingd check-config``: every setting with its source, and what it points at, checked.

The real CLI entry point on real files: a config file, environment
variables and flags; a database that is missing, current, older or newer; a
listen address that is free, taken, or not this machine's; a proxy setting
that cannot work with an https base_url. Nothing is changed by the check.
"""

from __future__ import annotations

import socket
import sqlite3
from pathlib import Path

import pytest

from pingd.cli.main import main
from pingd.migrate import load_schema
from pingd.migrate import schema_version


def run(tmp_path: Path, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def write_config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "pingd.toml"
    path.write_text(text, encoding="utf-8")
    return path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_it_shows_each_setting_with_its_source_and_hides_secrets(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    port = free_port()
    config = write_config(tmp_path, f'[server]\nlisten = ["127.0.0.1:{port}"]\n'
                                    '[smtp]\npassword = "hunter2"\n')  # fmt: skip
    monkeypatch.setenv("PINGD_API_BURST", "7")
    code, out, _ = run(tmp_path, capsys, "--config", str(config), "--db",
                       str(tmp_path / "new.db"), "check-config")  # fmt: skip
    assert code == 0
    assert f"server.listen = ('127.0.0.1:{port}',)  ({config})" in out
    assert "api.burst = 7  (environment variable PINGD_API_BURST)" in out
    assert f"storage.path = '{tmp_path / 'new.db'}'  (--db)" in out
    assert "server.threads = 8  (built-in defaults)" in out
    assert "smtp.password = (set)" in out and "hunter2" not in out
    assert "does not exist yet; pingd serve creates it" in out
    assert f"listen 127.0.0.1:{port}: can listen" in out
    assert out.rstrip().endswith("ok: pingd serve can start with this configuration")
    assert not (tmp_path / "new.db").exists()  # the check created nothing


def test_it_says_which_schema_the_database_has(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "pingd.db"
    target = schema_version(load_schema())
    assert main(["--db", str(db), "key", "list"]) == 0  # creates it, current
    capsys.readouterr()
    code, out, _ = run(tmp_path, capsys, "--db", str(db), "check-config")
    assert code == 0 and f"schema {target}, current, last written by pingd" in out
    with sqlite3.connect(db) as conn:
        conn.execute(f"PRAGMA user_version = {target - 1}")
    code, out, _ = run(tmp_path, capsys, "--db", str(db), "check-config")
    assert code == 0 and f"pingd serve migrates it to {target} at start" in out
    with sqlite3.connect(db) as conn:
        conn.execute(f"PRAGMA user_version = {target + 1}")
    code, out, err = run(tmp_path, capsys, "--db", str(db), "check-config")
    assert code == 1
    assert f"problem: database {db}: schema {target + 1}" in out and "newer than this" in out
    assert "1 problem(s) found" in err


def test_it_finds_listen_addresses_taken_or_not_of_this_machine(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        config = write_config(
            tmp_path, f'[server]\nlisten = ["127.0.0.1:{port}", "192.0.2.55:8000"]\n'
        )
        code, out, _ = run(tmp_path, capsys, "--config", str(config), "--db",
                           str(tmp_path / "p.db"), "check-config")  # fmt: skip
    assert code == 1
    assert f"listen 127.0.0.1:{port}: in use now (is pingd already running?)" in out
    assert "problem: listen 192.0.2.55:8000: cannot listen: Cannot assign requested address" in out


def test_it_warns_of_a_proxy_setup_that_cannot_see_the_clients(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    port = free_port()
    config = write_config(tmp_path, f'[server]\nlisten = ["127.0.0.1:{port}"]\n'
                                    'base_url = "https://pingd.example.org"\n')  # fmt: skip
    code, out, _ = run(tmp_path, capsys, "--config", str(config), "--db",
                       str(tmp_path / "p.db"), "check-config")  # fmt: skip
    assert code == 0
    assert "warning: base_url is https:// but server.trusted_proxy is empty" in out
    config = write_config(tmp_path, f'[server]\nlisten = ["0.0.0.0:{port}"]\n'
                                    'trusted_proxy = "127.0.0.1"\n')  # fmt: skip
    code, out, _ = run(tmp_path, capsys, "--config", str(config), "--db",
                       str(tmp_path / "p.db"), "check-config")  # fmt: skip
    assert "proxy: X-Forwarded-For and -Proto are trusted from 127.0.0.1 only" in out
    assert f"warning: pingd also listens on 0.0.0.0:{port}" in out


def test_a_broken_config_is_one_line_naming_the_setting(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path, '[api]\nrequire_https = "sometimes"\n')
    code, _, err = run(tmp_path, capsys, "--config", str(config), "check-config")
    assert code == 1
    assert "api.require_https" in err and "must be one of auto, always, never" in err
    assert "Traceback" not in err
