"""Statements that read true, over every shared corpus the bank can read (one bank, as a user loads them).

Each shared corpus is imported with the first registered reader that accepts it (so corpora whose readers
land later are checked without editing this test), next to the packaged sample. Then: no norm's behaviour
is a bare category (NormDial's "thanks" rendered `"thanks" is taboo in China`), and in China no taboo norm
about thanking says that thanking is taboo.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlalchemy import select

from ingest.pipeline import run_import
from ingest.readers import READERS
from normbank.cli import sample_corpus_path
from normbank.constraints import normalise_text
from schema.models import Behavior, Norm
from tests.conftest import SHARED_DATA, shared

pytestmark = pytest.mark.slow


def _corpora() -> list[tuple[str, Path]]:
    """(format, path) of every shared corpus some reader accepts, plus the packaged sample."""
    shared("normdial")  # skips (or fails under CI) without the shared data
    found = [("normbank", sample_corpus_path())]
    candidates = sorted(p for folder in SHARED_DATA.iterdir() if folder.is_dir() for p in [folder, *folder.iterdir()])
    for path in candidates:
        if any(str(path).startswith(str(done)) for _, done in found):
            continue
        for reader in READERS.values():
            try:
                reader.check(path)
            except Exception:  # noqa: BLE001 - not this reader's format
                continue
            found.append((reader.format, path))
            break
    return found


@pytest.fixture(scope="module")
def bank(tmp_path_factory):
    from schema.engine import make_engine
    from schema.migrate import upgrade

    engine = make_engine(f"sqlite:///{tmp_path_factory.mktemp('bank') / 'normbank.db'}")
    upgrade(engine)
    corpora = _corpora()
    for format, path in corpora:
        run_import(engine=engine, format=format, path=path, source=f"{format}:{path.name}")
    with engine.connect() as conn:
        norms = conn.execute(select(Norm.label, Norm.category, Norm.statement, Norm.constraints, Behavior.name)
                             .join(Behavior, Behavior.id == Norm.behavior_id)).all()
    yield corpora, norms
    engine.dispose()


def test_every_shared_corpus_with_a_reader_is_loaded(bank):
    corpora, norms = bank
    formats = {format for format, _ in corpora}
    assert {"normbank", "normbank-taxonomy", "normdial"} <= formats, corpora
    assert len(norms) > 500


def test_no_statement_names_a_bare_category_as_the_behaviour(bank):
    _, norms = bank
    categories = {normalise_text(c.replace("_", " ")) for _, c, *_ in norms if c}
    categories |= {c.replace(" ", "_") for c in categories} | {"leave-taking", "respond to compliments"}
    assert categories, "no corpus in the bank has categories: the check would prove nothing"
    bare = [(statement, behaviour) for _, _, statement, _, behaviour in norms if behaviour in categories]
    assert not bare, bare[:5]
    for _, _, statement, _, behaviour in norms:
        assert f'"{behaviour}"' in statement


# A behaviour about thanking that is taboo must say the thanks is withheld, refused or done wrongly.
_THANKING = re.compile(r"\b(thank|thanks|thanking|gratitude|grateful|appreciation)\b")
_WITHHELD = re.compile(r"\b(not|no|without|withhold\w*|neglect\w*|ignor\w*|dismiss\w*|refus\w*|reject\w*|lack|"
                       r"disregard\w*|ingratitude|casual|omit\w*|insincere\w*|excessive\w*|deflect\w*|only)\b")


def test_thanking_is_never_taboo_in_china(bank):
    _, norms = bank
    about_thanks = [(label, statement, behaviour) for label, _, statement, constraints, behaviour in norms
                    if "china" in constraints and _THANKING.search(behaviour)]
    assert any(label == "expected" for label, *_ in about_thanks), "fixture drift: no expected thanks norm in China"
    assert "thanks" not in {behaviour for *_, behaviour in about_thanks}
    wrong = [statement for label, statement, behaviour in about_thanks
             if label == "taboo" and not _WITHHELD.search(behaviour)]
    assert not wrong, wrong
    assert any("without thanking the host" in statement and statement.endswith("is taboo in China.")
               for _, statement, _ in about_thanks)


def test_a_taboo_norm_reads_as_its_statement_in_prompts():
    """A violation text ("it is acceptable to leave without thanking") labelled TABOO would read as a double
    negative: the prompt line says the statement instead; other norms keep their source text."""
    from api.grounding import Candidate, prompt

    taboo = Candidate(id=1, score=1.0, label="taboo", status="applies",
                      statement='"leave without thanking the host" is taboo in China.',
                      rule_text="When leaving a social gathering, it is acceptable to leave without thanking the host.")
    expected = Candidate(id=2, score=0.9, label="expected", status="applies",
                         statement='"thank the host" is expected in China.',
                         rule_text="When leaving a social gathering, it is polite to thank the host.")
    lines = prompt([taboo, expected], []).splitlines()
    assert lines[1] == '- [0000000000000001] TABOO (applies): "leave without thanking the host" is taboo in China.'
    assert lines[2] == "- [0000000000000002] EXPECTED (applies): When leaving a social gathering, it is polite to thank the host."
    assert "acceptable" not in prompt([taboo], [])
