"""Bad corpus files, for every reader: a one-line error naming the file and place (or rejected rows),
never a traceback and never a partial import. Random bytes, truncated files and wrong shapes come from
hypothesis; the named cases are the ones reported in issue 16."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from sqlalchemy import func, select

from ingest.pipeline import run_import
from ingest.readers import READERS
from normbank.cli import main, sample_corpus_path
from normbank.errors import NormbankError
from schema.models import ImportRun, Norm, Role
from tests.conftest import FIXTURES

SAMPLE = sample_corpus_path().read_bytes()
NORMDIAL = FIXTURES / "normdial"
NORMDIAL_FILE = Path("American/adherence/greeting/cleaned_dialogue.csv")
TAXONOMY = {
    "Settings-Roles/bar.txt": b"Bartender\nPatron\n",
    "Behaviors-All-Hand-Filtered/bar.txt": b"order a drink\ntip the bartender\n",
    "Attributes/age bracket.txt": b"child\nteen\nadult\n",
    "constraint_dict.json": json.dumps({
        "the PERSON PERFORMING BEHAVIOR's role": {"bar role": ["bouncer"]},
        "the environment": {"noise": ["quiet", "loud"]},
    }).encode(),
}
FAST = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                        HealthCheck.too_slow])


def _taxonomy(root: Path, replace: dict[str, bytes] | None = None) -> Path:
    for name, data in {**TAXONOMY, **(replace or {})}.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)
    return root


def _normdial(root: Path, data: bytes) -> Path:
    shutil.copytree(NORMDIAL, root, dirs_exist_ok=True)
    (root / NORMDIAL_FILE).write_bytes(data)
    return root


def _read_all(format: str, path: Path) -> str | None:
    """Read the corpus as the pipeline does: None when it reads, else the error's message, which must be
    one line. Any other exception fails the test (it would be a traceback)."""
    try:
        for _ in READERS[format].read(path):
            pass
    except NormbankError as exc:
        assert "\n" not in exc.message and exc.message
        return exc.message
    return None


# -- random bytes, truncated files and wrong shapes, read by each reader -------------------------------
@FAST
@given(data=st.binary(max_size=400))
def test_random_bytes_as_a_normbank_csv(tmp_path_factory, data):
    path = tmp_path_factory.mktemp("csv") / "corpus.csv"
    path.write_bytes(data)
    message = _read_all("normbank", path)
    assert message is None or str(path) in message


@FAST
@given(cut=st.integers(0, len(SAMPLE)), junk=st.binary(max_size=20))
def test_a_truncated_normbank_csv_with_junk_at_the_cut(tmp_path_factory, cut, junk):
    path = tmp_path_factory.mktemp("csv") / "corpus.csv"
    path.write_bytes(SAMPLE[:cut] + junk)
    message = _read_all("normbank", path)
    assert message is None or str(path) in message


@FAST
@given(name=st.sampled_from(sorted(TAXONOMY)), data=st.binary(max_size=300))
def test_random_bytes_in_any_taxonomy_file(tmp_path_factory, name, data):
    root = _taxonomy(tmp_path_factory.mktemp("taxonomy"), {name: data})
    message = _read_all("normbank-taxonomy", root)
    assert message is None or str(root / name) in message


_JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
                     lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=40), inner,
                                                                                 max_size=3), max_leaves=12)
_SECTIONS = st.sampled_from(["the PERSON PERFORMING BEHAVIOR's role", "the PERSON PERFORMING BEHAVIOR's attribute",
                             "some OTHER PERSON's attribute", "the environment"])


@FAST
@given(document=_JSON | st.dictionaries(_SECTIONS, _JSON | st.dictionaries(st.text(max_size=10), _JSON)))
def test_any_json_shape_as_constraint_dict(tmp_path_factory, document):
    root = _taxonomy(tmp_path_factory.mktemp("taxonomy"), {"constraint_dict.json": json.dumps(document).encode()})
    message = _read_all("normbank-taxonomy", root)
    assert message is None or ("constraint_dict.json" in message and "expected" in message)


@FAST
@given(data=st.binary(max_size=400) | st.integers(0, 3000).map(
    lambda cut: (NORMDIAL / NORMDIAL_FILE).read_bytes()[:cut]))
def test_random_or_truncated_normdial_file(tmp_path_factory, data):
    root = _normdial(tmp_path_factory.mktemp("normdial"), data)
    message = _read_all("normdial", root)
    assert message is None or str(root / NORMDIAL_FILE) in message


# -- through the pipeline: nothing partial is left behind ------------------------------------------------
@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                 HealthCheck.too_slow])
@given(cut=st.integers(200, len(SAMPLE)), junk=st.binary(min_size=1, max_size=8))
def test_a_bad_file_imports_whole_or_not_at_all(engine, tmp_path_factory, cut, junk):
    path = tmp_path_factory.mktemp("csv") / "corpus.csv"
    path.write_bytes(SAMPLE[:cut] + junk + SAMPLE[cut:])
    with engine.connect() as conn:
        before = conn.execute(select(func.count()).select_from(Norm)).scalar()
    try:
        report = run_import(engine=engine, format="normbank", path=path, source="fuzz")
    except NormbankError as exc:
        assert "\n" not in exc.message and str(path) in exc.message
        with engine.connect() as conn:
            assert conn.execute(select(func.count()).select_from(Norm)).scalar() == before
            assert conn.execute(select(ImportRun.status).order_by(ImportRun.id.desc())).first()[0] == "failed"
        return
    assert report.read == report.loaded + report.duplicates + report.rejected


# -- the cases from the issue --------------------------------------------------------------------------
def _many_rows(tmp_path: Path, bad_row: int, bad: bytes) -> Path:
    header, first = SAMPLE.splitlines()[:2]
    rows = [first.replace(b"restaurant", b"restaurant %d" % n, 1) for n in range(1, 2501)]
    rows[bad_row - 1] = rows[bad_row - 1].replace(b"restaurant", b"restaurant" + bad, 1)
    path = tmp_path / "big.csv"
    path.write_bytes(b"\n".join([header, *rows]) + b"\n")
    return path


def test_a_latin1_byte_after_row_2000_names_the_row_and_rolls_back(engine, tmp_path):
    path = _many_rows(tmp_path, 2345, "é".encode("latin-1"))
    with pytest.raises(NormbankError) as caught:
        run_import(engine=engine, format="normbank", path=path, batch_size=500)
    assert caught.value.message == (
        f"{path}, row 2345 (line 2346): not UTF-8 (byte 0xe9 at column 11); expected UTF-8 text "
        "(convert it, e.g. with iconv -t UTF-8)")
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(Norm)).scalar() == 0
        assert conn.execute(select(ImportRun.status)).scalar_one() == "failed"


def test_a_binary_or_latin1_header_is_named(tmp_path):
    path = tmp_path / "latin1.csv"
    path.write_bytes("setting,behavior,constraints,norm\ncafé,x,,normal\n".encode("latin-1"))
    assert _read_all("normbank", path) == (
        f"{path}, row 1 (line 2): not UTF-8 (byte 0xe9 at column 4); expected UTF-8 text "
        "(convert it, e.g. with iconv -t UTF-8)")
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    assert _read_all("normbank", path).startswith(f"{path}, header (line 1): not UTF-8 (byte 0x89 at column 1)")


def test_binary_taxonomy_file_names_file_and_line(tmp_path):
    root = _taxonomy(tmp_path, {"Settings-Roles/bar.txt": b"bartender\npatron\n\x00\x01\x02"})
    assert _read_all("normbank-taxonomy", root) == (
        f"{root / 'Settings-Roles/bar.txt'}, line 3: holds a NUL byte at column 1; expected UTF-8 text, "
        "not a binary file")


def test_truncated_and_list_shaped_constraint_dict(tmp_path):
    file = tmp_path / "constraint_dict.json"
    root = _taxonomy(tmp_path, {"constraint_dict.json": TAXONOMY["constraint_dict.json"][:30]})
    assert _read_all("normbank-taxonomy", root).startswith(f"{file}: not valid JSON at line 1, column ")
    _taxonomy(tmp_path, {"constraint_dict.json": b"[1, 2]"})
    assert _read_all("normbank-taxonomy", root) == f"{file}: expected an object of sections at the top level, got a list"
    _taxonomy(tmp_path, {"constraint_dict.json": b'{"the environment": {"noise": "loud"}}'})
    assert _read_all("normbank-taxonomy", root) == (
        f"{file}: expected a list of strings for 'noise' in section 'the environment', got a string")


def test_binary_normdial_file_names_the_file(tmp_path):
    root = _normdial(tmp_path, b"\xff\xfe\x00\x01binary")
    assert _read_all("normdial", root).startswith(f"{root / NORMDIAL_FILE}, header (line 1): not UTF-8 (byte 0xff")


def test_cli_prints_one_line_and_no_traceback(tmp_path, capsys):
    path = _many_rows(tmp_path, 3, b"\xe9")
    database = f"sqlite:///{tmp_path / 'bank.db'}"
    assert main(["--database", database, "init"]) == 0
    capsys.readouterr()
    assert main(["--database", database, "ingest", "normbank", str(path), "--no-progress"]) == 1
    err = capsys.readouterr().err
    assert err == (f"normbank: error: {path}, row 3 (line 4): not UTF-8 (byte 0xe9 at column 11); expected UTF-8 "
                   "text (convert it, e.g. with iconv -t UTF-8)\n")


def test_ingest_into_a_read_only_sqlite_file_is_one_clear_line(tmp_path, capsys):
    database = tmp_path / "bank.db"
    assert main(["--database", f"sqlite:///{database}", "init"]) == 0
    capsys.readouterr()
    url = f"sqlite:///file:{database}?mode=ro&uri=true"
    assert main(["--database", url, "ingest", "normbank", str(sample_corpus_path()), "--no-progress"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "readonly database" in err and "INSERT" not in err and "Traceback" not in err
    assert main(["--database", f"sqlite:///{database}", "stats", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["norms"] == 0


def test_taxonomy_rows_are_not_half_loaded(engine, tmp_path):
    root = _taxonomy(tmp_path, {"Attributes/age bracket.txt": b"child\n\xc3(\n"})
    with pytest.raises(NormbankError, match=r"age bracket.txt, line 2: not UTF-8 \(byte 0xc3 at column 1\)"):
        run_import(engine=engine, format="normbank-taxonomy", path=root)
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(Role)).scalar() == 0
