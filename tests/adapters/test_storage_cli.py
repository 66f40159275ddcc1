"""The storage commands, run as an admin runs them, on a SQLite file and on PostgreSQL."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from linkguard.adapters.sql import SqlListStore, make_engine
from linkguard.cli import app
from linkguard.core.lists import Action, ListEntry, MatchKind, parse_list_file
from tests.adapters.conftest import (
    PG_SERVER,
    create_pg_database,
    drop_pg_database,
    free_port,
    pg_url_for,
)

runner = CliRunner()

ALLOW = "version: 1\nallow:\n  - domain: example.com\n    reason: ours\n"
BLOCK = "version: 1\nblock:\n  - host: login.evil.example\n  - url_prefix: https://x.example/a/\n"
BRANDS = ("version: 1\nbrands:\n  - name: Example\n    tokens: [example]\n"
          "    domains: [example.com]\n")


@pytest.fixture(params=["sqlite", "postgresql"])
def env(request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, str]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'cli.db'}"
    else:
        url = request.getfixturevalue("pg_database")
        request.getfixturevalue("pg_engine")  # emptied for this test
    return {"LINKGUARD_DATABASE_URL": url, "LINKGUARD_DATA_DIR": str(tmp_path)}


@pytest.fixture
def lists_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "lists"
    folder.mkdir()
    (folder / "allow.yaml").write_text(ALLOW)
    (folder / "block.yml").write_text(BLOCK)
    (folder / "brands.yaml").write_text(BRANDS)
    return folder


def run(env: dict[str, str], *args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args), env=env)
    return result.exit_code, result.stdout, result.stderr


def test_sync_is_idempotent_and_reports_counts(env: dict[str, str], lists_dir: Path) -> None:
    code, out, err = run(env, "lists", "sync", str(lists_dir))
    assert code == 0, err
    assert out.startswith("added 3, updated 0, removed 0, unchanged 0")
    assert "skipped" in err
    assert "brands.yaml" in err
    code, out, _ = run(env, "lists", "sync", str(lists_dir))
    assert out.startswith("added 0, updated 0, removed 0, unchanged 3")
    (lists_dir / "block.yml").write_text("version: 1\nblock:\n  - host: login.evil.example\n")
    (lists_dir / "allow.yaml").write_text(ALLOW.replace("ours", "still ours"))
    code, out, _ = run(env, "lists", "sync", str(lists_dir))
    assert out.startswith("added 0, updated 1, removed 1, unchanged 1")


def test_a_bad_file_changes_nothing(env: dict[str, str], lists_dir: Path) -> None:
    assert run(env, "lists", "sync", str(lists_dir))[0] == 0
    (lists_dir / "allow.yaml").write_text("version: 1\nallow:\n  - domain: co.uk\n  - bogus\n")
    code, _, err = run(env, "lists", "sync", str(lists_dir))
    assert code == 1
    assert f"{lists_dir / 'allow.yaml'}:3: domain 'co.uk' is not a registrable domain" in err
    assert f"{lists_dir / 'allow.yaml'}:4:" in err
    assert "nothing synced" in err
    _, exported, _ = run(env, "lists", "export", "--format", "json")
    assert len(json.loads(exported)) == 3  # every entry is still there


def test_unparseable_yaml_in_a_folder_is_reported(env: dict[str, str], lists_dir: Path) -> None:
    (lists_dir / "broken.yaml").write_text("allow: [unclosed\n")
    code, _, err = run(env, "lists", "sync", str(lists_dir))
    assert code == 1
    assert "broken.yaml:" in err
    assert "not valid YAML" in err


def test_an_empty_folder_does_not_wipe_the_lists(env: dict[str, str], lists_dir: Path,
                                                 tmp_path: Path) -> None:
    assert run(env, "lists", "sync", str(lists_dir))[0] == 0
    empty = tmp_path / "empty"
    empty.mkdir()
    code, _, err = run(env, "lists", "sync", str(empty))
    assert code == 1
    assert "no list files found" in err
    code, out, _ = run(env, "lists", "sync", "--allow-empty", str(empty))
    assert code == 0
    assert "removed 3" in out


def test_export_yaml_and_json(env: dict[str, str], lists_dir: Path) -> None:
    run(env, "lists", "sync", str(lists_dir))
    code, out, _ = run(env, "lists", "export")
    assert code == 0
    entries = parse_list_file(out, "export.yaml")
    assert {e.value for e in entries} == {"example.com", "login.evil.example",
                                          "https://x.example/a/"}
    assert yaml.safe_load(out)["version"] == 1
    _, out, _ = run(env, "lists", "export", "--format", "json", "--origin", "file")
    rows = json.loads(out)
    assert {r["origin"] for r in rows} == {"file"}
    assert run(env, "lists", "export", "--origin", "api")[1].strip() == "version: 1"
    assert run(env, "lists", "export", "--format", "xml")[0] == 2


def test_api_keys(env: dict[str, str]) -> None:
    code, out, err = run(env, "apikeys", "create", "mail filter", "--scope", "verdict")
    assert code == 0, err
    secret = out.strip()
    assert secret.startswith("lg_")
    assert "not shown again" in err
    code, out, _ = run(env, "apikeys", "list")
    assert "mail filter" in out
    assert "verdict" in out
    assert "active" in out
    assert secret not in out
    assert run(env, "apikeys", "revoke", "1")[1].startswith("revoked key 1")
    assert "revoked" in run(env, "apikeys", "list")[1]
    code, _, err = run(env, "apikeys", "revoke", "42")
    assert (code, "no API key with id 42" in err) == (1, True)
    code, _, err = run(env, "apikeys", "create", "x", "--scope", "root")
    assert (code, "unknown scope 'root'" in err) == (2, True)


@pytest.fixture(params=["sqlite", "postgresql"])
def fresh_env(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[dict[str, str]]:
    """An empty database of the test's own (the session database stays migrated)."""
    if request.param == "sqlite":
        yield {"LINKGUARD_DATABASE_URL": f"sqlite:///{tmp_path / 'fresh.db'}"}
        return
    name = create_pg_database("linkguard_cli")
    yield {"LINKGUARD_DATABASE_URL": pg_url_for(PG_SERVER, name)}
    drop_pg_database(name)


def test_db_downgrade_and_upgrade(fresh_env: dict[str, str]) -> None:
    assert run(fresh_env, "db", "upgrade")[1].strip() == "database at revision 0002"
    assert run(fresh_env, "db", "downgrade")[1].strip() == "database at revision 0001"
    assert run(fresh_env, "db", "upgrade", "0002")[1].strip() == "database at revision 0002"
    assert run(fresh_env, "db", "downgrade", "base")[1].strip() == "database at revision base"


def test_unreachable_database_is_one_clear_line() -> None:
    env = {"LINKGUARD_DATABASE_URL": f"postgresql://u@127.0.0.1:{free_port()}/x"}
    code, out, err = run(env, "lists", "export")
    assert code == 1
    assert err.startswith("linkguard: ")
    assert "database unavailable" in err
    assert "Traceback" not in out + err
    code, _, err = run({"LINKGUARD_DATABASE_URL": "mysql://u@h/x"}, "db", "upgrade")
    assert code == 2
    assert "unsupported database URL" in err


def test_sources_name_files_relative_to_the_folder(env: dict[str, str], lists_dir: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    assert run(env, "lists", "sync", str(lists_dir))[0] == 0
    monkeypatch.chdir(lists_dir.parent)
    _, out, _ = run(env, "lists", "sync", "lists/")  # another spelling of the same folder
    assert out.startswith("added 0, updated 0, removed 0, unchanged 3")
    rows = json.loads(run(env, "lists", "export", "--format", "json")[1])
    assert {r["source"] for r in rows} == {"allow.yaml:3", "block.yml:3", "block.yml:4"}


def test_syncs_in_other_processes_while_the_api_writes(env: dict[str, str],
                                                       lists_dir: Path) -> None:
    """Two `lists sync` processes and an API writer at once, on one database."""
    full_env = {**os.environ, **env}
    command = [sys.executable, "-m", "linkguard.cli", "lists", "sync", str(lists_dir)]
    engine = make_engine(env["LINKGUARD_DATABASE_URL"])
    try:
        assert run(env, "db", "upgrade")[0] == 0
        syncs = [subprocess.Popen(command, env=full_env, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True) for _ in range(2)]
        store = SqlListStore(engine)
        for n in range(10):
            store.add(ListEntry(Action.BLOCK, MatchKind.HOST, f"h{n}.evil.example"), actor="api")
        outputs = [p.communicate(timeout=60) for p in syncs]
        assert [p.returncode for p in syncs] == [0, 0], outputs
        added = sorted(int(out.split(",")[0].split()[1]) for out, _ in outputs)
        assert added == [0, 3]  # one process did the work, the other found it done
        assert len(store.entries()) == 13
        assert store.version() == 11
    finally:
        engine.dispose()


def test_access_requests_from_the_cli(env: dict[str, str]) -> None:
    from linkguard.adapters.sql import SqlAccessRequests, make_engine  # noqa: PLC0415
    from linkguard.adapters.sql.migrate import ensure_schema  # noqa: PLC0415
    from linkguard.ports import AccessStatus, NewAccessRequest  # noqa: PLC0415

    engine = make_engine(env["LINKGUARD_DATABASE_URL"])
    ensure_schema(engine)
    store = SqlAccessRequests(engine)
    made = [store.create(NewAccessRequest(
        token_id=f"{n:016x}", requester="alice@corp.test", method="oidc",
        justification=f"invoice run {n}", destination=f"https://portal{n}.example/"))
        for n in (1, 2)]
    code, out, _ = run(env, "access", "list")
    assert code == 0
    assert "https://portal2.example/" in out
    assert out.index("portal2") < out.index("portal1")  # newest first
    assert "'invoice run 1'" in out
    code, out, _ = run(env, "access", "approve", str(made[0].id), "--hours", "5", "--note", "ok")
    assert code == 0, out
    assert out.startswith(f"approved request {made[0].id} of alice@corp.test until ")
    approved = store.get(made[0].id)
    assert approved.status is AccessStatus.APPROVED
    assert approved.decided_by.startswith("cli")
    assert approved.expires is not None
    code, out, _ = run(env, "access", "deny", str(made[1].id), "--note", "phishing kit")
    assert (code, store.get(made[1].id).note) == (0, "phishing kit")
    code, _, err = run(env, "access", "deny", str(made[1].id))
    assert code == 1
    assert "already" in err
    code, _, err = run(env, "access", "approve", "999")
    assert code == 1
    assert "no access request 999" in err
    assert run(env, "access", "list", "--status", "nope")[0] == 2
    assert run(env, "access", "approve", "1", "--hours", "0")[0] == 2
    code, out, _ = run(env, "access", "list", "--status", "all")
    assert out.count("decided") == 2
    engine.dispose()


def test_prune_clicks_from_the_cli(env: dict[str, str]) -> None:
    from datetime import UTC, datetime, timedelta  # noqa: PLC0415

    from linkguard.adapters.sql import SqlClickLog, make_engine  # noqa: PLC0415
    from linkguard.adapters.sql.migrate import ensure_schema  # noqa: PLC0415
    from linkguard.ports import ClickAction, ClickEvent, ClickKind, ClickQuery  # noqa: PLC0415

    engine = make_engine(env["LINKGUARD_DATABASE_URL"])
    ensure_schema(engine)
    log = SqlClickLog(engine)
    now = datetime.now(UTC)
    log.write_batch([ClickEvent(at=now - timedelta(days=days), kind=ClickKind.HUMAN,
                                action=ClickAction.REDIRECT) for days in (1, 20, 40, 400)])
    code, out, _ = run(env, "db", "prune-clicks", "--older-than-days", "30")
    assert (code, out.split()[:2]) == (0, ["deleted", "2"])
    code, out, _ = run(env, "db", "prune-clicks")  # the setting: 180 days
    assert (code, out.split()[:2]) == (0, ["deleted", "0"])
    assert len(log.search(ClickQuery()).events) == 2
    code, _, err = run({**env, "LINKGUARD_CLICK_RETENTION_DAYS": "0"}, "db", "prune-clicks")
    assert code == 2
    assert "keep forever" in err
    engine.dispose()
