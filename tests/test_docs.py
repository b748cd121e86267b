"""The docs describe the code as it is: every setting is documented, and the README's links resolve."""

from __future__ import annotations

import re

from normbank.config import Settings
from tests.conftest import REPO


def test_every_setting_is_documented():
    text = (REPO / "docs" / "configuration.md").read_text(encoding="utf-8")
    missing = [name for name in Settings.model_fields if f"`NORMBANK_{name.upper()}`" not in text]
    assert not missing, f"docs/configuration.md does not document {missing}"


def test_every_documented_setting_exists():
    text = (REPO / "docs" / "configuration.md").read_text(encoding="utf-8")
    table = text.split("Other variables")[0]
    documented = {m.lower() for m in re.findall(r"`NORMBANK_([A-Z_]+)`", table)}
    assert documented == set(Settings.model_fields)


def test_links_in_the_readme_and_docs_point_at_files_that_exist():
    for page in [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]:
        for target in re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", page.read_text(encoding="utf-8")):
            if not target.startswith(("http://", "https://", "mailto:")):
                assert (page.parent / target).exists(), f"{page.name} links to missing {target}"
