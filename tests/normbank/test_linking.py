"""Linking with the real packaged model over the real NormBank taxonomy: misspellings, synonyms and
paraphrases link to the right entry; nonsense links to nothing."""

from __future__ import annotations

import pytest

from ingest.readers.taxonomy import read as read_taxonomy
from ingest.records import SettingEntry
from normbank.linking import VALUE_ALIASES, link
from normbank.retrieval.encoder import SentenceTransformerEncoder

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def encoder(tmp_path_factory):
    return SentenceTransformerEncoder(cache_dir=tmp_path_factory.mktemp("models"))  # not ./var/models


@pytest.fixture(scope="module")
def taxonomy(taxonomy_dir_module):
    entries = [e for e in read_taxonomy(taxonomy_dir_module) if isinstance(e, SettingEntry)]
    return {e.name: e for e in entries}


@pytest.fixture(scope="module")
def taxonomy_dir_module():
    from tests.conftest import shared

    return shared("normbank-taxonomy")


def similarity(encoder):
    cache = {}

    def sim(text, candidates):
        missing = [t for t in list(candidates) + [text] if t not in cache]
        if missing:
            for t, v in zip(missing, encoder.encode(missing)):
                cache[t] = v
        import numpy as np

        return np.stack([cache[c] for c in candidates]) @ cache[text]

    return sim


@pytest.mark.parametrize(
    "text, expected",
    [
        ("resturant", "restaurant"),  # misspellings
        ("libary", "library"),
        ("hospitl", "hospital"),
        ("eatery", "restaurant"),  # synonyms
        ("pub", "pub"),
        ("movie theater", "theater"),
        ("doctor's office", "doctors office"),
        ("house of worship", "church"),
        ("sushi place", "restaurant"),  # paraphrase
    ],
)
def test_settings_link(encoder, taxonomy, text, expected):
    result = link(text, "setting", sorted(taxonomy), similarity=similarity(encoder))
    assert result.linked == expected, result


@pytest.mark.parametrize(
    "setting, text, expected",
    [
        ("restaurant", "ask for the check", "ask for the bill"),  # synonym
        ("restaurant", "ask for teh bill", "ask for the bill"),  # misspelling
        ("restaurant", "tip the waiter", "leave a tip"),  # paraphrase
        ("library", "check a book out", "check out books"),
        ("classroom", "raise my hand", "raise your hand"),
        ("cinema", "look at my phone", "check your phone"),
        ("office", "go to a meeting", "attend a meeting"),
    ],
)
def test_behaviours_link(encoder, taxonomy, setting, text, expected):
    candidates = sorted(taxonomy[setting].behaviors)
    assert expected in candidates, f"fixture drift: {expected!r} is not a {setting} behaviour"
    result = link(text, "behavior", candidates, similarity=similarity(encoder))
    assert result.linked == expected, result


@pytest.mark.parametrize("text", ["blorfzzz", "qwerty asdf", "purple elephant dreams", "zxcv", "lorem ipsum dolor"])
def test_nonsense_does_not_link_to_a_setting(encoder, taxonomy, text):
    result = link(text, "setting", sorted(taxonomy), similarity=similarity(encoder))
    assert result.linked is None, result


@pytest.mark.parametrize("text", ["blorfzzz", "qwerty asdf", "purple elephant dreams"])
def test_nonsense_does_not_link_to_a_behaviour(encoder, taxonomy, text):
    result = link(text, "behavior", sorted(taxonomy["restaurant"].behaviors), similarity=similarity(encoder))
    assert result.linked is None, result


@pytest.mark.parametrize("text", ["USA", "United States", "America", "the US"])
def test_country_aliases(text):
    result = link(text, "value", ["the united states", "china", "japan"], aliases=VALUE_ALIASES["country"])
    assert (result.linked, result.method, result.score) == ("the united states", "alias", 1.0)
