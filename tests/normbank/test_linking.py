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
        # the calibration set's near links: paraphrases, a more specific kind of an entry, misspelt words
        ("pizza place", "restaurant"),
        ("ramen place", "restaurant"),
        ("coffee place", "cafe"),
        ("a Parisian cafe", "cafe"),
        ("beijing restaurant", "restaurant"),  # not "deli restaurant": a sibling, not the same thing
        ("sports bar", "bar"),
        ("wine bar", "bar"),
        ("karaoke bar", "bar"),
        ("school gym", "gym"),
        ("city park", "park"),
        ("hospital room", "hospital"),
        ("hotel bedroom", "hotel room"),  # the words that differ are near-synonyms
        ("coffee shp", "coffee shop"),
        ("hotel rom", "hotel room"),
    ],
)
def test_settings_link(encoder, taxonomy, text, expected):
    result = link(text, "setting", sorted(taxonomy), similarity=similarity(encoder))
    assert result.linked == expected, result


@pytest.mark.parametrize(
    "setting, text, expected",
    [
        ("restaurant", "ask for the check", "ask for the bill"),  # synonym
        ("bar", "drink alcohol", "consume alcohol"),
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


# The calibration set's far-aways and near-misses: a place far from every entry links to nothing, and an
# entry that only shares a word ("base", "station", "house") is another kind of thing, not a match.
@pytest.mark.parametrize("text, never", [
    ("moon base", {"army base"}),
    ("mars colony", set()),
    ("space station", {"train station", "gas station", "police station"}),
    ("fire station", {"train station", "gas station", "police station"}),
    ("tea house", {"steak house", "beach house", "opera house"}),
])
def test_near_misses_do_not_link_to_a_sibling(encoder, taxonomy, text, never):
    result = link(text, "setting", sorted(taxonomy), similarity=similarity(encoder))
    assert result.linked not in never, result
    if not never:
        assert result.linked is None, result


def test_a_setting_far_from_every_entry_is_refused_naming_the_closest_by_score(encoder, taxonomy):
    from normbank.errors import SettingNotFound
    from normbank.linking import Linker, Vocabulary
    from normbank.scales import Scales

    linker = Linker(Vocabulary(settings=sorted(taxonomy)), Scales(), similarity(encoder))
    with pytest.raises(SettingNotFound) as raised:
        linker.setting("moon base")
    closest = raised.value.details["closest"]
    scores = [c["score"] for c in closest]
    assert len(closest) == 3 and scores == sorted(scores, reverse=True) and scores[0] > 0.3, closest
    assert "army base" not in [c["setting"] for c in closest[:1]]
    assert f"closest: {closest[0]['setting']} ({scores[0]:.2f})" in raised.value.message


def test_without_a_similarity_the_closest_are_ranked_by_spelling_not_alphabetically(taxonomy):
    result = link("sushi place", "setting", sorted(taxonomy))
    assert result.linked is None
    scores = [score for _, score in result.alternatives]
    assert scores == sorted(scores, reverse=True) and scores[0] > 0, result
    assert result.alternatives[0][0] != sorted(taxonomy)[0]
