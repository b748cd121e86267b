"""`schema` and `api` are generic names: make sure the imported modules are this distribution's."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

import normbank

PACKAGES = ("normbank", "schema", "ingest", "api")


@pytest.mark.parametrize("name", PACKAGES)
def test_top_level_packages_come_from_this_distribution(name):
    module = importlib.import_module(name)
    assert getattr(module, "__distribution__", None) == "normbank", f"{name} is not ours: {module.__file__}"
    root = Path(normbank.__file__).resolve().parents[1]
    assert Path(module.__file__).resolve().parent == root / name


def test_sample_corpus_and_migrations_ship_inside_the_packages():
    from normbank.cli import sample_corpus_path
    from schema.migrate import MIGRATIONS_DIR

    assert sample_corpus_path().is_file()
    assert (MIGRATIONS_DIR / "env.py").is_file()
    assert list((MIGRATIONS_DIR / "versions").glob("0001_*.py"))
