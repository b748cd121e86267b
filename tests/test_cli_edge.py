"""The `normbank` command's edge: bad arguments are one-line errors, read-only commands create nothing,
`init` creates a missing PostgreSQL database (or says the `createdb` to run), a busy port is reported
before anything claims to serve."""

from __future__ import annotations

import json
import socket
import uuid

import pytest
from sqlalchemy.engine import make_url

from normbank.cli import main
from tests.conftest import PG_ADMIN_URL, pg_problem


def run(capsys, *argv: str) -> tuple[int, str, str]:
    try:
        code = main(list(argv))
    except SystemExit as exc:  # argparse's errors exit
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def bank(tmp_path, capsys) -> str:
    url = f"sqlite:///{tmp_path / 'bank.db'}"
    assert main(["--database", url, "init", "--sample", "--no-progress"]) == 0
    capsys.readouterr()
    return url


@pytest.mark.parametrize("argv, message", [
    (["query", "--setting", "restaurant", "--limit", "0"],
     "normbank query: error: argument --limit: expected a whole number of 1 or more, got 0 (see normbank query --help)"),
    (["query", "--setting", "restaurant", "--limit", "-1"], "argument --limit: expected a whole number of 1 or more, got -1"),
    (["query", "--setting", "restaurant", "--limit", "ten"], "argument --limit: expected a whole number of 1 or more, got 'ten'"),
    (["query", "--setting", ""], "normbank query: error: argument --setting: must not be empty"),
    (["query", "--setting", "   "], "argument --setting: must not be empty"),
    (["query", "--setting", "restaurant", "--limit", "5000"],
     "normbank: error: invalid query: limit: Input should be less than or equal to 1000"),
    (["query", "--setting", "restaurant", "--env", "noise"], "normbank: error: --env takes name=value, got 'noise'"),
    (["frames", "--limit", "-5"], "normbank frames: error: argument --limit: expected a whole number of 1 or more, got -5"),
    (["serve", "--port", "99999"], "argument --port: expected a port from 1 to 65535, got 99999"),
    (["serve", "--workers", "0"], "argument --workers: expected a whole number of 1 or more, got 0"),
])
def test_bad_arguments_are_one_line(capsys, bank, argv, message):
    code, out, err = run(capsys, "--database", bank, *argv)
    assert code in (1, 2) and out == ""
    assert message in err and err.count("\n") == 1 and "Traceback" not in err


def test_unsupported_database_scheme_names_the_supported_ones(capsys, tmp_path):
    for url in ("mysql://bob@127.0.0.1/nb", "postgresql+psycopg2://bob@127.0.0.1/nb", "oracle://x"):
        code, _, err = run(capsys, "stats", "--database", url)
        assert code == 1 and err.count("\n") == 1
        assert "unsupported database URL scheme" in err and "sqlite:///path.db and postgresql://user@host/db" in err


@pytest.mark.parametrize("command", [["stats"], ["sources"], ["frames"], ["query", "--setting", "restaurant"],
                                     ["index"], ["serve", "--port", "1"]])
def test_read_only_commands_create_no_file_or_directory(capsys, tmp_path, command):
    missing = tmp_path / "no" / "such" / "dir" / "x.db"
    code, _, err = run(capsys, "--database", f"sqlite:///{missing}", *command)
    assert code == 1
    assert err == f"normbank: error: no database at {missing}; run `normbank init` first (or give --database)\n"
    assert not (tmp_path / "no").exists()


def test_busy_port_is_reported_before_anything_claims_to_serve(capsys, bank):
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        code, out, err = run(capsys, "--database", bank, "serve", "--port", str(port))
    assert code == 1 and "serving" not in out + err
    assert err == (f"normbank: error: cannot serve on 127.0.0.1:{port}: Address already in use (another server is "
                   "listening there; choose another --port)\n")


def test_stats_counts_the_roles_that_settings_list(capsys, bank):
    from fastapi.testclient import TestClient

    from api.app import create_app
    from tests.conftest import app_settings

    _, out, _ = run(capsys, "--database", bank, "stats", "--json")
    roles = json.loads(out)["roles"]
    with TestClient(create_app(app_settings(bank, bank.rsplit("/", 1)[0].removeprefix("sqlite://")))) as client:
        names = [s["name"] for s in client.get("/v1/settings").json()["data"]]
        listed = sum(len(client.get(f"/v1/settings/{name}").json()["roles"]) for name in names)
    assert roles == listed > 0


def test_conditions_column_never_prints_two_labels_for_one_condition(capsys, bank):
    from normbank.cli_output import _conditions

    conditions = [{"label": "normal", "unknown": ["role is customer"], "support": 1},
                  {"label": "taboo", "unknown": ["role is customer"], "support": 3},
                  {"label": "expected", "unknown": ["time of day is 'noon'"], "support": 2}]
    assert _conditions(conditions) == ["taboo if role is customer (support 3; normal 1)",
                                       "expected if time of day is 'noon'"]
    code, out, _ = run(capsys, "--database", bank, "query", "--setting", "restaurant", "--limit", "1000")
    assert code == 0
    for line in out.splitlines()[2:]:
        column = line.split("  ")[-1]
        for part in column.split("; "):
            assert part.count(" if ") <= 1


# -- PostgreSQL: init creates a missing database, or says the createdb to run ------------------------
def _pg_or_skip() -> None:
    problem = pg_problem()
    if problem:
        pytest.skip(f"PostgreSQL unreachable: {problem}")


def _admin(sql: str) -> None:
    import psycopg

    with psycopg.connect(PG_ADMIN_URL.replace("+psycopg", ""), autocommit=True) as conn:
        conn.execute(sql)


@pytest.mark.postgres
def test_init_creates_a_missing_postgres_database(capsys):
    _pg_or_skip()
    name = f"nb_init_{uuid.uuid4().hex[:10]}"
    url = make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    code, _, err = run(capsys, "stats", "--database", url)
    assert code == 1 and f'database "{name}" does not exist' in err  # read commands never create it
    try:
        code, out, _ = run(capsys, "init", "--database", url)
        assert code == 0 and f"created the PostgreSQL database at" in out and "database ready" in out
        code, out, _ = run(capsys, "stats", "--json", "--database", url)
        assert code == 0 and json.loads(out)["norms"] == 0
    finally:
        _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.mark.postgres
def test_init_without_createdb_rights_prints_the_createdb_command(capsys):
    _pg_or_skip()
    role, name = f"nb_role_{uuid.uuid4().hex[:8]}", f"nb_init_{uuid.uuid4().hex[:10]}"
    admin = make_url(PG_ADMIN_URL)
    _admin(f'CREATE ROLE "{role}" LOGIN NOCREATEDB')
    try:
        url = admin.set(username=role, password=None, database=name).render_as_string(hide_password=False)
        code, _, err = run(capsys, "init", "--database", url)
        assert code == 1 and err.count("\n") == 1
        assert f"could not be created (permission denied to create database); create it with: createdb -h " \
               f"{admin.host} -p {admin.port or 5432} -U {role} {name}" in err
    finally:
        _admin(f'DROP ROLE IF EXISTS "{role}"')


def test_init_on_an_unreachable_server_says_so_not_that_it_could_not_create(capsys):
    code, _, err = run(capsys, "init", "--database", "postgresql://bob:hunter2@127.0.0.1:1/nodb")
    assert code == 1 and err.count("\n") == 1 and "hunter2" not in err
    assert "cannot reach the database at postgresql+psycopg://bob:***@127.0.0.1:1/nodb" in err and "createdb" not in err
