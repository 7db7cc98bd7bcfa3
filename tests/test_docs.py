"""The documented settings match the declared ones: pingd.toml and README.md list each."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from pingd.config import SETTINGS

REPO = Path(__file__).resolve().parent.parent
SETTING_NAMES = sorted(setting.name for setting in SETTINGS)


def toml_keys() -> set[str]:
    with (REPO / "pingd.toml").open("rb") as fh:
        data = tomllib.load(fh)
    return {
        f"{section}.{key}"
        for section, table in data.items()
        for key in (table if isinstance(table, dict) else {section: None})
    }


def readme_first_cells() -> list[str]:
    """Return the first cell of every Markdown table row in README.md."""
    cells = []
    for line in (REPO / "README.md").read_text(encoding="utf-8").splitlines():
        stripped = line.strip()
        if stripped.startswith("|") and stripped.count("|") >= 2:
            cells.append(stripped.split("|")[1].strip())
    return cells


@pytest.mark.parametrize("name", SETTING_NAMES)
def test_it_documents_every_setting_in_pingd_toml(name: str) -> None:
    assert name in toml_keys(), f"{name} is a setting but not a key in pingd.toml"


def test_it_has_no_key_in_pingd_toml_that_is_not_a_setting() -> None:
    unknown = sorted(toml_keys() - set(SETTING_NAMES))
    assert unknown == [], f"pingd.toml has keys that are not settings: {unknown}"


@pytest.mark.parametrize("name", SETTING_NAMES)
def test_it_documents_every_setting_in_a_readme_table_row(name: str) -> None:
    cells = readme_first_cells()
    assert any(f"`{name}`" in cell for cell in cells), (
        f"README.md has no table row whose first cell names `{name}`"
    )


def test_it_has_no_setting_row_in_the_readme_that_is_not_a_setting() -> None:
    sections = {setting.section for setting in SETTINGS}
    documented = {
        cell.strip("`")
        for cell in readme_first_cells()
        if cell.startswith("`") and cell.endswith("`") and cell.strip("`").count(".") == 1
        and cell.strip("`").split(".")[0] in sections
    }  # fmt: skip
    unknown = sorted(documented - set(SETTING_NAMES))
    assert unknown == [], f"README.md documents settings that do not exist: {unknown}"
