"""The texts the vector indexes embed, read from the database, and the vocabulary linking resolves to.

Collections (id -> text):
- settings, behaviors: the taxonomy's and every imported frame's settings, and the behaviours that linking
  can offer (those of a setting: the taxonomy's, and those of norms with a setting). A setting-less norm's
  behaviour (Social-Chem's actions, ETHICS scenarios, Moral Stories' actions: 15k of the 22k behaviours of
  a bank of every shared corpus) is never a linking candidate, so it is not embedded;
- roles, values: distinct role names, and distinct values per dimension (id = stable hash of the pair);
- norms: a norm's rule text when it has one (NormDial, Social-Chem); otherwise its frame without the
  conditions, 'In a restaurant, "drink alcohol" is taboo' — conditions are decided by the reasoner, not
  by similarity, and leaving them out keeps NormBank's 123k frames to ~30k distinct texts;
- examples: example situations, keyed by their norm's id (a situation finds the norm it illustrates), but
  not an example that repeats its norm: one that is the norm's behaviour or rule text, or begins with it
  (ETHICS's mapping makes each scenario both the behaviour and the example; a forum post's behaviour is its
  title, cut from it). Such an example is the norm's own text at length, not a situation phrased apart
  from it: it teaches a query map nothing, and was a third of the word pieces a bank of every shared corpus embedded.
"""

from __future__ import annotations

import re

from sqlalchemy import select, union
from sqlalchemy.engine import Connection

from normbank.ids import stable_id
from normbank.labels import LABEL_PHRASE, Label
from normbank.linking import Vocabulary
from normbank.scales import PROJECT_SCALES
from schema.models import (
    Behavior, ConstraintAtom, Dimension, DimensionValue, Norm, NormConstraint, NormExample, Role, Setting,
    SettingBehavior,
)


def value_id(dimension: str, value: str) -> int:
    return stable_id("value", dimension, value)


def role_id(name: str) -> int:
    return stable_id("role name", name)


def norm_text(setting: str | None, behavior: str, label: str, rule_text: str | None) -> str:
    if rule_text:
        return rule_text
    where = f"In {'an' if (setting or '')[:1] in 'aeiou' else 'a'} {setting}, " if setting else ""
    return f'{where}"{behavior}" is {LABEL_PHRASE[Label(label)]}'


LINKING_COLLECTIONS = ("settings", "behaviors", "roles", "values")  # what free text links to


def linking_collections(conn: Connection) -> dict[str, list[tuple[int, str]]]:
    """The collections of what free text links to (settings, behaviours, roles, values), as (id, text)."""
    out: dict[str, list[tuple[int, str]]] = {}
    out["settings"] = [(sid, name) for sid, name in conn.execute(select(Setting.id, Setting.name))]
    linkable = union(select(SettingBehavior.behavior_id),
                     select(Norm.behavior_id).where(Norm.setting_id.is_not(None))).subquery()
    out["behaviors"] = [(bid, name) for bid, name in conn.execute(
        select(Behavior.id, Behavior.name).where(Behavior.id.in_(select(linkable.c[0]))))]
    vocab = vocabulary(conn)
    out["roles"] = [(role_id(r), r) for r in sorted(vocab.all_roles)]
    out["values"] = [(value_id(d, v), v) for d, values in sorted(vocab.values.items()) for v in sorted(values)]
    return out


def collections(conn: Connection) -> dict[str, list[tuple[int, str]]]:
    """Every collection the index store builds, as (id, text) pairs."""
    out = linking_collections(conn)
    rows = conn.execute(
        select(Norm.id, Setting.name, Behavior.name, Norm.label, Norm.rule_text)
        .join(Behavior, Behavior.id == Norm.behavior_id).outerjoin(Setting, Setting.id == Norm.setting_id)
    )
    out["norms"] = [(nid, norm_text(setting, behavior, label, rule)) for nid, setting, behavior, label, rule in rows]
    out["examples"] = [(nid, situation) for nid, situation, behavior, rule in conn.execute(
        select(NormExample.norm_id, NormExample.situation, Behavior.name, Norm.rule_text)
        .join(Norm, Norm.id == NormExample.norm_id).join(Behavior, Behavior.id == Norm.behavior_id))
        if not repeats(situation, behavior, rule)]
    return out


_WORD = re.compile(r"\w+")


def _words(text: str | None) -> str:
    return " ".join(_WORD.findall((text or "").casefold()))


def repeats(example: str, *norm_texts: str | None) -> bool:
    """Whether an example is one of its norm's texts, or begins with one (word for word, case, punctuation
    and a cut last word aside: a behaviour cut short ends in part of a word)."""
    words = _words(example)
    return any(text and words.startswith(text) for text in map(_words, norm_texts))


def vocabulary(conn: Connection) -> Vocabulary:
    """What free text can link to, read from the bank."""
    vocab = Vocabulary()
    names = dict(conn.execute(select(Setting.id, Setting.name)).all())
    vocab.settings = sorted(names.values())
    for sid, role in conn.execute(select(Role.setting_id, Role.name)):
        vocab.roles[names[sid]].add(role)
    for setting, value in conn.execute(
        select(Setting.name, ConstraintAtom.value).distinct()
        .select_from(Norm)
        .join(Setting, Setting.id == Norm.setting_id)
        .join(NormConstraint, NormConstraint.norm_id == Norm.id)
        .join(ConstraintAtom, ConstraintAtom.id == NormConstraint.atom_id)
        .where(ConstraintAtom.kind == "role")
    ):
        vocab.roles[setting].add(value)
    for sid, behavior in conn.execute(
        select(SettingBehavior.setting_id, Behavior.name).join(Behavior, Behavior.id == SettingBehavior.behavior_id)
    ):
        vocab.behaviors[names[sid]].add(behavior)
    for sid, behavior in conn.execute(
        select(Norm.setting_id, Behavior.name).distinct().join(Behavior, Behavior.id == Norm.behavior_id)
        .where(Norm.setting_id.is_not(None))
    ):
        vocab.behaviors[names[sid]].add(behavior)
    for name, scale in PROJECT_SCALES.items():
        vocab.values[name].update(scale)
    for name, value in conn.execute(
        select(Dimension.name, DimensionValue.value).join(DimensionValue, DimensionValue.dimension_id == Dimension.id)
    ):
        vocab.values[name].add(value)
    for name, value in conn.execute(
        select(ConstraintAtom.name, ConstraintAtom.value).distinct()
        .where(ConstraintAtom.kind.in_(["attribute", "environment"]))
    ):
        vocab.values[name].add(value)
    return vocab
