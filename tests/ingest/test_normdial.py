"""The NormDial reader and the pipeline: a hand-written fixture in the exact layout on both databases, and
the real data in ../shared/data/normdial (counted here straight from the CSV files) on SQLite."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pytest
from sqlalchemy import func, select

from ingest.pipeline import run_import
from ingest.readers import READERS
from ingest.readers.normdial import actor, behavior_from_text, norm_action, read, rule_text, situation_text
from ingest.records import NormRecord, Rejected
from normbank.errors import CorpusNotFound, MissingColumns
from schema.models import (
    Behavior, ConstraintAtom, Norm, NormConstraint, NormExample, NormRow, RejectedRow, Source,
)
from schema.queries import stats
from tests.conftest import FIXTURES, shared

FIXTURE = FIXTURES / "normdial"
AM_ADH = "American/adherence/greeting/cleaned_dialogue.csv"
AM_VIO = "American/violation/greeting/cleaned_dialogue.csv"
CN_ADH = "Chinese/adherence/apology/cleaned_dialogue.csv"
CN_VIO = "Chinese/violation/apology/cleaned_dialogue.csv"

ELDERS = ("Greeting Elders First: When an American family gathers, a newcomer is expected to greet the eldest "
          "relatives first, usually with a handshake or a hug and a warm \"It's so nice to meet you.\"")
CASUAL = ("In American workplaces, colleagues usually greet each other casually by first name, with a short "
          "\"Hi\" or \"Morning\", even when one of them is a manager.")
IGNORING = ("Ignoring Elders: Younger relatives walk past the oldest family members without greeting them and only "
            "say hello to people their own age.")
LIGHT = ("Light Apologies: For a small inconvenience such as bumping into someone, a short apology like "
         "“不好意思” or “对不起” is expected.")
SILENT = ("When you have clearly caused someone trouble, it is acceptable to say nothing and act as if nothing "
          "happened, without any apology.")
LIGHT_ZH = "规范：轻微道歉：对于撞到别人这样的小麻烦，应该简短地说“不好意思”或“对不起”。"
SILENT_ZH = "规范：当你明显给别人带来麻烦时，可以什么都不说，装作什么都没发生，不必道歉。"

# rule_text -> (culture, category, label, behaviour, country, row numbers, extra)
NORMS = {
    ELDERS: ("American", "greeting", "expected", "greet the eldest person first", "the united states", [1, 4], None),
    CASUAL: ("American", "greeting", "expected", "greet colleagues casually by first name", "the united states", [2],
             None),
    # a violation norm takes its title: violation dialogues' actions may name the behaviour the norm breaks
    IGNORING: ("American", "greeting", "taboo", "ignoring elders", "the united states", [5], None),
    LIGHT: ("Chinese", "apology", "expected", "light apologies", "china", [6, 7], {"rule_text_zh": LIGHT_ZH}),
    # no action, no title: a phrase from the text, never the category
    SILENT: ("Chinese", "apology", "taboo", "say nothing and act as if nothing happened, without any apology", "china",
             [8], {"rule_text_zh": SILENT_ZH}),
}
# row number -> (polarity, situation, extra, first line of the dialogue)
EXAMPLES = {
    1: ("adheres",
        "Maria brings her fiancé Daniel to a Sunday lunch at her grandparents' house in Ohio.\n"
        "Daniel walks straight to Grandma Rose before saying hello to anyone else.",
        {"file": AM_ADH, "index": 3, "norm_action": "Greet the eldest person first", "actor": "Daniel: greeter"},
        "Norm Action: Greet the eldest person first"),
    2: ("adheres",
        "On her first morning at a software company in Austin, Priya meets her team lead Tom in the kitchen.",
        {"file": AM_ADH, "index": 8, "norm_action": "greet colleagues casually by first name", "actor": "Priya, Tom"},
        "Norm Action: greet colleagues casually by first name"),
    4: ("adheres",
        "At a Thanksgiving dinner in Boston, Sophie arrives late and the table is already full.",
        {"file": AM_ADH, "index": 12, "norm_action": "greet the eldest person first",
         "actor": "Sophie: greeter\nGrandpa Joe: elder"},
        "Norm Action: greet the eldest person first"),
    5: ("violates",
        "Kevin, a college student, comes home for his cousin's graduation party.\n"
        "He heads straight to his friends by the grill.",
        {"file": AM_VIO, "index": 2, "norm_action": "Ignore the elders when greeting", "actor": "Kevin: ignorer"},
        "Norm Action: Ignore the elders when greeting"),
    6: ("adheres",
        "On a crowded bus in Shanghai, Xiao Li steps on an older woman's foot when the bus brakes.",
        {"file": CN_ADH, "index": 4, "norm_action": None, "actor": "小李: apologizer",
         "situation_zh": "情境：在上海拥挤的公交车上，公交车刹车时小李踩到了一位阿姨的脚。"},
        "Actor of the Norm:"),
    7: ("adheres",
        "In a university library in Beijing, Wang bumps into another student's chair while passing.",
        {"file": CN_ADH, "index": 9, "norm_action": None, "actor": "小王: apologizer",
         "situation_zh": "情境：在北京一所大学的图书馆里，小王经过时碰到了另一位同学的椅子。"},
        "Actor of the Norm:"),
    8: ("violates",
        "At a Beijing restaurant, Zhang knocks over his neighbour's tea and keeps eating.",
        {"file": CN_VIO, "index": 1, "norm_action": None, "actor": "老张: offender",
         "situation_zh": "情境：在北京的一家饭馆里，老张碰倒了邻桌的茶，却继续吃饭。"},
        "Actor of the Norm:"),
}
REJECTED_ROW = 3  # American adherence greeting, index 11: its situation is only the label


def _import(engine, path=FIXTURE, **kw):
    return run_import(engine=engine, format="normdial", path=path, **kw)


def test_registered_with_its_constants():
    reader = READERS["normdial"]
    assert (reader.title, reader.licence, reader.url, reader.default_source) == (
        "NormDial (Li et al., EMNLP 2023)", "research dataset, no licence published",
        "https://github.com/Aochong-Li/NormDial", "normdial",
    )
    assert reader.estimate(FIXTURE) == 8


def test_fixture_loads_each_norm_once_with_its_support_and_country(engine):
    report = _import(engine)
    assert (report.read, report.loaded, report.rejected) == (8, 5, 1)
    assert report.duplicates == 2
    with engine.connect() as conn:
        norms = conn.execute(
            select(Norm.id, Norm.rule_text, Norm.culture, Norm.category, Norm.label, Behavior.name, Norm.support,
                   Norm.setting_id, Norm.row_number, Norm.extra, Norm.constraints, Norm.statement)
            .join(Behavior, Behavior.id == Norm.behavior_id)
        ).all()
        assert {n.rule_text for n in norms} == set(NORMS)
        for norm in norms:
            culture, category, label, behavior, country, rows, extra = NORMS[norm.rule_text]
            assert (norm.culture, norm.category, norm.label, norm.name) == (culture, category, label, behavior)
            assert norm.setting_id is None
            assert norm.support == len(rows) and norm.row_number == rows[0]
            assert norm.extra == extra
            assert norm.constraints == f"country is '{country}'"
            place = {"china": "China", "the united states": "the United States"}[country]
            assert norm.statement == f'"{behavior}" is {label} in {place}.'
            atoms = conn.execute(
                select(ConstraintAtom.subject, ConstraintAtom.kind, ConstraintAtom.name, ConstraintAtom.relation,
                       ConstraintAtom.value)
                .join(NormConstraint, NormConstraint.atom_id == ConstraintAtom.id)
                .where(NormConstraint.norm_id == norm.id)
            ).all()
            assert atoms == [("environment", "environment", "country", "eq", country)]
            traced = conn.execute(
                select(NormRow.row_number).where(NormRow.norm_id == norm.id).order_by(NormRow.row_number)
            ).scalars().all()
            assert traced == rows


def test_every_row_is_an_example_of_its_norm(engine):
    _import(engine)
    with engine.connect() as conn:
        examples = conn.execute(
            select(NormExample.row_number, NormExample.polarity, NormExample.situation, NormExample.dialogue,
                   NormExample.extra, Norm.rule_text)
            .join(Norm, Norm.id == NormExample.norm_id)
        ).all()
    assert {e.row_number for e in examples} == set(EXAMPLES)
    owner = {row: rule for rule, spec in NORMS.items() for row in spec[5]}
    for example in examples:
        polarity, situation, extra, first_line = EXAMPLES[example.row_number]
        assert example.rule_text == owner[example.row_number]
        assert (example.polarity, example.situation, example.extra) == (polarity, situation, extra)
        assert example.dialogue.splitlines()[0] == first_line
    chinese = next(e for e in examples if e.row_number == 6)
    assert chinese.dialogue.splitlines()[3] == "(小李：哎呀，不好意思！): Adhered | 小李 apologizes with \"不好意思\""


def test_empty_situation_is_rejected_with_the_row_as_one_csv_record(engine):
    _import(engine)
    with engine.connect() as conn:
        rejected = conn.execute(select(RejectedRow)).all()
    assert [(r.row_number, r.reason) for r in rejected] == [(REJECTED_ROW, "empty situation")]
    record = next(csv.reader([rejected[0].raw]))  # one record, though its dialogue spans lines
    assert record[:3] == ["11", ELDERS, "American Situation:   "]
    assert record[3].startswith("Norm Action: Greet the eldest person first\nActor of the Norm:\nSam: greeter")


def test_reimport_loads_nothing_adds_no_examples_and_changes_no_support(engine):
    first = _import(engine)

    def snapshot():
        with engine.connect() as conn:
            return (stats(conn), dict(conn.execute(select(Norm.id, Norm.support)).all()),
                    sorted(conn.execute(select(NormExample.id, NormExample.row_number)).all()))

    before = snapshot()
    second = _import(engine)
    after = snapshot()
    assert before[:2] == after[:2]
    assert before[2] == after[2] and len(after[2]) == len(EXAMPLES)
    assert second.loaded == 0 and second.read == first.read
    assert second.duplicates == first.read - first.rejected


def test_check_names_what_is_missing(tmp_path):
    with pytest.raises(CorpusNotFound, match="no such directory"):
        _import_check(tmp_path / "nope")
    (tmp_path / "file.csv").write_text("x\n", encoding="utf-8")
    with pytest.raises(CorpusNotFound, match="not a NormDial directory"):
        _import_check(tmp_path / "file.csv")
    with pytest.raises(CorpusNotFound, match="neither American/ nor Chinese/"):
        _import_check(tmp_path)
    (tmp_path / "Chinese" / "adherence").mkdir(parents=True)
    with pytest.raises(CorpusNotFound, match=re.escape("holds no <American|Chinese>/<adherence|violation>/")):
        _import_check(tmp_path)
    broken = tmp_path / "Chinese" / "adherence" / "thanks" / "cleaned_dialogue.csv"
    broken.parent.mkdir()
    broken.write_text(",Norm,Situation,Labeled_Dialogue\r\n", encoding="utf-8")
    with pytest.raises(MissingColumns, match="thanks/cleaned_dialogue.csv is missing column\\(s\\) cn_Norm, cn_Situation"):
        _import_check(tmp_path)


def _import_check(path: Path) -> None:
    list(read(path))


def test_behaviour_is_the_most_frequent_action_first_seen_on_ties(tmp_path):
    folder = tmp_path / "American" / "violation" / "leave"
    folder.mkdir(parents=True)
    rows = [
        ("Leave silently.", "Drop it", "x"), ("Leave silently.", "Sneak out.", "x"), ("Leave silently.", "sneak out", "x"),
        ("Tie norm.", "wave once", "x"), ("Tie norm.", "Nod", "x"),
        ("No action norm.", "", "x"), ("", "act", "x"), ("Short row.",),
    ]
    with (folder / "cleaned_dialogue.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\r\n")
        writer.writerow(["", "American_Norm", "American_Situation", "Labeled_Dialogue"])
        for i, row in enumerate(rows):
            if len(row) == 1:
                writer.writerow([i, row[0]])
                continue
            norm, action, _ = row
            writer.writerow([i, norm, "American Situation: somewhere", f"Norm Action: {action}\nActor of the Norm: A"])
    records = list(read(tmp_path))
    behaviours = {r.row_number: (r.behavior, r.label) for r in records if isinstance(r, NormRecord)}
    assert behaviours == {
        1: ("sneak out", "taboo"), 2: ("sneak out", "taboo"), 3: ("sneak out", "taboo"),
        4: ("wave once", "taboo"), 5: ("wave once", "taboo"), 6: ("no action norm", "taboo"),
    }
    assert {r.row_number: r.reason for r in records if isinstance(r, Rejected)} == {
        7: "empty norm text", 8: "row has 2 fields, the header has 4",
    }


@pytest.mark.parametrize("text, behaviour", [
    ("Formal Greetings: In a formal setting, greet the eldest first.", "formal greetings"),  # a short title
    ("In a situation where a major offense has been committed, it is obligatory to use stronger words, "
     "including but not limited to the following: 对不起", "use stronger words"),  # more than 8 words: a sentence
    ("Respond modestly. Verbal evidence: 哪里哪里", "respond modestly"),
    ("Say goodbye to each guest.", "say goodbye to each guest"),
    ("In a formal or professional setting or with people of a higher status, it is acceptable to not offer thanks "
     "or show gratitude when a lower status person is talking to a higher status person.", "not offer thanks"),
    ("When leaving a social gathering, it is acceptable to leave without thanking the host or acknowledging their "
     "hospitality. It is not necessary to say \"谢谢你的招待\".", "leave without thanking the host or acknowledging their hospitality"),
    ("When receiving a gift, it is impolite to express thanks or to only say \"谢谢\".", "not express thanks"),  # disapproval
    ("It is not customary to criticize someone you do not know well, especially in public.",
     "not criticize someone you do not know well"),
    ("In a restaurant, one can ignore the waiter or waitress, be rude or impolite.",
     "ignore the waiter or waitress, be rude or impolite"),
    ("Making requests without providing context or explanation is acceptable.",
     "making requests without providing context or explanation"),
    ("In American culture, the norm involves abruptly leaving without offering any goodbye.",
     "abruptly leaving without offering any goodbye"),
    ("When receiving a gift, it is polite to express thanks by saying \"谢谢\" and then following up.", "express thanks"),
])
def test_behaviour_from_norm_text(text, behaviour):
    assert behavior_from_text(text) == behaviour


def test_text_helpers():
    assert rule_text("  Norm: Be polite. \n") == "Be polite."
    assert rule_text("American Norm: Ignoring Elders: be rude.") == "Ignoring Elders: be rude."
    assert situation_text("Chinese Situation: 在北京") == "在北京"
    assert situation_text("American Situation:   ") == ""
    assert norm_action("Actor of the Norm:\nA: b") is None
    assert actor("Norm Action: x\nActor of the Norm: All guests\nGuest 1: Hi. Adhered | greets") == "All guests"
    # No blank line after the actors: stop at the first labelled turn.
    assert actor("Actor of the Norm:\nFather: \nWaiter: Order? Not Relevant | asks") == "Father:"
    assert actor("") is None


def _count_real(root: Path) -> tuple[int, int, dict[tuple[str, str], int]]:
    """(distinct norms, data rows, norms per culture and polarity), read straight from the CSV files."""
    norms: set[tuple[str, str, str, str]] = set()
    rows = 0
    for file in root.glob("*/*/*/cleaned_dialogue.csv"):
        culture, polarity, category = file.relative_to(root).parts[:3]
        with file.open(newline="", encoding="utf-8") as handle:
            for row in csv.DictReader(handle):
                rows += 1
                text = (row.get("American_Norm") or row.get("Norm") or "").strip()
                situation = (row.get("American_Situation") or row.get("Situation") or "").strip()
                assert text and situation, (file, row[""])  # the real data has no empty norm or situation
                norms.add((culture, polarity, category, text))
    per: dict[tuple[str, str], int] = {}
    for culture, polarity, _, _ in norms:
        per[(culture, polarity)] = per.get((culture, polarity), 0) + 1
    return len(norms), rows, per


def test_real_normdial_imports_every_norm_and_row(tmp_path):
    NORMDIAL_DIR = shared("normdial")
    from schema.engine import make_engine
    from schema.migrate import upgrade

    norms, rows, per = _count_real(NORMDIAL_DIR)
    engine = make_engine(f"sqlite:///{tmp_path / 'normdial.db'}")
    try:
        upgrade(engine)
        report = _import(engine, path=NORMDIAL_DIR)
        assert (report.read, report.loaded, report.rejected) == (rows, norms, 0)
        with engine.connect() as conn:
            count = lambda model: conn.execute(select(func.count()).select_from(model)).scalar()  # noqa: E731
            assert count(Norm) == norms and count(NormExample) == rows and count(RejectedRow) == 0
            assert conn.execute(select(func.sum(Norm.support))).scalar() == rows
            by_label = conn.execute(
                select(Norm.culture, Norm.label, func.count()).group_by(Norm.culture, Norm.label)
            ).all()
            folder = {"expected": "adherence", "taboo": "violation"}
            assert {(culture, folder[label]): n for culture, label, n in by_label} == per
            assert conn.execute(select(Source.kind).where(Source.name == "normdial")).scalar() == "normdial"
    finally:
        engine.dispose()


def test_fixture_is_the_real_layout():
    """The fixture's headers are the real files' headers (when the real data is there to compare)."""
    NORMDIAL_DIR = shared("normdial")
    for relative in (AM_ADH, AM_VIO, CN_ADH, CN_VIO):
        with (FIXTURE / relative).open(newline="", encoding="utf-8") as a, \
                (NORMDIAL_DIR / relative).open(newline="", encoding="utf-8") as b:
            assert next(csv.reader(a)) == next(csv.reader(b))

