"""The command line, run as a user runs it (a subprocess for the streaming case)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

import linkguard
from linkguard.adapters.catalog_files import load_catalog
from linkguard.cli import app
from linkguard.core.tokens import KeyRing, LinkClaims, generate_key_spec, open_token, seal
from linkguard.settings import default_shipped_lists_dir

runner = CliRunner()


@pytest.fixture(autouse=True)
def no_outside_facts(monkeypatch: pytest.MonkeyPatch) -> None:
    """`check` without --offline asks RDAP and feeds; these tests stay on this machine
    (tests/adapters/test_network_facts.py runs the online mode against local servers)."""
    monkeypatch.setenv("LINKGUARD_FACTS_ENABLED", "false")


def _json_lines(output: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in output.splitlines() if line.strip()]


def test_done_when_examples() -> None:
    result = runner.invoke(app, ["check", "--json", "--offline", "https://paypa1.com/login",
                                 "https://www.paypal.com/"])
    assert result.exit_code == 0, result.output
    bad, good = _json_lines(result.output)
    assert bad["verdict"] in ("confirm", "block")
    assert any(str(r["code"]).startswith("lookalike.") for r in bad["reasons"])  # type: ignore[union-attr]
    assert good["verdict"] == "allow"
    assert set(bad) >= {"url", "verdict", "score", "reasons"}
    reason = bad["reasons"][0]  # type: ignore[index]
    assert set(reason) == {"code", "message", "evidence"}


def test_table_output_and_display_text() -> None:
    result = runner.invoke(app, ["check", "--text", "www.paypal.com", "https://example.net/"])
    assert result.exit_code == 0
    assert result.output.startswith("warn")
    assert "mismatch.display_text" in result.output


def test_malformed_url_is_a_result_line() -> None:
    result = runner.invoke(app, ["check", "--json", "http://", "javascript:alert(1)"])
    assert result.exit_code == 0
    bad, script = _json_lines(result.output)
    assert bad["reasons"][0]["code"] == "url.invalid"  # type: ignore[index]
    assert script["verdict"] == "block"


def test_bad_usage_exits_2() -> None:
    assert runner.invoke(app, ["check"]).exit_code == 2
    assert runner.invoke(app, ["check", "--no-such-flag", "x"]).exit_code == 2


def test_stdin_streams_one_result_per_line() -> None:
    lines = ["https://www.paypal.com/", "", "not a url", "https://paypal-secure-login.com/"]
    proc = subprocess.run(
        [sys.executable, "-m", "linkguard.cli", "check", "--json", "-"],
        input="\n".join(lines) + "\n", capture_output=True, text=True, check=False,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)},
        timeout=60)
    assert proc.returncode == 0, proc.stderr
    results = _json_lines(proc.stdout)
    assert [r["url"] for r in results] == [line for line in lines if line]
    assert results[0]["verdict"] == "allow"
    assert results[2]["verdict"] in ("confirm", "block")


def test_reasons_lists_the_vocabulary() -> None:
    result = runner.invoke(app, ["reasons"])
    assert "lookalike.homoglyph" in result.output


def test_lists_validate(tmp_path: Path) -> None:
    good = tmp_path / "good.yaml"
    good.write_text("version: 1\nallow:\n  - domain: example.com\n")
    bad = tmp_path / "bad.yaml"
    bad.write_text("allow:\n  - domain: www.example.com\n  - nonsense\n")
    ok = runner.invoke(app, ["lists", "validate", str(good)])
    assert ok.exit_code == 0
    assert "1 entries" in ok.output
    failed = runner.invoke(app, ["lists", "validate", str(good), str(bad)])
    assert failed.exit_code == 1
    assert f"{bad}:2: domain 'www.example.com'" in failed.output
    assert f"{bad}:3: entry 'nonsense'" in failed.output


@pytest.mark.parametrize("name", ["brands.yaml", "free_hosting.yaml", "allow.yaml",
                                  "block.yaml"])
def test_shipped_lists_validate(name: str) -> None:
    directory = default_shipped_lists_dir()
    assert (directory / name).is_file()
    catalog = load_catalog(directory)
    assert len(catalog.brands) >= 150


def test_keys_new_prints_a_usable_key() -> None:
    result = runner.invoke(app, ["keys", "new", "--kid", "k7"])
    assert result.exit_code == 0
    spec = result.output.strip()
    assert spec.startswith("k7:")
    assert KeyRing.parse(spec).newest_kid == "k7"
    assert runner.invoke(app, ["keys", "new", "--kid", "BAD KID"]).exit_code == 2


def test_check_judges_the_innermost_url() -> None:
    wrapped = ("https://nam12.safelinks.protection.outlook.com/?url=https%3A%2F%2Fpaypa1.com"
               "%2Flogin&data=05%7C01&reserved=0")
    result = runner.invoke(app, ["check", "--json", wrapped])
    [line] = _json_lines(result.output)
    assert line["verdict"] == "block"
    assert line["normalized"] == "https://paypa1.com/login"
    assert line["unwrapped_from"] == [wrapped]


def test_unwrap_opens_our_own_links_with_the_configured_key(
        monkeypatch: pytest.MonkeyPatch) -> None:
    spec = generate_key_spec("k1")
    token = seal(LinkClaims(url="https://example.org/inner", issued_at=1_800_000_000),
                 KeyRing.parse(spec))
    monkeypatch.setenv("LINKGUARD_LINK_KEYS", spec)
    monkeypatch.setenv("LINKGUARD_BASE_URL", "https://links.example.com")
    proofpoint = ("https://urldefense.com/v3/__https://links.example.com/r/" + token
                  + "__;!!abc!def$")
    result = runner.invoke(app, ["unwrap", proofpoint])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("https://example.org/inner  # proofpoint_v3 > linkguard")
    monkeypatch.delenv("LINKGUARD_LINK_KEYS")
    result = runner.invoke(app, ["unwrap", "https://links.example.com/r/" + token])
    assert "not decodable: linkguard" in result.output


def test_organisation_domains_are_protected(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LINKGUARD_ORG_DOMAINS", "acmewidgets.com,acmewidgets.co.uk")
    monkeypatch.setenv("LINKGUARD_ORG_NAME", "Acme Widgets")
    result = runner.invoke(app, ["check", "--json", "https://acrnewidgets.com/",
                                 "https://acmewidgets-payroll.com/", "https://hr.acmewidgets.com/"])
    homoglyph, combo, own = _json_lines(result.output)
    assert homoglyph["verdict"] == "block"
    assert homoglyph["reasons"][0]["evidence"]["brand"] == "Acme Widgets"  # type: ignore[index]
    assert combo["verdict"] in ("warn", "confirm")
    assert own["verdict"] == "allow"


def test_bad_list_file_in_settings_is_a_clear_error(monkeypatch: pytest.MonkeyPatch,
                                                    tmp_path: Path) -> None:
    bad = tmp_path / "mine.yaml"
    bad.write_text("block:\n  - domain: www.example.com\n")
    monkeypatch.setenv("LINKGUARD_LIST_FILES", str(bad))
    result = runner.invoke(app, ["check", "https://example.com/"])
    assert result.exit_code == 2
    assert f"{bad}:2: domain 'www.example.com'" in result.output


def test_admin_block_list_applies(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    mine = tmp_path / "mine.yaml"
    mine.write_text("version: 1\nblock:\n  - domain: example.com\n    reason: test\n")
    monkeypatch.setenv("LINKGUARD_LIST_FILES", str(mine))
    [line] = _json_lines(runner.invoke(app, ["check", "--json", "https://a.example.com/"]).output)
    assert line["verdict"] == "block"
    assert line["reasons"][0]["code"] == "list.block"  # type: ignore[index]


MESSAGE = (b"From: news@example.org\r\nTo: alice@example.net\r\nSubject: hi\r\n"
           b"MIME-Version: 1.0\r\nContent-Type: text/html; charset=utf-8\r\n\r\n"
           b'<p>Read <a href="https://nam12.safelinks.protection.outlook.com/?url=https%3A%2F%2F'
           b'www.example.org%2Fstory&amp;data=x">the story</a> or write to '
           b'<a href="mailto:news@example.org">us</a>.</p>\r\n')


def test_rewrite_seals_links_once_and_keeps_mail(monkeypatch: pytest.MonkeyPatch,
                                                 tmp_path: Path) -> None:
    spec = generate_key_spec("k1")
    monkeypatch.setenv("LINKGUARD_LINK_KEYS", spec)
    monkeypatch.setenv("LINKGUARD_BASE_URL", "https://links.example.com")
    source = tmp_path / "in.eml"
    source.write_bytes(MESSAGE)
    first = runner.invoke(app, ["rewrite", str(source), "--recipient", "alice@example.net",
                                "--report"])
    assert first.exit_code == 0, first.output
    out = first.stdout_bytes
    assert b'href="https://links.example.com/r/' in out
    assert b"safelinks" not in out  # unwrapped, then wrapped once
    assert b'href="mailto:news@example.org"' in out
    assert b"X-LinkGuard: rewritten=1; skipped=0" in out
    token = out.split(b"https://links.example.com/r/", 1)[1].split(b'"', 1)[0].decode()
    claims = open_token(token, KeyRing.parse(spec))
    assert isinstance(claims, LinkClaims)
    assert claims.url == "https://www.example.org/story"
    assert claims.recipient == "alice@example.net"
    assert claims.display_text == "the story"
    again = tmp_path / "out.eml"
    again.write_bytes(out)
    second = runner.invoke(app, ["rewrite", str(again)])
    assert second.stdout_bytes == out


def test_rewrite_without_keys_refuses(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LINKGUARD_LINK_KEYS", raising=False)
    result = runner.invoke(app, ["rewrite", "-"], input=MESSAGE)
    assert result.exit_code == 2
    assert "LINKGUARD_LINK_KEYS" in result.output


def test_rewrite_passes_garbage_through(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LINKGUARD_LINK_KEYS", generate_key_spec("k1"))
    garbage = b"\x00\xff not a message at all \r\n\r\n\x01"
    result = runner.invoke(app, ["rewrite", "-"], input=garbage)
    assert result.exit_code == 0
    assert result.stdout_bytes.endswith(garbage)
    assert b"passthrough=" in result.stdout_bytes


def test_dev_mode_generates_and_keeps_a_local_key(monkeypatch: pytest.MonkeyPatch,
                                                  tmp_path: Path) -> None:
    monkeypatch.delenv("LINKGUARD_LINK_KEYS", raising=False)
    monkeypatch.setenv("LINKGUARD_DEV_MODE", "true")
    monkeypatch.setenv("LINKGUARD_DATA_DIR", str(tmp_path / "data"))
    first = runner.invoke(app, ["rewrite", "-"], input=MESSAGE)
    assert first.exit_code == 0, first.output
    key_file = tmp_path / "data" / "dev-link-keys"
    assert key_file.stat().st_mode & 0o777 == 0o600
    spec = key_file.read_text().strip()
    second = runner.invoke(app, ["rewrite", "-"], input=MESSAGE)
    assert key_file.read_text().strip() == spec  # kept, not regenerated
    token = second.stdout_bytes.split(b"/r/", 1)[1].split(b'"', 1)[0].decode()
    assert isinstance(open_token(token, KeyRing.parse(spec)), LinkClaims)


@pytest.mark.parametrize("spec", ["k1:changeme", "k1:" + "A" * 43, "nonsense"])
def test_placeholder_or_bad_keys_refuse_to_start(monkeypatch: pytest.MonkeyPatch,
                                                 spec: str) -> None:
    monkeypatch.setenv("LINKGUARD_LINK_KEYS", spec)
    rewrite = runner.invoke(app, ["rewrite", "-"], input=MESSAGE)
    assert rewrite.exit_code == 2
    check = runner.invoke(app, ["check", "https://example.org/"])
    assert check.exit_code == 2
    assert "LINKGUARD_LINK_KEYS" in check.output


def test_do_not_rewrite_file_is_honoured(monkeypatch: pytest.MonkeyPatch,
                                         tmp_path: Path) -> None:
    monkeypatch.setenv("LINKGUARD_LINK_KEYS", generate_key_spec("k1"))
    exempt = tmp_path / "exempt.txt"
    exempt.write_text("# partner portal, scanned by its own gateway\nexample.org\n")
    monkeypatch.setenv("LINKGUARD_DO_NOT_REWRITE_FILES", str(exempt))
    result = runner.invoke(app, ["rewrite", "-"], input=MESSAGE)
    assert b"/r/" not in result.stdout_bytes  # the destination is exempt: left as it came
    assert b"safelinks.protection.outlook.com" in result.stdout_bytes
    assert b"rewritten=0; skipped=1" in result.stdout_bytes


def test_shipped_lists_are_packaged() -> None:
    """``linkguard/data/allowlists`` (what a wheel carries) is the repository's ``allowlists/``."""
    packaged = Path(linkguard.__file__).resolve().parent / "data" / "allowlists"
    repository = Path(__file__).resolve().parent.parent / "allowlists"
    assert packaged.resolve() == repository.resolve()
    assert (packaged / "brands.yaml").is_file()


def test_stdin_lines_that_are_not_utf8_are_results() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "linkguard.cli", "check", "--json", "-"],
        input=b"https://example.org/\nhttps://exa\xffmple.org/\n\xff\xfe\n", capture_output=True,
        check=False, env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent),
                          "LC_ALL": "C"}, timeout=60)
    assert proc.returncode == 0, proc.stderr
    results = _json_lines(proc.stdout.decode("utf-8"))
    assert [r["verdict"] for r in results] == ["allow", "block", "block"]
    assert results[0]["score"] == 0.0
