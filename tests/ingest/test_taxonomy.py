"""The real NormBank taxonomy from ../shared/data, on both databases."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select

from ingest.pipeline import run_import
from normbank.constraints import normalise_text
from schema.models import Behavior, Dimension, DimensionValue, Role, Setting, SettingBehavior
from schema.queries import load_scales


def _expected(taxonomy: Path) -> dict[str, int]:
    """Counts computed straight from the files, independently of the reader."""
    role_files = {p.stem: p for p in (taxonomy / "Settings-Roles").glob("*.txt")}
    behavior_files = {p.stem: p for p in (taxonomy / "Behaviors-All-Hand-Filtered").glob("*.txt")}
    roles = {
        (setting, " ".join(line.split()).lower())
        for setting, p in role_files.items() for line in p.read_text(encoding="utf-8").splitlines() if line.strip()
    }
    behaviors = {
        " ".join(line.split()).lower()
        for p in behavior_files.values() for line in p.read_text(encoding="utf-8").splitlines() if line.strip()
    }
    return {"settings": len(set(role_files) | set(behavior_files)), "roles": len(roles), "behaviors": len(behaviors),
            "role_files": len(role_files)}


def test_real_taxonomy_loads_every_setting_role_and_behaviour_once(engine, taxonomy_dir):
    expected = _expected(taxonomy_dir)
    assert expected["role_files"] == 261 and expected["settings"] == 264
    first = run_import(engine=engine, format="normbank-taxonomy", path=taxonomy_dir)
    with engine.connect() as conn:
        count = lambda model: conn.execute(select(func.count()).select_from(model)).scalar()  # noqa: E731
        assert count(Setting) == 264
        assert count(Role) == expected["roles"]
        assert count(Behavior) == expected["behaviors"]
        names = set(conn.execute(select(Setting.name)).scalars())
        assert {"barber shop or beauty salon", "church or chapel", "jail or prison"} <= names
        # Behaviours per setting keep the taxonomy's lists (a behaviour may belong to several settings).
        restaurant = conn.execute(select(Setting.id).where(Setting.name == "restaurant")).scalar()
        listed = conn.execute(
            select(Behavior.name).join(SettingBehavior, SettingBehavior.behavior_id == Behavior.id)
            .where(SettingBehavior.setting_id == restaurant)
        ).scalars().all()
        raw = (taxonomy_dir / "Behaviors-All-Hand-Filtered" / "restaurant.txt").read_text(encoding="utf-8").splitlines()
        assert set(listed) == {normalise_text(line) for line in raw if line.strip()}
        # Dimensions: attributes of PERSON and OTHER, environment dimensions incl. country, ordered scales ranked.
        dims = set(conn.execute(select(Dimension.subject, Dimension.name)).all())
        assert ("person", "age bracket") in dims and ("other", "religion") in dims
        assert ("environment", "time of day") in dims and ("environment", "country") in dims
        ages = conn.execute(
            select(DimensionValue.value).join(Dimension, Dimension.id == DimensionValue.dimension_id)
            .where(Dimension.subject == "person", Dimension.name == "age bracket").order_by(DimensionValue.rank)
        ).scalars().all()
        assert ages[0] == "infant" and ages[-1] == "senior citizen" and ages.index("teen") < ages.index("young adult")
        scales = load_scales(conn)
        assert scales.rank("time of day", "night") > scales.rank("time of day", "noon")
    assert first.loaded == first.read > 11000
    second = run_import(engine=engine, format="normbank-taxonomy", path=taxonomy_dir)
    assert second.loaded == 0
    assert second.duplicates == second.read


def test_an_entry_listed_twice_is_read_twice_and_loaded_once(engine, tmp_path):
    (tmp_path / "Settings-Roles").mkdir()
    # Two spellings of one role: the same row once normalised.
    (tmp_path / "Settings-Roles" / "bar.txt").write_text("Bartender\n'bartender'\nPatron\n", encoding="utf-8")
    report = run_import(engine=engine, format="normbank-taxonomy", path=tmp_path)
    assert (report.read, report.loaded, report.duplicates) == (4, 3, 1)
    with engine.connect() as conn:
        assert sorted(conn.execute(select(Role.name)).scalars()) == ["bartender", "patron"]
