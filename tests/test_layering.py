"""The import graph points only down the layers that docs/architecture.md draws.

Every ``pingd`` module is parsed with ``ast`` (nothing is imported), each
import of another ``pingd`` module becomes an edge between layers, and an
edge that is not allowed fails with the file, line and the rule it breaks.
A layer is a top-level module (``pingd/config.py`` is ``config``) or a
sub-package (every module under ``pingd/notify/`` is ``notify``). Inside a
sub-package, each family's module may import only the package's shared
modules (``PACKAGE_SHARED``), so that the families stand side by side.
"""

from __future__ import annotations

import ast
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "pingd"

# Which layers each layer may import. "pingd" is the package itself, for
# __version__; pingd/__init__.py imports nothing, so it may be imported by all.
ALLOWED: dict[str, set[str]] = {
    "errors": set(),
    "config": set(),
    "migrate": set(),
    "ratelimit": set(),  # a stdlib-only utility for the API
    "dbfile": set(),  # can the database file be used, and the message if not
    "serverlock": {"dbfile"},  # one `pingd serve` per database
    "clock": set(),  # the steady wall clock the service is given
    "textsafe": set(),  # outside text made safe for terminals, headers and subjects
    "domain": {"errors"},
    # The single writer thread and its connections; no query of its own.
    "writer": {"domain", "errors"},
    # The queries, a module per family of tables, run by the writer.
    "store": {"domain", "writer"},
    # The use cases: the store's queries, run through the writer's Store.
    "service": {"domain", "store", "writer", "errors", "declared"},
    # Declared checks and channels: read from the files, planned; pure but for the reading.
    "declared": {"domain", "errors"},
    # notify reads its SMTP settings as config's frozen dataclass; config is a
    # stdlib-only leaf, so this adds no edge back up.
    "notify": {"errors", "domain", "config", "textsafe"},
    "scheduler": {"service", "domain", "errors", "notify"},
    "ping_routes": {"service", "errors", "domain"},
    "api": {"service", "errors", "domain", "ratelimit"},
    "openapi": {"domain"},  # the API's document, built from the domain's limits
    # The dashboard's pages, beside the API over the same service.
    "dashboard": {"service", "errors", "domain", "ratelimit"},
    # Healthchecks' API, badges and metrics: a second face over the same service.
    "hcapi": {"service", "errors", "domain"},
    # Developer mode builds its own stores and services, as app.py does.
    "sandbox": {"domain", "store", "writer", "migrate", "service", "errors"},
    "app": {"ping_routes", "api", "dashboard", "hcapi", "errors", "service", "writer", "migrate",
            "config", "domain", "scheduler", "notify", "ratelimit", "sandbox", "openapi", "dbfile",
            "clock"},
    # The HTTP server: waitress, with the ping lane that feeds the writer.
    "server": {"ping_routes", "service", "strict_http"},
    # Ambiguous framing refused, and waitress's own error answers in pingd's words.
    "strict_http": set(),
    "cli": {"config", "app", "migrate", "service", "store", "writer", "domain", "errors",
            "declared", "scheduler", "notify", "server", "dbfile", "serverlock", "textsafe",
            "clock"},
    "__main__": {"cli"},
    "pingd": set(),
}  # fmt: skip
ALWAYS_ALLOWED = {"pingd"}

# Third-party and standard-library imports: these layers may use only the
# standard library (plus what is listed), so they stay readable on their own.
STDLIB_ONLY = {"errors": set(), "config": set(), "migrate": set(), "ratelimit": set(),
               "domain": {"cronsim"}, "dbfile": set(), "serverlock": set(),
               "clock": set(), "textsafe": set(), "declared": set()}  # fmt: skip

# Inside each sub-package, the modules the others may import: what the
# package's families share. A family's module imports no other family's (a
# change to one family then touches its own modules), except along the edges
# in FAMILY_EDGES; the package's __init__ may import all of them.
PACKAGE_SHARED: dict[str, set[str]] = {
    "domain": {"checks", "fields"},  # checks, pings, flips; the rules of the fields people type
    "notify": {"base"},  # the fields, messages and HTTP helpers every channel kind uses
    "writer": {"connection"},  # the writer's connection, beneath the writer thread
    "store": {"times", "staging"},  # stored times, and the staging of the ping path's writes
    "service": {"core"},  # the state every family of use cases shares
    "api": {"common"},  # the JSON helpers and the resource base of every /v1 family
    "openapi": {"common"},  # refs, envelopes and error answers of the document
    "cli": {"common"},  # the one-line error, tables and opening the database
    "dashboard": {"render", "session"},  # the page machinery and who is browsing
    "hcapi": {"common", "shapes"},  # keys, CORS and errors; Healthchecks' JSON
    "declared": {"parse"},  # the declaration as read, which the plan and export are about
}
FAMILY_EDGES: dict[str, set[str]] = {
    # A ping may create its check (create=1) and queues its flips' alerts in
    # its own transaction; neither family needs anything of pings.
    "pingd.service.pings": {"pingd.service.checks", "pingd.service.policy"},
    # Pausing or resuming a check ends what its channels were told.
    "pingd.service.checks": {"pingd.service.policy"},
    # The alert loop's sweeps carry out the alert policy, in their own writes.
    "pingd.service.alerts": {"pingd.service.policy"},
    # Applying a declaration writes checks as the checks family does.
    "pingd.service.declared": {"pingd.service.checks", "pingd.service.windows"},
    # The export writes a check's fields as the plan compares them.
    "pingd.declared.export": {"pingd.declared.plan"},
    # A browser signs in with an API key, hashed the same way.
    "pingd.service.sessions": {"pingd.service.keys"},
    # The one place that lists the /v1 routes puts the families together.
    "pingd.api.routes": {
        "pingd.api.checks",
        "pingd.api.channels",
        "pingd.api.project",
        "pingd.api.windows",
    },
    # The one place that lists the dashboard's pages puts them together.
    "pingd.dashboard.routes": {
        "pingd.dashboard.checks",
        "pingd.dashboard.check",
        "pingd.dashboard.ping",
        "pingd.dashboard.login",
        "pingd.dashboard.actions",
        "pingd.dashboard.edit",
        "pingd.dashboard.channels",
        "pingd.dashboard.tv",
    },
    # Healthchecks' check resources validate its body; its history resources
    # find checks as the check resources do; the route table lists them all.
    "pingd.hcapi.checks": {"pingd.hcapi.spec"},
    "pingd.hcapi.history": {"pingd.hcapi.checks"},
    "pingd.hcapi.project": {
        "pingd.hcapi.checks",
        "pingd.hcapi.history",
        "pingd.hcapi.badges",
        "pingd.hcapi.metrics",
    },
    # The TV view shows the checks page's view (filters, rows, counts) as tiles.
    "pingd.dashboard.tv": {"pingd.dashboard.checks"},
    # The check page draws its charts from the numbers chart.py computes.
    "pingd.dashboard.check": {"pingd.dashboard.chart"},
    # ``pingd check pause --until`` holds alerts with a window.
    "pingd.cli.checks": {"pingd.cli.windows"},
    # ``pingd serve`` applies the declared checks at start and on SIGHUP.
    "pingd.cli.serve": {"pingd.cli.declared"},
    # ``pingd``'s parser gathers the subcommands of every family.
    "pingd.cli.main": {
        "pingd.cli.serve",
        "pingd.cli.keys",
        "pingd.cli.checks",
        "pingd.cli.channels",
        "pingd.cli.declared",
        "pingd.cli.hcimport",
        "pingd.cli.backup",
        "pingd.cli.windows",
        "pingd.cli.checkconfig",
    },
}


@dataclass(frozen=True)
class Import:
    target: str  # a dotted module name
    line: int


def module_name(path: Path, root: Path = PACKAGE.parent) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def layer_of(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def exists(module: str, root: Path = PACKAGE.parent) -> bool:
    path = root.joinpath(*module.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def imports_of(path: Path, root: Path = PACKAGE.parent) -> list[Import]:
    """Return every module that a file imports, resolved to absolute dotted names."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    name = module_name(path, root)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: list[Import] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [Import(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base_parts = package.split(".")
                base_parts = base_parts[: len(base_parts) - (node.level - 1)]
                base = ".".join(base_parts + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            for alias in node.names:
                # "from pingd import domain" imports a module; "from pingd import
                # __version__" imports a name from the package.
                candidate = f"{base}.{alias.name}"
                found.append(Import(candidate if exists(candidate, root) else base, node.lineno))
    return found


def pingd_modules() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts)


def ids(path: Path) -> str:
    return str(path.relative_to(PACKAGE.parent))


MODULES = pingd_modules()


def test_it_finds_the_modules_it_checks() -> None:
    names = {module_name(path) for path in MODULES}
    assert {"pingd.domain", "pingd.service", "pingd.store", "pingd.cli"} <= names


@pytest.mark.parametrize("path", MODULES, ids=ids)
def test_it_knows_the_layer_of_every_module(path: Path) -> None:
    layer = layer_of(module_name(path))
    assert layer in ALLOWED, (
        f"{ids(path)} is in layer {layer!r}, which tests/test_layering.py does not know: "
        "add it to ALLOWED with the layers it may import"
    )


@pytest.mark.parametrize("path", MODULES, ids=ids)
def test_it_imports_only_allowed_layers(path: Path) -> None:
    source = layer_of(module_name(path))
    allowed = ALLOWED.get(source, set()) | ALWAYS_ALLOWED | {source}
    problems = []
    for imp in imports_of(path):
        if imp.target != "pingd" and not imp.target.startswith("pingd."):
            continue
        target = layer_of(imp.target)
        if target not in allowed:
            permitted = ", ".join(sorted(ALLOWED.get(source, set()))) or "nothing in pingd"
            problems.append(
                f"{ids(path)}:{imp.line} imports {imp.target}: edge {source} -> {target} "
                f"is not allowed ({source} may import {permitted})"
            )
    assert problems == [], "\n".join(problems)


def packages() -> list[Path]:
    return sorted(p.parent for p in PACKAGE.glob("*/__init__.py"))


def test_it_knows_the_shared_modules_of_every_package() -> None:
    names = {path.name for path in packages()}
    assert names == set(PACKAGE_SHARED), (
        "list every sub-package of pingd in PACKAGE_SHARED, with the modules its families share"
    )
    for package, shared in PACKAGE_SHARED.items():
        for name in shared:
            assert exists(f"pingd.{package}.{name}"), f"pingd.{package}.{name} does not exist"
    for source, targets in FAMILY_EDGES.items():
        assert all(exists(name) for name in [source, *targets]), (source, targets)


@pytest.mark.parametrize(
    "path",
    [p for p in MODULES if p.parent != PACKAGE and p.name != "__init__.py"],
    ids=ids,
)
def test_it_keeps_the_families_of_a_package_apart(path: Path) -> None:
    name = module_name(path)
    package = layer_of(name)
    prefix = f"pingd.{package}"
    shared = {f"{prefix}.{module}" for module in PACKAGE_SHARED.get(package, set())}
    allowed = shared | FAMILY_EDGES.get(name, set())
    problems = [
        f"{ids(path)}:{imp.line} imports {imp.target}: {name} may import only "
        + (", ".join(sorted(allowed)) or "nothing")
        + f" of {prefix}"
        for imp in imports_of(path)
        if (imp.target == prefix or imp.target.startswith(prefix + "."))
        and ".".join(imp.target.split(".")[:3]) not in allowed
    ]
    assert problems == [], "\n".join(problems)


@pytest.mark.parametrize(
    "path",
    [p for p in MODULES if layer_of(module_name(p)) in STDLIB_ONLY],
    ids=ids,
)
def test_it_keeps_the_lowest_layers_on_the_standard_library(path: Path) -> None:
    layer = layer_of(module_name(path))
    extra = STDLIB_ONLY[layer]
    outside = [
        f"{ids(path)}:{imp.line} imports {imp.target}"
        for imp in imports_of(path)
        if not imp.target.startswith("pingd")
        and imp.target.split(".")[0] not in sys.stdlib_module_names
        and imp.target.split(".")[0] not in extra
    ]
    assert outside == [], (
        f"{layer} may use only the standard library"
        + (f" and {', '.join(sorted(extra))}" if extra else "")
        + ":\n"
        + "\n".join(outside)
    )


def test_it_keeps_the_domain_free_of_web_and_database_libraries() -> None:
    paths = sorted((PACKAGE / "domain").glob("*.py"))
    assert len(paths) > 1
    targets = {imp.target.split(".")[0] for path in paths for imp in imports_of(path)}
    assert targets & {"falcon", "waitress", "sqlite3", "webtest"} == set()


def test_it_resolves_absolute_relative_and_package_imports(tmp_path: Path) -> None:
    notify = tmp_path / "pingd" / "notify"
    notify.mkdir(parents=True)
    (tmp_path / "pingd" / "__init__.py").write_text("__version__ = '1'\n")
    (tmp_path / "pingd" / "errors.py").write_text("")
    (tmp_path / "pingd" / "config.py").write_text("")
    (notify / "base.py").write_text("")
    (notify / "__init__.py").write_text("from . import base\nfrom .base import Field\n")
    (notify / "email.py").write_text(
        "import json\n"
        "from pingd import __version__\n"
        "from pingd import errors\n"
        "from pingd.config import SmtpConfig\n"
        "from .base import Message\n"
        "from .. import config\n"
        "def late():\n"
        "    import pingd.errors\n"
    )
    found = [(imp.target, imp.line) for imp in imports_of(notify / "email.py", tmp_path)]
    assert found == [
        ("json", 1),
        ("pingd", 2),
        ("pingd.errors", 3),
        ("pingd.config", 4),
        ("pingd.notify.base", 5),
        ("pingd.config", 6),
        ("pingd.errors", 8),
    ]
    package = [imp.target for imp in imports_of(notify / "__init__.py", tmp_path)]
    assert package == ["pingd.notify.base", "pingd.notify.base"]
    assert module_name(notify / "__init__.py", tmp_path) == "pingd.notify"
    assert layer_of("pingd.notify.email") == "notify"
    assert layer_of("pingd") == "pingd"
