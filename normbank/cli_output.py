"""How the `normbank` command prints: JSON, plain tables, and a query's answers as table rows."""

from __future__ import annotations

import json
from typing import Any, Sequence


def print_json(data: Any) -> None:
    print(json.dumps(data, ensure_ascii=False, indent=None if isinstance(data, dict) and len(data) < 12 else 2))


def table(rows: Sequence[Sequence[Any]], header: Sequence[str]) -> str:
    cells = [list(map(str, header))] + [[("" if c is None else str(c)) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def result_row(r: dict[str, Any]) -> tuple:
    """One answer as a table row: verdict, confidence, the deciding frames and the open conditions."""
    deciding = [f for f in r["frames"] if f["state"] == "true" and not f["overridden_by"]]
    confidence = "-" if r["confidence"] is None else f"{r['confidence']:.2f}" + (" contested" if r["contested"] else "")
    return (r["behavior"], r["status"], r["verdict"] or "-", confidence,
            "; ".join(" and ".join(f["constraints"]) or "(always)" for f in deciding[:2]) or "-",
            "; ".join(_conditions(r["conditions"])[:2]) or "-")


def _conditions(conditions: list[dict[str, Any]]) -> list[str]:
    """'taboo if role is customer', one per set of open atoms: frames that share their open atoms but not
    their label are one condition whose evidence is split ('taboo if ... (support 3; normal 1)')."""
    votes: dict[tuple[str, ...], dict[str, int]] = {}
    for c in conditions:
        labels = votes.setdefault(tuple(c["unknown"]), {})
        labels[c["label"]] = labels.get(c["label"], 0) + c["support"]
    out = []
    for unknown, labels in votes.items():
        (top, support), *others = sorted(labels.items(), key=lambda kv: -kv[1])
        split = f" (support {support}; " + ", ".join(f"{label} {n}" for label, n in others) + ")" if others else ""
        out.append(f"{top} if {' and '.join(unknown)}{split}")
    return out
