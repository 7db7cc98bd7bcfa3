"""Configuration: precedence, and errors that name the key and where its value came from."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest

from pingd.config import Config
from pingd.config import ConfigError
from pingd.config import find_config_path
from pingd.config import load_config

REPO = Path(__file__).resolve().parent.parent


def write_toml(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "custom.toml"
    path.write_text(text, encoding="utf-8")
    return path


def sections(config: Config) -> dict[str, Any]:
    """Return every setting of a config, without where the config came from."""
    return {
        f.name: getattr(config, f.name)
        for f in dataclasses.fields(config)
        if f.name not in ("source", "path", "sources")
    }


def param_id(value: object) -> str:
    return str(value).replace("\n", " ").strip() or "-"


def config_error(*args: Any, **kwargs: Any) -> str:
    with pytest.raises(ConfigError) as info:
        load_config(*args, **kwargs)
    return str(info.value)


# -- precedence ----------------------------------------------------------------


def test_it_uses_the_built_in_defaults_without_file_env_or_flags() -> None:
    config = load_config(None, environ={})
    assert config.server.listen == ("127.0.0.1:8000",)
    assert config.server.base_url == "http://localhost:8000"
    assert config.server.threads == 8
    assert config.server.trusted_proxy == ""
    assert config.server.max_request_body == 1048576
    assert config.server.ping_lane is True
    assert config.storage.path == "pingd.db"
    assert config.storage.ping_body_limit == 10000
    assert config.storage.ping_log_limit == 100
    assert config.api.rate_per_second == 5
    assert config.api.burst == 2
    assert config.limits.max_checks == 10000
    assert config.alerts.tick_seconds == 2
    assert config.smtp.host == ""
    assert config.smtp.port == 587
    assert config.smtp.security == "starttls"
    assert config.smtp.username == ""
    assert config.smtp.password == ""
    assert config.smtp.from_ == "pingd@localhost"


def test_it_applies_defaults_then_file_then_environment_then_flags(tmp_path: Path) -> None:
    path = write_toml(tmp_path, '[storage]\npath = "file.db"\nping_log_limit = 50\n')
    environ = {"PINGD_STORAGE_PATH": "env.db", "PINGD_SERVER_THREADS": "4"}
    flags = {"storage.path": ("cli.db", "--db")}

    assert load_config(None, environ={}).storage.path == "pingd.db"
    from_file = load_config(path, environ={})
    assert (from_file.storage.path, from_file.storage.ping_log_limit) == ("file.db", 50)
    from_env = load_config(path, environ=environ)
    assert (from_env.storage.path, from_env.server.threads) == ("env.db", 4)
    assert from_env.storage.ping_log_limit == 50
    from_flags = load_config(path, environ=environ, overrides=flags)
    assert from_flags.storage.path == "cli.db"
    assert (from_flags.server.threads, from_flags.storage.ping_log_limit) == (4, 50)
    assert from_flags.smtp.port == 587


def test_it_takes_listen_addresses_from_the_listen_flag(tmp_path: Path) -> None:
    path = write_toml(tmp_path, '[server]\nlisten = ["0.0.0.0:9000"]\n')
    overrides = {"server.listen": (["[::1]:9001", "127.0.0.1:9002"], "--listen")}
    config = load_config(path, environ={"PINGD_SERVER_LISTEN": "127.0.0.1:1"}, overrides=overrides)
    assert config.server.listen == ("[::1]:9001", "127.0.0.1:9002")


def test_it_reads_the_environment_from_os_environ_by_default(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PINGD_API_BURST", "7")
    assert load_config(None).api.burst == 7


def test_it_strips_a_trailing_slash_from_base_url() -> None:
    config = load_config(None, environ={"PINGD_SERVER_BASE_URL": "https://hc.example.org/"})
    assert config.server.base_url == "https://hc.example.org"


def test_it_parses_numbers_from_environment_text() -> None:
    environ = {"PINGD_API_RATE_PER_SECOND": "0.5", "PINGD_ALERTS_TICK_SECONDS": "1",
               "PINGD_SMTP_PORT": " 465 "}  # fmt: skip
    config = load_config(None, environ=environ)
    assert config.api.rate_per_second == 0.5
    assert config.alerts.tick_seconds == 1.0
    assert config.smtp.port == 465


@pytest.mark.parametrize(
    ("text", "expected"),
    [("false", False), ("FALSE", False), ("0", False), ("no", False), (" off ", False),
     ("true", True), ("1", True), ("Yes", True), ("on", True)],
)  # fmt: skip
def test_it_parses_a_switch_from_environment_text(text: str, expected: bool) -> None:
    config = load_config(None, environ={"PINGD_SERVER_PING_LANE": text})
    assert config.server.ping_lane is expected


def test_it_reads_a_switch_from_the_config_file(tmp_path: Path) -> None:
    path = write_toml(tmp_path, "[server]\nping_lane = false\n")
    assert load_config(path, environ={}).server.ping_lane is False


def test_it_ignores_the_environment_variables_the_cli_reads() -> None:
    environ = {"PINGD_CONFIG": "elsewhere.toml", "PINGD_DB": "other.db"}
    assert load_config(None, environ=environ).storage.path == "pingd.db"


@pytest.mark.parametrize(
    ("value", "listen"),
    [
        ("127.0.0.1:1 [::1]:2", ("127.0.0.1:1", "[::1]:2")),
        ("127.0.0.1:1,[::1]:2", ("127.0.0.1:1", "[::1]:2")),
        ("127.0.0.1:1, [::1]:2 ,0.0.0.0:3", ("127.0.0.1:1", "[::1]:2", "0.0.0.0:3")),
        ("[::]:8000", ("[::]:8000",)),
    ],
)
def test_it_reads_a_list_of_listen_addresses_from_the_environment(
    value: str, listen: tuple[str, ...]
) -> None:
    config = load_config(None, environ={"PINGD_SERVER_LISTEN": value})
    assert config.server.listen == listen


# -- the SMTP password file ----------------------------------------------------


def test_it_reads_the_smtp_password_from_a_file(tmp_path: Path) -> None:
    secret = tmp_path / "smtp-password"
    secret.write_text("s3cret pass\n", encoding="utf-8")
    config = load_config(None, environ={"PINGD_SMTP_PASSWORD_FILE": str(secret)})
    assert config.smtp.password == "s3cret pass"


def test_it_lets_the_password_file_override_the_config_file(tmp_path: Path) -> None:
    secret = tmp_path / "smtp-password"
    secret.write_text("from-file", encoding="utf-8")
    path = write_toml(tmp_path, '[smtp]\npassword = "from-toml"\n')
    config = load_config(path, environ={"PINGD_SMTP_PASSWORD_FILE": str(secret)})
    assert config.smtp.password == "from-file"


def test_it_names_the_setting_and_variable_when_the_password_file_is_missing(
    tmp_path: Path,
) -> None:
    missing = tmp_path / "no-such-file"
    message = config_error(None, environ={"PINGD_SMTP_PASSWORD_FILE": str(missing)})
    assert "smtp.password" in message
    assert "PINGD_SMTP_PASSWORD_FILE" in message
    assert str(missing) in message


def test_it_never_shows_the_smtp_password_in_the_config_repr() -> None:
    config = load_config(None, environ={"PINGD_SMTP_PASSWORD": "hunter2-secret"})
    assert config.smtp.password == "hunter2-secret"
    assert "hunter2-secret" not in repr(config)


# -- errors name the key and the source ----------------------------------------


def test_it_names_an_unknown_section_and_the_file(tmp_path: Path) -> None:
    path = write_toml(tmp_path, "[database]\npath = 'x.db'\n")
    message = config_error(path, environ={})
    assert "database" in message
    assert str(path) in message


def test_it_names_an_unknown_key_and_the_file(tmp_path: Path) -> None:
    path = write_toml(tmp_path, "[server]\nport = 8000\n")
    message = config_error(path, environ={})
    assert "server.port" in message
    assert str(path) in message


def test_it_names_an_unknown_pingd_environment_variable() -> None:
    message = config_error(None, environ={"PINGD_SERVER_PORT": "8000"})
    assert "PINGD_SERVER_PORT" in message


def test_it_ignores_environment_variables_of_other_programs() -> None:
    config = load_config(None, environ={"PING_TIMEOUT": "1", "HOME": "/root", "XPINGD_A": "1"})
    assert config.server.threads == 8


@pytest.mark.parametrize(
    ("toml", "key"),
    [
        ('[server]\nthreads = "8"\n', "server.threads"),  # a string for an integer
        ('[server]\nthreads = "eight"\n', "server.threads"),
        ("[server]\nthreads = true\n", "server.threads"),  # a bool for an integer
        ("[server]\nthreads = 8.5\n", "server.threads"),
        ('[smtp]\nport = "587"\n', "smtp.port"),
        ('[api]\nrate_per_second = "5"\n', "api.rate_per_second"),
        ("[api]\nrate_per_second = false\n", "api.rate_per_second"),
        ("[server]\nlisten = [8000]\n", "server.listen"),  # a list of non-strings
        ('[server]\nlisten = ["127.0.0.1:8000", 8001]\n', "server.listen"),
        ("[storage]\npath = 1\n", "storage.path"),
        ("[smtp]\nhost = ['a']\n", "smtp.host"),
        ('[server]\nping_lane = "false"\n', "server.ping_lane"),
        ("[server]\nping_lane = 0\n", "server.ping_lane"),
    ],
    ids=param_id,
)
def test_it_names_a_key_of_the_wrong_type_and_the_file(tmp_path: Path, toml: str, key: str) -> None:
    path = write_toml(tmp_path, toml)
    message = config_error(path, environ={})
    assert key in message
    assert str(path) in message


@pytest.mark.parametrize(
    ("name", "value", "key"),
    [
        ("PINGD_SERVER_THREADS", "many", "server.threads"),
        ("PINGD_SERVER_THREADS", "true", "server.threads"),
        ("PINGD_SERVER_THREADS", "8.5", "server.threads"),
        ("PINGD_API_RATE_PER_SECOND", "fast", "api.rate_per_second"),
        ("PINGD_SERVER_PING_LANE", "maybe", "server.ping_lane"),
        ("PINGD_SERVER_PING_LANE", "", "server.ping_lane"),
    ],
)
def test_it_names_an_environment_value_of_the_wrong_type(name: str, value: str, key: str) -> None:
    message = config_error(None, environ={name: value})
    assert key in message
    assert name in message


@pytest.mark.parametrize(
    ("toml", "key", "hint"),
    [
        ("[server]\nthreads = 0\n", "server.threads", "between 1 and 256"),
        ('[server]\nlisten = ["127.0.0.1:70000"]\n', "server.listen", "65535"),
        ('[server]\nlisten = ["localhost"]\n', "server.listen", "HOST:PORT"),
        ('[server]\nlisten = ["::1:8000"]\n', "server.listen", "brackets"),
        ('[server]\nlisten = ["[::1]8000"]\n', "server.listen", ""),
        ('[server]\nlisten = ["[not-v6]:8000"]\n', "server.listen", ""),
        ("[server]\nlisten = []\n", "server.listen", ""),
        ('[server]\nbase_url = "localhost:8000"\n', "server.base_url", "http"),
        ('[server]\nbase_url = "ftp://example.org"\n', "server.base_url", "http"),
        ('[server]\ntrusted_proxy = "proxy.local"\n', "server.trusted_proxy", ""),
        ("[server]\nmax_request_body = 0\n", "server.max_request_body", ""),
        ("[smtp]\nport = 70000\n", "smtp.port", "65535"),
        ("[smtp]\nport = 0\n", "smtp.port", ""),
        ('[smtp]\nsecurity = "ssl"\n', "smtp.security", "starttls"),
        ('[storage]\npath = ""\n', "storage.path", ""),
        ("[storage]\nping_log_limit = 0\n", "storage.ping_log_limit", ""),
        ("[storage]\nping_body_limit = -1\n", "storage.ping_body_limit", ""),
        ("[api]\nburst = 0\n", "api.burst", ""),
        ("[api]\nrate_per_second = 0\n", "api.rate_per_second", ""),
        ("[limits]\nmax_checks = 0\n", "limits.max_checks", ""),
        ("[alerts]\ntick_seconds = 0\n", "alerts.tick_seconds", ""),
    ],
    ids=param_id,
)
def test_it_names_an_impossible_value_and_the_file(
    tmp_path: Path, toml: str, key: str, hint: str
) -> None:
    path = write_toml(tmp_path, toml)
    message = config_error(path, environ={})
    assert key in message
    assert str(path) in message
    assert hint in message


def test_it_names_an_impossible_environment_value_and_the_variable() -> None:
    message = config_error(None, environ={"PINGD_SERVER_LISTEN": "127.0.0.1:1 ::1:2"})
    assert "server.listen" in message
    assert "PINGD_SERVER_LISTEN" in message


def test_it_names_an_impossible_flag_value_and_the_flag() -> None:
    message = config_error(None, environ={}, overrides={"storage.path": ("", "--db")})
    assert "storage.path" in message
    assert "--db" in message


def test_it_refuses_a_ping_body_limit_above_max_request_body_naming_both_and_the_source(
    tmp_path: Path,
) -> None:
    path = write_toml(tmp_path, "[storage]\nping_body_limit = 20000\n")
    message = config_error(path, environ={"PINGD_SERVER_MAX_REQUEST_BODY": "10000"})
    assert "storage.ping_body_limit" in message
    assert "server.max_request_body" in message
    assert str(path) in message
    assert "PINGD_SERVER_MAX_REQUEST_BODY" in message


def test_it_accepts_a_ping_body_limit_equal_to_max_request_body() -> None:
    environ = {"PINGD_STORAGE_PING_BODY_LIMIT": "5000", "PINGD_SERVER_MAX_REQUEST_BODY": "5000"}
    config = load_config(None, environ=environ)
    assert (config.storage.ping_body_limit, config.server.max_request_body) == (5000, 5000)


def test_it_accepts_ipv6_and_wildcard_listen_addresses_and_proxies(tmp_path: Path) -> None:
    path = write_toml(
        tmp_path,
        '[server]\nlisten = ["[::]:8000", "0.0.0.0:8000", "[::1]:0"]\ntrusted_proxy = "::1"\n',
    )
    config = load_config(path, environ={})
    assert config.server.listen == ("[::]:8000", "0.0.0.0:8000", "[::1]:0")
    assert config.server.trusted_proxy == "::1"


def test_it_names_a_config_file_that_does_not_exist(tmp_path: Path) -> None:
    missing = tmp_path / "missing.toml"
    message = config_error(missing, environ={})
    assert str(missing) in message


def test_it_names_a_config_file_that_is_not_toml(tmp_path: Path) -> None:
    path = write_toml(tmp_path, "[server\nthreads = 8\n")
    message = config_error(path, environ={})
    assert str(path) in message


# -- the repository's pingd.toml -----------------------------------------------


def test_it_loads_the_repository_pingd_toml_as_exactly_the_built_in_defaults() -> None:
    from_file = load_config(REPO / "pingd.toml", environ={})
    assert sections(from_file) == sections(load_config(None, environ={}))
    assert from_file.source == str(REPO / "pingd.toml")
    assert from_file.path == str(REPO / "pingd.toml")


# -- find_config_path ----------------------------------------------------------


def test_it_prefers_the_config_flag_over_pingd_config_and_the_local_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "pingd.toml").write_text("", encoding="utf-8")
    environ = {"PINGD_CONFIG": "from-env.toml"}
    assert find_config_path("flag.toml", environ) == Path("flag.toml")
    assert find_config_path(None, environ) == Path("from-env.toml")
    assert find_config_path(None, {}) == Path("pingd.toml")


def test_it_returns_an_explicit_config_path_even_when_the_file_is_missing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert find_config_path("nope.toml", {}) == Path("nope.toml")
    assert find_config_path(None, {"PINGD_CONFIG": "nope.toml"}) == Path("nope.toml")


def test_it_uses_built_in_defaults_when_there_is_no_local_pingd_toml(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert find_config_path(None, {}) is None
    (tmp_path / "pingd.toml").mkdir()  # a directory of that name is not a config file
    assert find_config_path(None, {}) is None
    assert find_config_path(None, {"PINGD_CONFIG": ""}) is None
