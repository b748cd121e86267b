#!/usr/bin/env python3
"""Generate a NormBank-scale benchmark corpus in the exact ``NormBank.csv`` format.

NormBank (Ziems et al., ACL 2023) is not reachable from this network, so benchmarks and ingest tests
use a seeded synthetic corpus built from the *real* NormBank taxonomy (settings, behaviours, roles,
attribute and environment lists; ``../shared/data/normbank-taxonomy``). The taxonomy is only read,
never copied into the repository.

Usage::

    python tests/bench/generate_normbank.py OUT.csv [--rows 155423] [--seed 0] [--taxonomy DIR]
                                            [--noise 0.01] [--duplicate-share 0.21]

or ``generate(path, rows, seed=0, taxonomy=None, noise=0.01, duplicate_share=0.21) -> dict``.
The taxonomy directory is ``--taxonomy``, else ``$NORMBANK_TAXONOMY_DIR``, else the default next to
the repository. The same seed and parameters give a byte-identical file. Rows are written in chunks
and all generator state is bounded (rings of recent frames), so memory stays flat in ``--rows``;
the exact distinct counts in the stats keep sorted 64-bit hashes of distinct items only.

Reproduced from the paper's statistics (docs/corpora.md), at the default 155,423 rows:

* 129 settings with Zipf-like frequencies (the largest has a few thousand rows); ~6.9k distinct
  behaviours (a seeded ~7% of the taxonomy's behaviours are never annotated);
* 2.63 atoms per row; category shares of atom occurrences (PERSON attribute 35.7%, PERSON role 25.8%,
  PERSON concurrent behaviour 16.2%, environment 15.5%, OTHER attribute 3.1%, OTHER role 2.3%);
  relations mostly ``is`` (~75%) and ``is not`` (~12%), ordinal ones on scale dimensions;
* ~31% of constraint values free text typed by "annotators" (modified, combined or misspelt taxonomy
  values, never a taxonomy value);
* norm shares expected/normal/taboo ~ 0.25/0.45/0.30; split train/dev/test ~80/10/10 per
  setting-behavior pair (CRC32 of the pair, independent of the seed);
* ``--duplicate-share`` (0.21) of rows repeat a recent frame (setting, behaviour, label, constraint set),
  half of them with atoms reordered: ~123k distinct frames; new frames reuse a recent conjunction of
  the same setting often enough to give ~71k unique conjunctions (paper: 70,215) and ~53k unique atoms
  (paper: 62,581; free text here is somewhat less varied than real annotators' typing).

``--noise`` (0.01) is the share of rows carrying one kind of noise the authors had to clean, each kind
counted in the stats: ``whitespace`` (doubled spaces, stray newline), ``brackets`` (``[[PERSON]]``, a
trailing ``]``), ``relation_synonym`` (``is below`` ...), ``mixed_case``, ``category_fallback`` (the
possibly misspelt category-text form), ``contradiction`` (two roles; ``is``/``is not`` the same value;
an empty ordinal range), ``condition_alive``, ``empty_behavior``, ``bad_label`` and ``unparseable``.
Normal rows contain no contradictions: one atom per single-valued dimension (ordinal ranges excepted,
which are never empty), no value twice in one dimension, and no ``condition or state is 'alive'``.
"""

from __future__ import annotations

import argparse
import bisect
import csv
import json
import os
import random
import re
import sys
import time
import zlib
from itertools import accumulate
from pathlib import Path
from typing import NamedTuple

import numpy as np

HEADER = ["setting", "behavior", "setting-behavior", "constraints", "constraints_given",
          "constraint_predict", "norm", "label", "split"]
AND = " [AND] "
DEFAULT_TAXONOMY = Path(__file__).resolve().parents[3] / "shared/data/normbank-taxonomy"
CHUNK = 8192

# Atom categories, in the order the stats report them, with the paper's shares.
PA, PR, PB, ENV, OA, OR = range(6)
CATEGORY_NAMES = ("person_attribute", "person_role", "person_behavior", "environment",
                  "other_attribute", "other_role")
CATEGORY_SHARES = (0.357, 0.258, 0.162, 0.155, 0.031, 0.023)
FREE_TEXT_RATE = (0.30, 0.21, 0.58, 0.27, 0.30, 0.21)  # per category; ~31% of all values overall
# Measured corrections to the slot weights: ranges add a second atom to attribute slots, a few slots
# find no free dimension, noise rows add or drop atoms, and the paper's shares sum to 98.6%, so each
# category gets ~0.23 points of the rest (every share lands within half a point of the paper's).
SLOT_CORRECTION = (0.868, 1.02, 0.889, 0.872, 0.911, 1.112)
TAG = {PA: "[PERSON]", PR: "[PERSON]", PB: "[PERSON]", OA: "[OTHER]", OR: "[OTHER]"}
CATEGORY_TEXTS = {  # the annotation interface's category texts, as annotators (mis)typed them
    PA: ("the PERSON PERFORMING BEHAVIOR's attribute", "the PERSON PERFORMING BEHAVOIR's atribute",
         "the PERSON PREFORMING BEHAVIOR's attribute", "the PERSON PERFORMING BEHAVIOR's atribute"),
    PR: ("the PERSON PERFORMING BEHAVIOR's role", "the PERSON PERFORMING BEHAVOIR's role"),
    PB: ("the PERSON PERFORMING BEHAVIOR is also doing", "the PERSON PERFORMING BEHAVOIR is also doing"),
    ENV: ("the environment", "the enviroment", "the envirnoment"),
    OA: ("some OTHER PERSON's attribute", "some OTHER PERSON's atribute", "some OTHR PERSON's attribute"),
    OR: ("some OTHER PERSON's role", "some OTHR PERSON's role"),
}

ATOM_COUNTS = (0, 1, 2, 3, 4, 5, 6)
ATOM_COUNT_WEIGHTS = (0.01, 0.21, 0.305, 0.25, 0.127, 0.062, 0.036)
NORMS = (("expected", "2"), ("normal", "1"), ("taboo", "0"))
NORM_WEIGHTS = (0.25, 0.45, 0.30)

IS, IS_NOT = "is", "is not"
LT, LE, GT, GE = "is less than", "is less than or equal to", "is greater than", "is greater than or equal to"
ORDINAL_RELATIONS = (IS, IS_NOT, LT, LE, GT, GE)
ORDINAL_WEIGHTS = (0.14, 0.03, 0.21, 0.19, 0.22, 0.21)
P_IS_NOT = 0.14        # nominal dimensions and free-text values
P_RANGE = 0.10         # an ordinal taxonomy atom becomes a (never empty) two-sided range
CONJ_REUSE = 0.33      # a new frame reuses a recent conjunction of its setting
RING_FRAMES, RING_CONJ = 4096, 48
SYNONYMS = {  # what annotators typed; the authors normalised them (docs/corpora.md)
    LT: ("is not at or above", "is not equal to or above", "is below", "is not equal to or greater than",
         "is not greater than or equal to"),
    LE: ("is equal to or less than", "is not greater than"),
    GE: ("is not less than", "is equal to or greater than", "is not equal to or less than"),
}

# Dimensions (mirroring normbank/scales.py). Ordinal relations only on these scales.
ORDERED_ATTRIBUTES = ("age bracket", "education", "children")
ORDERED_ENVIRONMENT = ("noise", "temperature", "time of day", "day of the week")
SINGLE_VALUED_ATTRIBUTES = {"age bracket", "gender", "education", "children", "marriage", "employment",
                            "social class", "religion", "sexuality", "political ideology", "country"}
SINGLE_VALUED_ENVIRONMENT = {"time of day", "day of the week", "season", "temperature", "noise", "lighting",
                             "cleanliness", "privacy", "population density", "country", "time period"}
ATTRIBUTE_WEIGHTS = {"age bracket": 28, "gender": 10, "condition or state": 12, "characteristic": 11,
                     "medical condition": 5, "religion": 5, "race or ethnicity": 4, "education": 4,
                     "children": 4, "marriage": 4, "employment": 4, "social class": 3, "diet": 3,
                     "sexuality": 3, "disability": 2, "emotion": 4, "political ideology": 2}
ENVIRONMENT_WEIGHTS = {"time of day": 18, "country": 12, "attendance": 10, "event type": 8,
                       "holiday or special day": 7, "noise": 7, "day of the week": 6, "weather": 6,
                       "privacy": 6, "lighting": 4, "season": 4, "temperature": 4, "cleanliness": 3,
                       "population density": 3, "time period": 2}
GENERIC_ROLES = ("homeowner", "guest", "resident", "owner", "visitor", "parent", "child", "tourist", "hiker")
NOISE_WEIGHTS = {"whitespace": 14, "brackets": 12, "relation_synonym": 12, "mixed_case": 12,
                 "category_fallback": 12, "contradiction": 15, "condition_alive": 8,
                 "empty_behavior": 4, "bad_label": 6, "unparseable": 5}

# Vocabulary for free-text values.
ADVERBS = ("very", "really", "extremely", "a little", "slightly", "somewhat", "quite", "super", "kind of",
           "too", "not very", "always")
STATES = ("tired", "drunk", "sleepy", "angry", "happy", "nervous", "sick", "busy", "late", "hungry", "bored",
          "stressed", "excited", "sweaty", "rude", "polite", "lost", "wet", "upset", "high", "injured",
          "distracted", "shy", "loud", "sad", "calm")
COLOURS = ("red", "blue", "green", "black", "white", "yellow", "pink", "purple", "orange", "grey")
CLOTHES = ("hat", "shirt", "dress", "jacket", "uniform", "mask", "hoodie", "suit", "scarf", "swimsuit",
           "costume", "backpack", "pair of boots", "tie")
PEOPLE = ("customer", "friend", "stranger", "coworker", "neighbor", "child", "parent", "teenager", "tourist",
          "boss", "guest", "visitor", "employee", "volunteer", "student", "teacher", "date", "spouse",
          "roommate", "kid", "family member", "police officer", "old man", "old woman", "couple")
PEOPLE_ADJ = ("regular", "new", "rude", "drunk", "young", "elderly", "famous", "lost", "angry", "first-time",
              "frequent", "wealthy", "homeless", "local", "foreign", "pregnant", "loud", "quiet")
ROLE_MODS = ("new", "head", "senior", "junior", "assistant", "former", "trainee", "part-time", "off-duty",
             "lead", "retired", "volunteer", "chief", "substitute")
ACTIVITIES = ("talking on the phone", "eating", "drinking coffee", "smoking", "listening to music", "texting",
              "laughing", "crying", "yelling", "running", "sleeping", "taking photos", "reading", "singing",
              "dancing", "waiting in line", "holding a baby", "chewing gum", "carrying a bag", "walking a dog",
              "playing a game", "looking at their phone", "wearing headphones", "drinking alcohol", "vaping",
              "cursing", "arguing with someone", "filming", "whistling", "eating a sandwich")
MANNERS = ("loudly", "quietly", "alone", "with friends", "with a child", "while drunk", "in public",
           "at night", "for hours", "again", "in a hurry", "with their family", "on a date",
           "without permission", "in front of kids", "without asking", "all day", "secretly")
QUALIFIERS = ("mostly", "formerly", "strictly", "sort of", "openly", "secretly", "newly", "not really",
              "recently", "devoutly")
EVENTS = ("a wedding", "a funeral", "a birthday party", "a business meeting", "a concert", "a graduation",
          "a baby shower", "a protest", "a job interview", "a first date", "a family dinner",
          "a holiday party", "a sports game", "a memorial service", "a book club")
TIMES = ("midnight", "dawn", "dusk", "rush hour", "lunchtime", "after dark", "closing time", "opening time",
         "dinner time", "bedtime", "sunrise", "sunset")
PERIODS = ("the 1800s", "medieval times", "ancient times", "the 1920s", "the 1700s", "the future",
           "the 1940s", "the 1930s", "the Victorian era", "the 1600s", "prehistoric times", "the 2020s")
COUNTRY_FREE = ("the US", "USA", "the UK", "England", "Scotland", "Texas", "California", "Europe", "Asia",
                "Africa", "New York", "Quebec", "Bavaria", "the south")
GENDER_FREE = ("male", "female", "non-binary", "girl", "boy", "trans woman", "trans man", "lady", "guy")
AGE_FREE = ("a teenager", "a kid", "elderly", "a baby", "middle aged", "a minor", "an adult", "underage")
EVENT_SIZES = ("a small", "a large", "a private", "an outdoor", "a late-night", "a loud", "a formal")
ROLE_CONTEXTS = ("on their break", "on duty", "in training", "on their first day", "after hours", "off the clock",
                 "filling in", "on call", "on their day off", "in charge")
CONTEXTS = ("after work", "from the gym", "at a party", "on vacation", "after a long day", "in the morning",
            "from the rain", "after drinking", "from another country", "on medication", "after an argument",
            "all the time", "for no reason", "at the moment", "since yesterday")
DAY_PARTS = ("night", "morning", "afternoon", "evening", "lunch", "rush hour")
ENV_CONTEXTS = ("today", "at the moment", "all day", "as usual", "for once", "this time of year", "outside",
                "inside", "tonight")
SEVERITY = ("mild", "severe", "chronic", "untreated", "undiagnosed", "recovering from", "a history of",
            "suspected", "temporary", "self-diagnosed")
AGE_PARTS = ("early", "mid", "late")
GENDER_ADJ = ("young", "old", "older", "middle-aged", "pregnant", "tall", "short", "married", "single")
GENDER_NOUNS = ("man", "woman", "girl", "boy", "lady", "guy")
FEATURES = ("a tattoo", "a beard", "glasses", "a cane", "a broken arm", "a cold", "a limp", "long hair",
            "dyed hair", "a nose ring", "a service dog", "a stroller", "a cast", "a sunburn", "an accent",
            "red hair", "blue hair", "a wheelchair", "crutches", "a hangover")
HAS_IS = re.compile(r"(^|\s)is(\s|$)")


class Dimension(NamedTuple):
    name: str
    dim: str                # rendered prefix
    pool: list[str] | None  # taxonomy values (None: per setting, for roles and behaviours)
    single: bool            # holds one value at a time
    ordered: bool           # an ordered scale: ordinal relations allowed


class Atom(NamedTuple):
    cat: int      # PA, PR, PB, ENV, OA, OR
    dim: str      # rendered prefix, e.g. "[PERSON]'s age bracket ": one per dimension
    name: str     # attribute / environment name; "role" or "behavior" for those categories
    rel: str      # canonical relation (the text may use a synonym)
    value: str
    free: bool    # free text, not a taxonomy value
    text: str


def render(cat: int, name: str, rel: str, value: str) -> tuple[str, str]:
    """(dimension prefix, atom text) in NormBank's form."""
    dim = f"{name} " if cat == ENV else f"{TAG[cat]}'s {name} "
    return dim, f"{dim}{rel} '{value}'"


def make_atom(cat: int, name: str, rel: str, value: str, free: bool = False) -> Atom:
    dim, text = render(cat, name, rel, value)
    return Atom(cat, dim, name, rel, value, free, text)


_QUOTES = str.maketrans({"‘": "'", "’": "'", "‚": "'", "‛": "'", "′": "'", "`": "'", "´": "'", "“": '"', "”": '"'})


def _key(value: str) -> str:
    """A value as the service compares it: case-, whitespace- and quote-style-insensitive."""
    return " ".join(value.translate(_QUOTES).lower().split())


def _a(phrase: str) -> str:
    return ("an " if phrase[0] in "aeiou" else "a ") + phrase


def _lines(path: Path) -> list[str]:
    if not path.exists():
        return []
    seen = dict.fromkeys(line.strip() for line in path.read_text("utf-8").splitlines())
    return [line for line in seen if line]


class Taxonomy:
    """The real NormBank taxonomy as lookup tables (lists only: iteration order is deterministic)."""

    def __init__(self, root: Path):
        if not (root / "constraint_dict.json").exists():
            raise FileNotFoundError(f"no NormBank taxonomy at {root} (use --taxonomy or NORMBANK_TAXONOMY_DIR)")
        preset = json.loads((root / "constraint_dict.json").read_text("utf-8"))
        bdir = root / "Behaviors-All-Hand-Filtered"
        self.settings = sorted(p.name[:-4] for p in bdir.glob("*.txt"))
        self.behaviors = {s: _lines(bdir / f"{s}.txt") for s in self.settings}
        role_lists = preset["the PERSON PERFORMING BEHAVIOR's role"]
        also = preset["the PERSON PERFORMING BEHAVIOR is also doing"]
        self.roles, self.also_doing = {}, {}
        for s in self.settings:
            roles = _lines(root / "Settings-Roles" / f"{s}.txt") or list(role_lists.get(f"{s} role", []))
            if not roles and " or " in s:  # "jail or prison": the roles of its parts
                roles = list(dict.fromkeys(r for part in s.split(" or ")
                                           for r in _lines(root / "Settings-Roles" / f"{part}.txt")))
            self.roles[s] = roles or list(GENERIC_ROLES)
            self.also_doing[s] = [v.strip() for v in also.get(f"{s} behavior", []) if v.strip()] or self.behaviors[s]
        attrs = preset["the PERSON PERFORMING BEHAVIOR's attribute"]
        self.attributes: dict[str, list[str]] = {}
        for name in ATTRIBUTE_WEIGHTS:
            values = list(dict.fromkeys(list(attrs.get(name, [])) + _lines(root / "Attributes" / f"{name}.txt")))
            self.attributes[name] = [v for v in values if v.lower() != "alive"]  # authors dropped 'alive' rows
        self.environment = {name: list(values) for name, values in preset["the environment"].items()}
        self.environment["country"] = _lines(root / "Attributes" / "country.txt")
        known = [*self.roles.values(), *role_lists.values(), *preset["some OTHER PERSON's role"].values(),
                 *self.behaviors.values(), *also.values(), *attrs.values(), *self.attributes.values(),
                 *self.environment.values(), ["alive"]]
        self.known = {_key(v) for values in known for v in values}


def _cum(weights) -> list[float]:
    return list(accumulate(weights))


class _Distinct:
    """Exact distinct count of hashable items via sorted 64-bit hashes (memory ~ distinct items)."""

    def __init__(self):
        self.seen = np.empty(0, dtype=np.int64)
        self.buffer: list[int] = []

    def add(self, item) -> None:
        self.buffer.append(hash(item))
        if len(self.buffer) >= 1 << 16:
            self._flush()

    def _flush(self) -> None:
        if self.buffer:
            new = np.unique(np.array(self.buffer, dtype=np.int64))
            self.buffer.clear()
            if self.seen.size:
                at = np.searchsorted(self.seen, new)
                fresh = self.seen[np.minimum(at, self.seen.size - 1)] != new
                self.seen = np.insert(self.seen, at[fresh], new[fresh])
            else:
                self.seen = new

    def __len__(self) -> int:
        self._flush()
        return int(self.seen.size)


class Generator:
    def __init__(self, tax: Taxonomy, seed: int, noise: float, duplicate_share: float):
        self.tax, self.noise, self.dup = tax, noise, duplicate_share
        rng = self.rng = random.Random(seed)
        # Settings: Zipf over a rank that favours settings with many behaviours.
        ranked = sorted(tax.settings, key=lambda s: -len(tax.behaviors[s]) * rng.lognormvariate(0, 0.6))
        self.settings = ranked
        self.setting_cum = _cum(1 / (rank + 20) for rank in range(len(ranked)))
        # Behaviours: a seeded ~7% of distinct behaviours are never annotated; mild skew within a setting.
        all_behaviors = list(dict.fromkeys(b for s in tax.settings for b in tax.behaviors[s]))
        dropped = {b for b in all_behaviors if rng.random() < 0.07}
        self.behaviors, self.behavior_cum = {}, {}
        for s in ranked:
            kept = [b for b in tax.behaviors[s] if b not in dropped] or tax.behaviors[s][:1]
            rng.shuffle(kept)
            self.behaviors[s] = kept
            self.behavior_cum[s] = _cum(1 / (j + 8) ** 0.5 for j in range(len(kept)))
        self.count_cum = _cum(ATOM_COUNT_WEIGHTS)
        self.norm_cum = _cum(NORM_WEIGHTS)
        self.ordinal_cum = _cum(ORDINAL_WEIGHTS)
        self.noise_kinds = list(NOISE_WEIGHTS)
        self.noise_cum = _cum(NOISE_WEIGHTS.values())
        # Countries: Zipf over a seeded order of the taxonomy's list (a handful dominate).
        countries = tax.environment["country"]
        rng.shuffle(countries)
        self.country_cum = _cum(1 / (i + 3) for i in range(len(countries)))
        # Role presence calibrated so the role shares come out at the paper's figures.
        p = [w / sum(ATOM_COUNT_WEIGHTS) for w in ATOM_COUNT_WEIGHTS]
        mean_k = sum(k * pk for k, pk in zip(ATOM_COUNTS, p))
        share = [x * y for x, y in zip(CATEGORY_SHARES, SLOT_CORRECTION)]
        self.p_prole = share[PR] * mean_k / (1 - p[0])
        self.p_orole = share[OR] * mean_k / ((1 - p[0] - p[1]) + p[1] * (1 - self.p_prole))
        self.rest_cats = [PA, PB, ENV, OA]
        self.rest_cum = _cum(share[c] for c in self.rest_cats)
        self._dimensions()
        self.frames: list[tuple] = []
        self.conjs: dict[str, list[tuple[Atom, ...]]] = {s: [] for s in ranked}
        self.splits: dict[str, str] = {}
        self.n_new = 0

    def pick(self, items, cum):
        """A weighted choice (cumulative weights)."""
        return items[bisect.bisect_right(cum, self.rng.random() * cum[-1])]

    def shuffle(self, items: list) -> None:
        """Fisher-Yates with Random.random (cheaper than Random.shuffle)."""
        random_ = self.rng.random
        for i in range(len(items) - 1, 0, -1):
            j = int(random_() * (i + 1))
            items[i], items[j] = items[j], items[i]

    def choice(self, seq):
        """A uniform choice; cheaper than Random.choice on the hot path."""
        return seq[int(self.rng.random() * len(seq))]

    # ---- atoms -------------------------------------------------------------------------------
    def _dimensions(self) -> None:
        """Per category: the dimensions it can constrain, with their weights, prefix and scale facts."""
        def dims(cat, names, pools, single, ordered):
            return [Dimension(n, render(cat, n, "", "")[0], pools.get(n), n in single, n in ordered) for n in names]
        attr = self.tax.attributes
        self.dims = {
            PR: [Dimension("role", render(PR, "role", "", "")[0], None, True, False)],
            OR: [Dimension("role", render(OR, "role", "", "")[0], None, True, False)],
            PB: [Dimension("behavior", render(PB, "behavior", "", "")[0], None, False, False)],
            PA: dims(PA, ATTRIBUTE_WEIGHTS, attr, SINGLE_VALUED_ATTRIBUTES, ORDERED_ATTRIBUTES),
            OA: dims(OA, ATTRIBUTE_WEIGHTS, attr, SINGLE_VALUED_ATTRIBUTES, ORDERED_ATTRIBUTES),
            ENV: dims(ENV, ENVIRONMENT_WEIGHTS, self.tax.environment, SINGLE_VALUED_ENVIRONMENT, ORDERED_ENVIRONMENT),
        }
        attr_cum, env_cum = _cum(ATTRIBUTE_WEIGHTS.values()), _cum(ENVIRONMENT_WEIGHTS.values())
        self.dim_cum = {PR: [1], OR: [1], PB: [1], PA: attr_cum, OA: attr_cum, ENV: env_cum}

    def atoms(self, cat: int, s: str, used: dict[str, set[str]]) -> tuple[Atom, ...]:
        """One atom of category `cat` (two for a range) consistent with the dimensions `used`."""
        rng = self.rng
        for _ in range(4):
            d = self.pick(self.dims[cat], self.dim_cum[cat])
            if d.dim not in used or not d.single:
                break
        else:
            return ()
        name, dim, pool, ordered = d.name, d.dim, d.pool, d.ordered
        if cat == PR or cat == OR:
            pool = self.tax.roles[s]
        elif cat == PB:
            pool = self.tax.behaviors[s] if rng.random() < 0.5 else self.tax.also_doing[s]
        taken = used.setdefault(dim, set())
        for _ in range(3):
            if rng.random() < FREE_TEXT_RATE[cat]:
                value, free = self.free_text(cat, name, pool), True
                rel = IS_NOT if rng.random() < P_IS_NOT else IS
            else:
                free = False
                if name == "country":
                    i = bisect.bisect_right(self.country_cum, rng.random() * self.country_cum[-1])
                else:
                    i = int(rng.random() * len(pool))
                value = pool[i]
                if ordered:
                    if rng.random() < P_RANGE and len(pool) >= 4:
                        return self._range(cat, name, pool)
                    rel = self.pick(ORDINAL_RELATIONS, self.ordinal_cum)
                    if rel == LT and i == 0:
                        rel = LE
                    elif rel == GT and i == len(pool) - 1:
                        rel = GE
                else:
                    rel = IS_NOT if rng.random() < P_IS_NOT else IS
            key = _key(value)
            if key not in taken:
                taken.add(key)
                return (make_atom(cat, name, rel, value, free),)
        return ()

    def _range(self, cat: int, name: str, pool: list[str]) -> tuple[Atom, Atom]:
        """GE/GT lo and LE/LT hi, two or more steps apart (never empty, ties in a scale included)."""
        i = self.rng.randrange(len(pool) - 2)
        j = self.rng.randrange(i + 2, len(pool))
        lo, hi = self.rng.choice(((GE, LE), (GT, LE), (GE, LT)))
        return make_atom(cat, name, lo, pool[i]), make_atom(cat, name, hi, pool[j])

    # ---- free text ---------------------------------------------------------------------------
    @staticmethod
    def misspell(value: str, variant: int) -> str:
        """One of a few deterministic typos of `value` (drop, swap or double a letter)."""
        n = len(value)
        if n < 4:
            return value + value[-1]
        p = 1 + (zlib.crc32(value.encode()) + 5 * variant) % (n - 2)
        if variant % 3 == 0:
            return value[:p] + value[p + 1:]
        if variant % 3 == 1 and " " not in value[p:p + 2]:
            return value[:p] + value[p + 1] + value[p] + value[p + 2:]
        p -= value[p] == " "  # a doubled space is whitespace noise, not a typo
        return value[:p] + value[p] + value[p:]

    def free_text(self, cat: int, name: str, pool: list[str]) -> str:
        """A plausible annotator-typed value for this dimension that is not a taxonomy value."""
        rng, c = self.rng, self.choice
        value = ""
        for _ in range(8):
            u = rng.random()
            if u < 0.2 and pool:
                value = self.misspell(c(pool), int(rng.random() * 6))
            elif cat in (PR, OR):
                role = c(pool)
                if role.startswith(("a ", "an ", "the ")):
                    value = f"{role} {c(ROLE_CONTEXTS)}"
                elif u < 0.45:
                    value = f"{c(ROLE_MODS)} {role}" + (f" {c(ROLE_CONTEXTS)}" if u < 0.35 else "")
                else:
                    value = (_a(f"{c(PEOPLE_ADJ)} {c(PEOPLE)}") if u < 0.6 else f"{c(PEOPLE)} of the {role}"
                             if u < 0.75 else f"{role} {c(ROLE_CONTEXTS)}")
            elif cat == PB:
                value = (f"{c(pool)} {c(MANNERS)}" if u < 0.6 else f"{c(pool)} while {c(ACTIVITIES)}" if u < 0.75
                         else f"{c(ACTIVITIES)} {c(MANNERS)}" if u < 0.85 else f"wearing a {c(COLOURS)} {c(CLOTHES)}"
                         if u < 0.93 else c(ACTIVITIES))
            elif cat == ENV:
                value = self._free_environment(name, pool, u)
            elif name == "age bracket":
                years = rng.randint(3, 90)
                value = (f"{years} years old" if u < 0.4 else f"in their {c(AGE_PARTS)} {min(max(years // 10, 2), 8)}0s"
                         if u < 0.55 else f"{c(('under', 'over', 'around', 'about'))} {years}"
                         if u < 0.7 else _a(f"{years} year old {c(GENDER_NOUNS)}") if u < 0.9 else c(AGE_FREE))
            elif name == "gender":
                value = c(GENDER_FREE) if u < 0.4 else _a(f"{c(GENDER_ADJ)} {c(GENDER_NOUNS)}")
            elif name in ("medical condition", "disability"):
                value = f"{c(SEVERITY)} {c(pool)}" if u < 0.8 else f"{c(pool)} {c(CONTEXTS)}"
            elif name in ("characteristic", "condition or state", "emotion"):
                state = c(STATES) if rng.random() < 0.5 else c(pool)
                value = (f"{c(ADVERBS)} {state}" if u < 0.4 else f"{c(ADVERBS)} {state} {c(CONTEXTS)}" if u < 0.55
                         else f"{state} {c(CONTEXTS)}" if u < 0.7 else f"{c(STATES)} and {c(pool)}"
                         if u < 0.8 else f"with {c(FEATURES)}" if u < 0.9 else f"wearing a {c(COLOURS)} {c(CLOTHES)}")
            else:
                value = f"{c(QUALIFIERS)} {c(pool)}" + (f" {c(CONTEXTS)}" if u > 0.6 else "")
            if _key(value) not in self.tax.known:
                return value
        return f"{value} {rng.randint(2, 99)}"

    def _free_environment(self, name: str, pool: list[str], u: float) -> str:
        rng, c = self.rng, self.choice
        if name == "time of day":
            return (c(TIMES) if u < 0.4 else f"{rng.randint(1, 12)}{c(('', ':15', ':30', ':45'))} {c(('am', 'pm'))}"
                    if u < 0.8 else f"{c(pool)} {c(('on a weekday', 'on the weekend', 'in summer', 'in winter'))}")
        if name == "day of the week":
            return f"{c(pool)} {c(DAY_PARTS)}" if u < 0.8 else c(("weekend", "a weekday", "a long weekend"))
        if name == "country":
            return c(COUNTRY_FREE)
        if name == "holiday or special day":
            return c(("{} eve", "the day after {}", "{} weekend", "the week before {}", "{} morning")).format(c(pool))
        if name == "event type":
            return c(EVENTS) if u < 0.4 else f"{c(EVENT_SIZES)} {c(EVENTS)[2:]}"
        if name == "season":
            return f"{c(('early', 'late', 'mid', 'a cold', 'a hot', 'a rainy'))} {c(pool)}"
        if name == "time period":
            return c(PERIODS)
        value = c(pool)
        if " " in value:  # 'there are people around'
            return self.misspell(value, rng.randrange(6))
        return f"{c(ADVERBS)} {value}" if u < 0.6 else f"{c(ADVERBS)} {value} {c(ENV_CONTEXTS)}"

    # ---- frames ------------------------------------------------------------------------------
    def conjunction(self, s: str) -> tuple[Atom, ...]:
        rng = self.rng
        ring = self.conjs[s]
        if ring and rng.random() < CONJ_REUSE:
            atoms = list(self.choice(ring))
            self.shuffle(atoms)
            return tuple(atoms)
        k = self.pick(ATOM_COUNTS, self.count_cum)
        slots = []
        if k and rng.random() < self.p_prole:
            slots.append(PR)
        if len(slots) < k and rng.random() < self.p_orole:
            slots.append(OR)
        while len(slots) < k:
            slots.append(self.pick(self.rest_cats, self.rest_cum))
        used: dict[str, set[str]] = {}
        atoms = [a for cat in slots for a in self.atoms(cat, s, used)]
        self.shuffle(atoms)
        atoms = tuple(atoms)
        if len(ring) < RING_CONJ:
            ring.append(atoms)
        else:
            ring[int(rng.random() * RING_CONJ)] = atoms
        return atoms

    def new_frame(self) -> tuple:
        s = self.pick(self.settings, self.setting_cum)
        b = self.pick(self.behaviors[s], self.behavior_cum[s])
        norm, label = self.pick(NORMS, self.norm_cum)
        return s, b, norm, label, self.conjunction(s)

    def frame(self) -> tuple[tuple, str | None]:
        """The next frame and its noise kind (None for clean rows, "duplicate" for repeats)."""
        rng, u = self.rng, self.rng.random()
        if u < self.noise:
            kind = self.pick(self.noise_kinds, self.noise_cum)
            return self.noisy(kind, *self.new_frame()), kind
        if u < self.noise + self.dup and self.frames:
            s, b, norm, label, atoms = self.choice(self.frames)
            if len(atoms) > 1 and rng.random() < 0.5:
                atoms = list(atoms)
                self.shuffle(atoms)
            return (s, b, norm, label, tuple(atoms)), "duplicate"
        frame = self.new_frame()
        if len(self.frames) < RING_FRAMES:
            self.frames.append(frame)
        else:
            self.frames[self.n_new % RING_FRAMES] = frame
        self.n_new += 1
        return frame, None

    # ---- noise -------------------------------------------------------------------------------
    def noisy(self, kind: str, s: str, b: str, norm: str, label: str, atoms: tuple[Atom, ...]) -> tuple:
        rng, c = self.rng, self.rng.choice
        atoms = list(atoms) or [make_atom(PR, "role", IS, c(self.tax.roles[s]))]
        i = rng.randrange(len(atoms))
        a = atoms[i]
        if kind == "whitespace":
            words = a.text.split(" ")
            j = rng.randrange(1, len(words))
            words[j] = ("\n" if rng.random() < 0.5 else " \n") + words[j]
            if len(words) > 2:
                k = rng.randrange(1, len(words))
                words[k] = " " + words[k]
            atoms[i] = a._replace(text=" ".join(words))
        elif kind == "brackets":
            if a.cat != ENV and rng.random() < 0.5:
                atoms[i] = a._replace(text=a.text.replace(TAG[a.cat], f"[{TAG[a.cat]}]", 1))  # [[PERSON]]'s
            else:
                atoms[i] = a._replace(text=a.text + "]")
        elif kind == "relation_synonym":
            ordinal = [j for j, x in enumerate(atoms) if x.rel in SYNONYMS]
            if ordinal:
                i = c(ordinal)
                a = atoms[i]
            else:
                cat, name = c(((PA, "age bracket"), (PA, "age bracket"), (OA, "age bracket"), (ENV, "time of day"),
                               (PA, "education"), (ENV, "temperature")))
                pool = self.tax.attributes[name] if cat != ENV else self.tax.environment[name]
                a = make_atom(cat, name, c((LT, LE, GE)), pool[rng.randrange(1, len(pool))])
                atoms = [x for x in atoms if x.dim != a.dim] + [a]
                i = len(atoms) - 1
            atoms[i] = a._replace(text=a.text.replace(f" {a.rel} '", f" {c(SYNONYMS[a.rel])} '", 1))
        elif kind == "mixed_case":
            head = a.name.title() if a.cat == ENV else f"{TAG[a.cat]}'s {a.name.title()}"
            atoms[i] = a._replace(text=f"{head} {a.rel.upper()} '{a.value.title()}'")
        elif kind == "category_fallback":
            name = f" {a.name}" if a.cat in (PA, OA, ENV) else ""
            atoms[i] = a._replace(text=f"{c(CATEGORY_TEXTS[a.cat])}{name} {a.rel} '{a.value}'")
        elif kind == "contradiction":
            atoms = self._contradiction(s, atoms)
        elif kind == "condition_alive":
            a = make_atom(c((PA, PA, PA, OA)), "condition or state", IS, "alive")
            atoms = [x for x in atoms if x.dim != a.dim] + [a]
        elif kind == "empty_behavior":
            b = ""
        elif kind == "bad_label":
            norm, label = ("okay", "1") if rng.random() < 0.5 else (norm, c([x for x in "012" if x != label]))
        elif kind == "unparseable":
            value = c([r for r in self.tax.roles[s] if not HAS_IS.search(r)] or ["waiter"])
            atoms.append(make_atom(PR, "role", IS, value)._replace(text=f"{c(('[PERSON]', '[OTHER]'))} role {value}"))
        self.shuffle(atoms)
        return s, b, norm, label, tuple(atoms)

    def _contradiction(self, s: str, atoms: list[Atom]) -> list[Atom]:
        rng, c = self.rng, self.rng.choice
        u = rng.random()
        if u < 0.35:  # two roles at once
            roles = self.tax.roles[s] if len(self.tax.roles[s]) > 1 else list(GENERIC_ROLES)
            r1, r2 = rng.sample(roles, 2)
            return [x for x in atoms if x.cat != PR] + [make_atom(PR, "role", IS, r1), make_atom(PR, "role", IS, r2)]
        if u < 0.7:  # X is 'a' and X is not 'a'
            a = c([x for x in atoms if x.rel == IS] or [make_atom(PB, "behavior", IS, c(self.tax.behaviors[s]))])
            negated = a._replace(rel=IS_NOT, text=render(a.cat, a.name, IS_NOT, a.value)[1])
            return [x for x in atoms if x.dim != a.dim] + [a, negated]
        cat, name = c(((PA, "age bracket"), (PA, "age bracket"), (ENV, "time of day"), (OA, "age bracket")))
        pool = self.tax.attributes[name] if cat != ENV else self.tax.environment[name]
        i = rng.randrange(1, len(pool) - 1)
        j = rng.randrange(i, len(pool) - 1)
        lo, hi = make_atom(cat, name, LT, pool[i]), make_atom(cat, name, GT, pool[j])  # < teen and > young adult
        return [x for x in atoms if x.dim != lo.dim] + [lo, hi]

    # ---- rows --------------------------------------------------------------------------------
    def split(self, pair: str) -> str:
        split = self.splits.get(pair)
        if split is None:
            h = zlib.crc32(pair.encode("utf-8")) % 100
            split = self.splits[pair] = "train" if h < 80 else "dev" if h < 90 else "test"
        return split

    def row(self, s: str, b: str, norm: str, label: str, texts: list[str]) -> list[str]:
        pair = f"{s} [BEHAVIOR] {b}"
        if not texts:
            given = predict = ""
        elif len(texts) == 1:
            given, predict = "", texts[0]
        else:
            k = int(self.rng.random() * len(texts))
            predict, others = texts[k], texts[:k] + texts[k + 1:]
            self.shuffle(others)
            given = "".join(t + AND for t in others)
        return [s, b, pair, AND.join(texts), given, predict, norm, label, self.split(pair)]


def resolve_taxonomy(taxonomy: str | os.PathLike | None = None) -> Path:
    return Path(taxonomy or os.environ.get("NORMBANK_TAXONOMY_DIR") or DEFAULT_TAXONOMY)


def generate(path, rows: int = 155_423, seed: int = 0, taxonomy=None, noise: float = 0.01,
             duplicate_share: float = 0.21) -> dict:
    """Write a NormBank-format corpus of `rows` rows to `path`; return its statistics."""
    start = time.perf_counter()
    if not (0 <= noise and 0 <= duplicate_share and noise + duplicate_share < 1):
        raise ValueError("need 0 <= noise, 0 <= duplicate_share and noise + duplicate_share < 1")
    gen = Generator(Taxonomy(resolve_taxonomy(taxonomy)), seed, noise, duplicate_share)
    frames, conjunctions, unique_atoms = _Distinct(), _Distinct(), _Distinct()
    settings, behaviors = set(), set()
    categories, relations, labels, splits = [0] * 6, {}, {}, {}
    noise_rows = dict.fromkeys(NOISE_WEIGHTS, 0)
    n_atoms = n_free = duplicates = 0
    with open(path, "w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(HEADER)
        chunk = []
        for _ in range(rows):
            (s, b, norm, label, atoms), kind = gen.frame()
            texts = [a.text for a in atoms]
            row = gen.row(s, b, norm, label, texts)
            chunk.append(row)
            if len(chunk) == CHUNK:
                writer.writerows(chunk)
                chunk.clear()
            if kind == "duplicate":  # an exact repeat: nothing new to count as distinct
                duplicates += 1
            else:
                if kind:
                    noise_rows[kind] += 1
                constraint_set = tuple(sorted(set(texts)))
                frames.add((s, b, norm, label, constraint_set))
                conjunctions.add(constraint_set)
                for text in texts:
                    unique_atoms.add(text)
                settings.add(s)
                if b:
                    behaviors.add(b)
            for a in atoms:
                categories[a.cat] += 1
                n_free += a.free
                relations[a.rel] = relations.get(a.rel, 0) + 1
            n_atoms += len(atoms)
            labels[norm] = labels.get(norm, 0) + 1
            splits[row[8]] = splits.get(row[8], 0) + 1
        writer.writerows(chunk)
    share = lambda counts, total: {k: round(v / max(total, 1), 4) for k, v in counts.items()}
    return {
        "rows": rows, "seed": seed, "distinct_frames": len(frames), "duplicate_rows": duplicates,
        "settings": len(settings), "behaviors": len(behaviors),
        "atoms_per_row": round(n_atoms / max(rows, 1), 4), "atom_occurrences": n_atoms,
        "unique_atoms": len(unique_atoms), "unique_conjunctions": len(conjunctions),
        "category_shares": share(dict(zip(CATEGORY_NAMES, categories)), n_atoms),
        "free_text_share": round(n_free / max(n_atoms, 1), 4),
        "relation_shares": share(dict(sorted(relations.items(), key=lambda kv: -kv[1])), n_atoms),
        "label_shares": share(labels, rows), "split_shares": share(splits, rows),
        "noise_rows": noise_rows, "noise_share": round(sum(noise_rows.values()) / max(rows, 1), 4),
        "seconds": round(time.perf_counter() - start, 2),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", help="output CSV path")
    parser.add_argument("--rows", type=int, default=155_423)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--taxonomy", default=None,
                        help=f"taxonomy directory (default: $NORMBANK_TAXONOMY_DIR or {DEFAULT_TAXONOMY})")
    parser.add_argument("--noise", type=float, default=0.01, help="share of noisy rows")
    parser.add_argument("--duplicate-share", type=float, default=0.21, help="share of rows repeating a frame")
    args = parser.parse_args(argv)
    stats = generate(args.out, args.rows, args.seed, args.taxonomy, args.noise, args.duplicate_share)
    print(json.dumps(stats, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
