"""Full-text documents: the Python twin of the document expression, on both databases."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from schema import lexical

# (rule_text, behavior, setting, category, statement): NULLs, empty strings, underscores, spaces at the ends.
CASES = [
    (None, "drink alcohol", "bar", None, 'In a bar, "drink alcohol" is taboo.'),
    (None, "greet", None, None, '"greet" is expected when the person is a guest.'),
    ("Greet elders first", "greet", None, "social_norms_greeting", "unused"),
    ("", "eat", "home", "", "the statement"),
    (None, " spaced ", " x ", "a_b_c", " s "),
]


@pytest.mark.parametrize("case", CASES)
def test_norm_document_is_the_sql_document(engine, case):
    rule_text, behavior, setting, category, statement = case
    # The SQL expression over one row of the three tables it reads.
    query = lexical._NORM_DOCUMENT
    with engine.connect() as conn:
        got = conn.execute(
            text(f"SELECT {query} FROM (SELECT :r AS rule_text, :c AS category, :st AS statement) n, "
                 "(SELECT :b AS name) b LEFT JOIN (SELECT :s AS name) s ON :s IS NOT NULL"),
            {"r": rule_text, "c": category, "st": statement, "b": behavior, "s": setting},
        ).scalar_one()
    assert lexical.norm_document(rule_text, behavior, setting, category, statement) == got
