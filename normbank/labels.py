"""Norm labels: what annotators said about a behaviour under a frame's constraints."""

from __future__ import annotations

from enum import StrEnum


class Label(StrEnum):
    EXPECTED = "expected"  # predicted or required: an obligation
    NORMAL = "normal"  # reasonable, no obligation ("okay")
    TABOO = "taboo"  # forbidden, discouraged or surprising for that person there ("unexpected")


LABELS: tuple[Label, ...] = (Label.EXPECTED, Label.NORMAL, Label.TABOO)

# NormBank's numeric `label` column.
NORMBANK_LABEL_NUMBER = {Label.EXPECTED: "2", Label.NORMAL: "1", Label.TABOO: "0"}

LABEL_PHRASE = {Label.EXPECTED: "expected", Label.NORMAL: "normal (okay)", Label.TABOO: "taboo"}
