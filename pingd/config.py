"""Configuration: every setting declared once, loaded with a fixed precedence.

Precedence, lowest first: built-in defaults < ``pingd.toml`` < environment
variables ``PINGD_<SECTION>_<KEY>`` < command-line flags. Unknown sections or
keys, wrong types and impossible values raise ``ConfigError`` with a message
that names the key and where its value came from.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import os
import re
import tomllib
from collections.abc import Callable
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DEFAULT_CONFIG_FILENAME = "pingd.toml"
# Top-level keys of the file that declare checks and channels (pingd.declared
# reads them); they are not settings.
DECLARATION_KEYS = ("check", "channel", "include", "prune")


class ConfigError(Exception):
    """A setting is unknown, of the wrong type or impossible."""


@dataclass(frozen=True, slots=True)
class Setting:
    section: str
    key: str
    default: Any
    kind: type
    help: str
    check: Callable[[Any], str | None] = lambda value: None

    @property
    def name(self) -> str:
        return f"{self.section}.{self.key}"

    @property
    def env_name(self) -> str:
        return f"PINGD_{self.section}_{self.key}".upper()


def _at_least(low: float) -> Callable[[Any], str | None]:
    return lambda value: None if value >= low else f"must be at least {low}"


def _between(low: int, high: int) -> Callable[[Any], str | None]:
    return lambda value: None if low <= value <= high else f"must be between {low} and {high}"


def _one_of(*choices: str) -> Callable[[Any], str | None]:
    return lambda value: None if value in choices else f"must be one of {', '.join(choices)}"


def parse_listen_address(text: str) -> tuple[str, int]:
    """Split ``HOST:PORT`` or ``[V6]:PORT`` into host and port, or raise ValueError."""
    host, sep, port_text = text.rpartition(":")
    if not sep or not host or not re.fullmatch(r"[0-9]{1,5}", port_text):
        raise ValueError(f"{text!r} is not HOST:PORT")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
        ipaddress.IPv6Address(host)
    elif ":" in host:
        raise ValueError(f"{text!r}: write IPv6 addresses in brackets, like [::1]:8000")
    port = int(port_text)
    if not 0 <= port <= 65535:
        raise ValueError(f"{text!r}: port must be between 0 and 65535")
    return host, port


def _check_listen(value: list[str]) -> str | None:
    if not value:
        return "must name at least one HOST:PORT"
    for item in value:
        try:
            parse_listen_address(item)
        except ValueError as ex:
            return str(ex)
    return None


def _check_base_url(value: str) -> str | None:
    if not value.startswith(("http://", "https://")) or len(value) < 10:
        return "must be an absolute http:// or https:// URL"
    return None


def _check_proxy(value: str) -> str | None:
    if value in ("", "*"):
        return None
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return "must be an IP address, '*' or empty"
    return None


SETTINGS: tuple[Setting, ...] = (
    Setting("server", "listen", ["127.0.0.1:8000"], list,
            "Addresses to listen on, HOST:PORT; [::]:8000 for IPv6.", _check_listen),
    Setting("server", "base_url", "http://localhost:8000", str,
            "Public URL of this server, used to build ping URLs and links.", _check_base_url),
    Setting("server", "threads", 8, int, "Worker threads that answer requests.", _between(1, 256)),
    Setting("server", "trusted_proxy", "", str,
            "Address of the reverse proxy whose X-Forwarded-* headers are trusted.", _check_proxy),
    Setting("server", "max_request_body", 1048576, int,
            "Largest request body accepted, in bytes; larger ones get 413.", _at_least(1)),
    Setting("server", "ping_lane", True, bool,
            "Answer pings without a worker thread (about twice as fast); false serves them "
            "through waitress's worker threads like every other request."),
    Setting("storage", "path", "pingd.db", str, "The SQLite database file.",
            lambda value: None if value else "must not be empty"),
    Setting("storage", "ping_body_limit", 10000, int,
            "Bytes of each ping body that are stored.", _at_least(0)),
    Setting("storage", "ping_log_limit", 100, int, "Pings kept per check.", _at_least(1)),
    Setting("api", "rate_per_second", 5.0, float,
            "API requests per second allowed per key.", _at_least(0.001)),
    Setting("api", "burst", 2, int, "API requests allowed at once per key.", _at_least(1)),
    Setting("api", "require_https", "auto", str,
            "Refuse API keys sent over plain HTTP: auto (unless from a loopback or private "
            "address), always or never.", _one_of("auto", "always", "never")),
    Setting("limits", "max_checks", 10000, int, "Checks per project.", _at_least(1)),
    Setting("alerts", "tick_seconds", 2.0, float,
            "How often the alert loop looks for overdue checks.", _at_least(0.05)),
    Setting("smtp", "host", "", str, "SMTP server for email channels."),
    Setting("smtp", "port", 587, int, "SMTP port.", _between(1, 65535)),
    Setting("smtp", "security", "starttls", str, "starttls, tls or none.",
            _one_of("starttls", "tls", "none")),
    Setting("smtp", "username", "", str, "SMTP user name."),
    Setting("smtp", "password", "", str,
            "SMTP password (or PINGD_SMTP_PASSWORD / PINGD_SMTP_PASSWORD_FILE)."),
    Setting("smtp", "from", "pingd@localhost", str, "Sender address of email alerts."),
)  # fmt: skip

SETTINGS_BY_NAME = {setting.name: setting for setting in SETTINGS}
SECTIONS = tuple(dict.fromkeys(setting.section for setting in SETTINGS))
# Environment variables that are not settings but are read by the CLI.
NON_SETTING_ENV = {"PINGD_CONFIG", "PINGD_DB", "PINGD_SMTP_PASSWORD_FILE"}


@dataclass(frozen=True, slots=True)
class ServerConfig:
    listen: tuple[str, ...]
    base_url: str
    threads: int
    trusted_proxy: str
    max_request_body: int
    ping_lane: bool


@dataclass(frozen=True, slots=True)
class StorageConfig:
    path: str
    ping_body_limit: int
    ping_log_limit: int


@dataclass(frozen=True, slots=True)
class ApiConfig:
    rate_per_second: float
    burst: int
    require_https: str = "auto"


@dataclass(frozen=True, slots=True)
class LimitsConfig:
    max_checks: int


@dataclass(frozen=True, slots=True)
class AlertsConfig:
    tick_seconds: float


@dataclass(frozen=True, slots=True)
class SmtpConfig:
    host: str
    port: int
    security: str
    username: str
    password: str = dataclasses.field(repr=False)
    from_: str


@dataclass(frozen=True, slots=True)
class Config:
    server: ServerConfig
    storage: StorageConfig
    api: ApiConfig
    limits: LimitsConfig
    alerts: AlertsConfig
    smtp: SmtpConfig
    source: str = "built-in defaults"
    path: str = ""  # the config file read, if any (its checks and channels are declared)
    # Where each setting's value came from ("built-in defaults", the file, a
    # variable, a flag), for `pingd check-config`.
    sources: Mapping[str, str] = dataclasses.field(default_factory=dict, compare=False)


_SECTION_CLASSES: dict[str, type] = {
    "server": ServerConfig,
    "storage": StorageConfig,
    "api": ApiConfig,
    "limits": LimitsConfig,
    "alerts": AlertsConfig,
    "smtp": SmtpConfig,
}


def _coerce(setting: Setting, value: Any, source: str, *, text: bool = False) -> Any:
    """Convert a value to the setting's type; only environment ``text`` is parsed."""
    where = f"{setting.name} (from {source})"
    from_text = text and isinstance(value, str) and setting.kind is not str
    try:
        if setting.kind is list:
            if from_text:
                value = [part for part in value.replace(",", " ").split() if part]
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise TypeError
            return tuple(value)
        if setting.kind is bool:
            if from_text:
                return _parse_bool(value)
            if not isinstance(value, bool):
                raise TypeError
            return value
        if setting.kind is int:
            if from_text:
                return int(value.strip())
            if isinstance(value, bool) or not isinstance(value, int):
                raise TypeError
            return value
        if setting.kind is float:
            if from_text:
                return float(value.strip())
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise TypeError
            return float(value)
        if not isinstance(value, str):
            raise TypeError
        return value
    except (TypeError, ValueError):
        expected = {list: "a list of strings", int: "an integer", float: "a number",
                    bool: "true or false"}  # fmt: skip
        raise ConfigError(
            f"{where}: expected {expected.get(setting.kind, 'a string')}, got {value!r}"
        ) from None


def _parse_bool(text: str) -> bool:
    word = text.strip().lower()
    if word in ("true", "1", "yes", "on"):
        return True
    if word in ("false", "0", "no", "off"):
        return False
    raise ValueError(text)


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist") from None
    except (OSError, tomllib.TOMLDecodeError) as ex:
        raise ConfigError(f"config file {path}: {ex}") from None


def _values_from_toml(data: Mapping[str, Any], source: str) -> dict[str, tuple[Any, str]]:
    values: dict[str, tuple[Any, str]] = {}
    for section, table in data.items():
        if section in DECLARATION_KEYS:
            continue
        if section not in SECTIONS:
            raise ConfigError(f"unknown section [{section}] in {source}")
        if not isinstance(table, dict):
            raise ConfigError(f"[{section}] in {source} must be a table")
        for key, value in table.items():
            setting = SETTINGS_BY_NAME.get(f"{section}.{key}")
            if setting is None:
                raise ConfigError(f"unknown key {section}.{key} in {source}")
            values[setting.name] = (_coerce(setting, value, source), source)
    return values


def _values_from_env(environ: Mapping[str, str]) -> dict[str, tuple[Any, str]]:
    by_env = {setting.env_name: setting for setting in SETTINGS}
    values: dict[str, tuple[Any, str]] = {}
    for name, value in environ.items():
        if not name.startswith("PINGD_") or name in NON_SETTING_ENV:
            continue
        setting = by_env.get(name)
        if setting is None:
            raise ConfigError(f"unknown environment variable {name} (no such setting)")
        source = f"environment variable {name}"
        values[setting.name] = (_coerce(setting, value, source, text=True), source)
    secret_file = environ.get("PINGD_SMTP_PASSWORD_FILE")
    if secret_file and "smtp.password" not in values:
        source = "environment variable PINGD_SMTP_PASSWORD_FILE"
        try:
            password = Path(secret_file).read_text(encoding="utf-8").rstrip("\r\n")
        except OSError as ex:
            raise ConfigError(
                f"smtp.password (from {source}): cannot read {secret_file}: {ex}"
            ) from None
        values["smtp.password"] = (password, source)
    return values


def find_config_path(explicit: str | None, environ: Mapping[str, str]) -> Path | None:
    """Return the config file to read: --config, $PINGD_CONFIG, ./pingd.toml or none."""
    chosen = explicit or environ.get("PINGD_CONFIG")
    if chosen:
        return Path(chosen)
    default = Path(DEFAULT_CONFIG_FILENAME)
    return default if default.is_file() else None


def load_config(
    path: Path | None = None,
    environ: Mapping[str, str] | None = None,
    overrides: Mapping[str, tuple[Any, str]] | None = None,
) -> Config:
    """Build the Config from defaults, a TOML file, the environment and CLI flags."""
    environ = os.environ if environ is None else environ
    values: dict[str, tuple[Any, str]] = {
        s.name: (_coerce(s, s.default, "built-in defaults"), "built-in defaults") for s in SETTINGS
    }
    if path is not None:
        values.update(_values_from_toml(_read_toml(path), str(path)))
    values.update(_values_from_env(environ))
    for name, (value, source) in (overrides or {}).items():
        setting = SETTINGS_BY_NAME[name]
        values[name] = (_coerce(setting, value, source), source)
    config = _build(values, source=str(path) if path else "built-in defaults")
    sources = {name: source for name, (_, source) in values.items()}
    return dataclasses.replace(config, path=str(path) if path else "", sources=sources)


def _build(values: Mapping[str, tuple[Any, str]], source: str) -> Config:
    sections: dict[str, dict[str, Any]] = {section: {} for section in SECTIONS}
    for setting in SETTINGS:
        value, where = values[setting.name]
        problem = setting.check(value)
        if problem:
            raise ConfigError(f"{setting.name} (from {where}): {problem}, got {value!r}")
        field = "from_" if setting.key == "from" else setting.key
        if setting.name == "server.base_url":
            value = value.rstrip("/")
        sections[setting.section][field] = value
    limit, limit_source = values["storage.ping_body_limit"]
    largest, largest_source = values["server.max_request_body"]
    if limit > largest:
        raise ConfigError(
            f"storage.ping_body_limit (from {limit_source}) must not exceed "
            f"server.max_request_body (from {largest_source}): {limit} > {largest}"
        )
    built = {name: _SECTION_CLASSES[name](**fields) for name, fields in sections.items()}
    return Config(**built, source=source)


def default_config(**overrides: Any) -> Config:
    """Return the built-in defaults with some settings replaced (for tests and tools)."""
    named = {name.replace("__", "."): (value, "overrides") for name, value in overrides.items()}
    return load_config(None, environ={}, overrides=named)
