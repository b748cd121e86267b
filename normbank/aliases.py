"""Value aliases: common ways people name a value the bank spells one way (written for this project).

Keys and values are normalised (lower case). Linking consults these before any fuzzy or dense match,
so "USA" links to "the united states" with score 1.0.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Mapping

from normbank.constraints import normalise_value

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

# dimension name -> alias -> canonical value
VALUE_ALIASES: Mapping[str, Mapping[str, str]] = MappingProxyType(
    {
        "country": {alias: canonical for canonical, aliases in _COUNTRIES.items() for alias in aliases},
        "gender": {"male": "man", "female": "woman", "boy": "man", "girl": "woman", "men": "man", "women": "woman"},
    }
)


def canonical_value(name: str, value: str) -> str:
    """The bank's spelling of a value ('USA' -> 'the united states' for country); others unchanged."""
    text = normalise_value(value)
    return VALUE_ALIASES.get(name, {}).get(text, text)
