"""The ``linkguard`` command line."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from linkguard.core.listfile import ListFileError
from linkguard.core.model import Decision, LinkContext
from linkguard.core.reasons import REASONS

if TYPE_CHECKING:
    from linkguard.bootstrap import Judge, Storage

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="linkguard: rewrite links in mail and judge them at click time.")
lists_app = typer.Typer(no_args_is_help=True, help="Admin allow/block lists.")
app.add_typer(lists_app, name="lists")
keys_app = typer.Typer(no_args_is_help=True, help="Link-sealing keys.")
app.add_typer(keys_app, name="keys")


def _fail(message: str, code: int = 2) -> typer.Exit:
    typer.echo(f"linkguard: {message}", err=True)
    return typer.Exit(code)


def _judge() -> Judge:
    from linkguard.bootstrap import build_judge
    from linkguard.core.tokens import KeyConfigError

    try:
        return build_judge()
    except ListFileError as exc:
        raise _fail(f"cannot load lists:\n{exc}") from None
    except KeyConfigError as exc:
        raise _fail(f"LINKGUARD_LINK_KEYS: {exc}") from None


@app.command()
def check(
    urls: Annotated[list[str], typer.Argument(help="URLs to judge; '-' reads one per line "
                                                   "from standard input.")],
    text: Annotated[str | None, typer.Option("--text", help="The link's display text.")] = None,
    recipient: Annotated[str | None, typer.Option(help="The recipient the link was sent to.")]
    = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
    offline: Annotated[bool, typer.Option("--offline", help="Consult nothing outside this "
                                                            "process (no domain age).")] = False,
) -> None:
    """Judge URLs: verdict (allow, warn, confirm, block), score and reasons.

    Exit status is 0 whatever the verdicts; a malformed URL is a result, not an error.
    """
    del offline  # no outside facts are consulted yet: every run is offline
    judge = _judge()
    context = LinkContext(display_text=text, recipient=recipient)
    now = datetime.now(UTC)
    out = sys.stdout
    for url in _inputs(urls):
        decision = judge.judge(url, context=context, now=now)
        line = _json_line(url, decision) if as_json else _table_line(url, decision)
        out.write(line + "\n")
        if not as_json or urls == ["-"]:
            out.flush()


def _inputs(urls: Iterable[str]) -> Iterator[str]:
    for url in urls:
        if url == "-":
            # Bytes in, decoded leniently: a line that is not UTF-8 becomes a result line with
            # the reason url.invalid (U+FFFD cannot be in a host), never a crash mid-stream.
            for raw in sys.stdin.buffer:
                stripped = raw.decode("utf-8", "replace").rstrip("\r\n")
                if stripped.strip():
                    yield stripped
        else:
            yield url


def _json_line(url: str, decision: Decision) -> str:
    body = decision.as_dict()
    body["url"] = url
    if decision.url is not None and decision.url.href != url:
        body["normalized"] = decision.url.href
    return json.dumps(body, ensure_ascii=False)


def _table_line(url: str, decision: Decision) -> str:
    codes = ", ".join(r.code for r in decision.reasons[:4]) or "-"
    return f"{decision.verdict!s:<8} {decision.score:>5.1f}  {url}  [{codes}]"


@app.command()
def reasons(
    markdown: Annotated[bool, typer.Option("--markdown", help="As docs/reasons.md.")] = False,
) -> None:
    """Print the reason-code vocabulary (stable codes and what they mean)."""
    from linkguard.core.policy import DEFAULT_THRESHOLDS, DEFAULT_WEIGHTS

    if not markdown:
        for code, message in REASONS.items():
            typer.echo(f"{code:<28} {message}")
        return
    t = DEFAULT_THRESHOLDS
    typer.echo(
        "# Reason codes\n\n"
        "Every verdict carries reasons `{code, message, evidence}`. The codes below are a stable\n"
        "vocabulary: a released code keeps its meaning; new codes may be added. `linkguard\n"
        "reasons` prints the same table (`--markdown` writes this file). The default weight is\n"
        "what one full-strength signal adds to the score (thresholds: warn "
        f"{t['warn']:g}, confirm {t['confirm']:g},\nblock {t['block']:g}; see "
        "`linkguard/core/policy.py`).\n\n| code | default weight | meaning |\n|---|---:|---|")
    for code, message in REASONS.items():
        typer.echo(f"| `{code}` | {DEFAULT_WEIGHTS[code]:g} | {message} |")


@keys_app.command("new")
def keys_new(kid: Annotated[str, typer.Option(help="Key id (1-8 of a-z, 0-9).")] = "k1") -> None:
    """Print a fresh link-sealing key as 'kid:key', for LINKGUARD_LINK_KEYS (newest first)."""
    from linkguard.core.tokens import KeyConfigError, generate_key_spec

    try:
        typer.echo(generate_key_spec(kid))
    except KeyConfigError as exc:
        raise _fail(str(exc)) from None


@app.command("unwrap")
def unwrap_command(urls: Annotated[list[str], typer.Argument(help="Wrapped links.")]) -> None:
    """Print the innermost URL of each link (Safe Links, Proofpoint, Barracuda, Google …;
    our own links too, when LINKGUARD_LINK_KEYS is set)."""
    from linkguard.core.unwrap import unwrap

    own = _judge().own_links
    for url in urls:
        result = unwrap(url, own=own)
        note = f"  # {' > '.join(result.layers)}" if result.layers else ""
        if result.undecodable:
            note += f"  # not decodable: {result.undecodable}"
        typer.echo(result.url + note)


@app.command()
def rewrite(
    source: Annotated[str, typer.Argument(help="The message (.eml); '-' or nothing: stdin.")]
    = "-",
    recipient: Annotated[str | None, typer.Option(help="The envelope recipient.")] = None,
    base_url: Annotated[str | None, typer.Option(help="Gateway base URL (default: "
                                                      "LINKGUARD_BASE_URL).")] = None,
    report: Annotated[bool, typer.Option("--report", help="Print the report as JSON on "
                                                          "standard error.")] = False,
) -> None:
    """Rewrite every clickable link of a message to a sealed gateway link; write it to stdout.

    Never loses mail: a message that cannot be read passes through unchanged with the reason
    in its X-LinkGuard header. Exit status 75 (temporary failure) on an internal error.
    """
    import time

    from linkguard.bootstrap import build_sealer
    from linkguard.rewriter import RewriteContext, rewrite_message

    raw = sys.stdin.buffer.read() if source == "-" else _read_bytes(Path(source))
    try:
        sealer = build_sealer(base_url=base_url, recipient=recipient,
                              issued_at=int(time.time()))
    except ValueError as exc:
        raise _fail(str(exc)) from None
    out, result = rewrite_message(raw, RewriteContext(sealer=sealer, is_sealed=sealer.is_sealed))
    sys.stdout.buffer.write(out)
    sys.stdout.buffer.flush()
    if report:
        body = {"header": result.header, "rewritten": result.rewritten,
                "skipped": result.skipped, "too_long": sealer.too_long,
                "passthrough": str(result.passthrough) if result.passthrough else None,
                "forms": result.forms}
        typer.echo(json.dumps(body), err=True)
    if result.passthrough is not None and str(result.passthrough) == "internal.error":
        raise typer.Exit(75)


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise _fail(f"cannot read {path}: {exc.strerror}") from None


@lists_app.command("validate")
def lists_validate(files: Annotated[list[Path], typer.Argument(help="List files (YAML).")]) -> None:
    """Check list files; print problems as file:line: message and exit 1 if there are any."""
    from linkguard.adapters.catalog_files import load_list_entries

    try:
        entries = load_list_entries(files)
    except ListFileError as exc:
        for problem in exc.problems:
            typer.echo(str(problem), err=True)
        raise typer.Exit(1) from None
    typer.echo(f"ok: {len(entries)} entries in {len(files)} file(s)")


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8080,
) -> None:
    """Run the gateway. (Until the gateway lands this only validates the configuration.)"""
    judge = _judge()
    typer.echo(f"linkguard: configuration ok ({len(judge.checks)} checks, "
               f"{len(judge.catalog.brands)} protected brands). The click gateway is not part "
               f"of this release yet; nothing listens on {host}:{port}.")




# --- storage: database, list sync/export, API keys -----------------------------------------
db_app = typer.Typer(no_args_is_help=True, help="The SQL database (LINKGUARD_DATABASE_URL).")
app.add_typer(db_app, name="db")
apikeys_app = typer.Typer(no_args_is_help=True, help="API keys for the verdict and admin API.")
app.add_typer(apikeys_app, name="apikeys")


def _actor() -> str:
    import getpass

    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


@contextmanager
def _storage(*, upgrade: bool | None = None) -> Iterator[Storage]:
    """The configured database (and Redis), closed afterwards. An unreachable database is one
    clear line and exit status 1, not a traceback."""
    from linkguard.adapters.sql.engine import normalise_url
    from linkguard.bootstrap import Storage, build_engine, build_redis, database_url
    from linkguard.ports import StoreUnavailableError
    from linkguard.settings import Settings

    settings = Settings()
    try:
        normalise_url(database_url(settings))
    except ValueError as exc:
        raise _fail(f"LINKGUARD_DATABASE_URL: {exc}") from None
    storage: Storage | None = None
    try:
        storage = Storage(build_engine(settings, upgrade=upgrade), build_redis(settings))
        yield storage
    except StoreUnavailableError as exc:
        raise _fail(str(exc), 1) from None
    finally:
        if storage is not None:
            storage.close()


@db_app.command("upgrade")
def db_upgrade(revision: Annotated[str, typer.Argument(help="Target revision.")] = "head",
               ) -> None:
    """Bring the schema up to REVISION (default: the newest)."""
    from linkguard.adapters.sql import migrate

    with _storage(upgrade=False) as storage:
        migrate.upgrade(storage.engine, revision)
        typer.echo(f"database at revision {migrate.current_revision(storage.engine)}")


@db_app.command("downgrade")
def db_downgrade(revision: Annotated[str, typer.Argument(help="Target revision ('base': "
                                                              "drop everything).")] = "-1",
                 ) -> None:
    """Take the schema back to REVISION (default: one step)."""
    from linkguard.adapters.sql import migrate

    with _storage(upgrade=False) as storage:
        migrate.downgrade(storage.engine, revision)
        typer.echo(f"database at revision {migrate.current_revision(storage.engine) or 'base'}")


@lists_app.command("sync")
def lists_sync(
    paths: Annotated[list[Path], typer.Argument(help="Directories (their *.yaml / *.yml list "
                                                     "files) or list files.")],
    allow_empty: Annotated[bool, typer.Option(help="Sync even when no list file is found "
                                                   "(removes every file entry).")] = False,
) -> None:
    """Make the database's file-managed entries exactly those in the files (idempotent).

    Entries made through the API are kept apart and never touched. Any problem in any file
    stops the sync before anything changes.
    """
    from dataclasses import replace

    from linkguard.adapters.catalog_files import load_list_entries
    from linkguard.bootstrap import build_list_store
    from linkguard.settings import Settings

    files, skipped = _list_files(paths)
    for path, why in skipped:
        typer.echo(f"skipped {path}: {why}", err=True)
    if not files and not allow_empty:
        raise _fail("no list files found (files with 'allow:' or 'block:'); nothing synced. "
                    "--allow-empty removes every file entry", 1)
    try:
        entries = load_list_entries(files)
    except ListFileError as exc:
        for problem in exc.problems:
            typer.echo(str(problem), err=True)
        raise _fail("nothing synced", 1) from None
    # Stored sources name files relative to the folder synced ("allow.yaml:12"), so syncing
    # the same folder from another checkout or working directory is not a change.
    shown = {str(path): name for path, name in files.items()}
    entries = [replace(e, source=shown[file] + ":" + line)
               for e in entries for file, _, line in [e.source.rpartition(":")]]
    with _storage() as storage:  # with Redis, replicas reload at once, not at their next poll
        result = build_list_store(Settings(), storage).sync(entries, actor=_actor())
    typer.echo(f"added {result.added}, updated {result.updated}, removed {result.removed}, "
               f"unchanged {result.unchanged} (list version {result.version})")


def _list_files(paths: Iterable[Path]) -> tuple[dict[Path, str], list[tuple[Path, str]]]:
    """Allow/block files among ``paths`` with the names to store them under: files given by
    name always count; in directories, YAML files whose top level has ``allow:`` or ``block:``
    (brands.yaml and other data files beside them are skipped and named)."""
    import yaml

    files: dict[Path, str] = {}
    skipped: list[tuple[Path, str]] = []
    for path in paths:
        if not path.is_dir():
            files[path] = path.name
            continue
        for candidate in sorted([*path.glob("*.yaml"), *path.glob("*.yml")]):
            try:
                top = yaml.safe_load(candidate.read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError, yaml.YAMLError):
                files[candidate] = candidate.name  # the list parser reports it, file:line
                continue
            if isinstance(top, dict) and ("allow" in top or "block" in top):
                files[candidate] = candidate.name
            else:
                skipped.append((candidate, "not an allow/block list file"))
    return files, skipped


@lists_app.command("export")
def lists_export(
    fmt: Annotated[str, typer.Option("--format", help="yaml (the list-file format) or json.")]
    = "yaml",
    origin: Annotated[str, typer.Option(help="file, api or all.")] = "all",
) -> None:
    """Print the list entries in the database."""
    from linkguard.adapters.sql import SqlListStore
    from linkguard.adapters.sql.lists import export_json, export_yaml
    from linkguard.ports import ListSource

    if fmt not in ("yaml", "json"):
        raise _fail(f"--format must be yaml or json, not {fmt!r}")
    if origin not in ("file", "api", "all"):
        raise _fail(f"--origin must be file, api or all, not {origin!r}")
    with _storage() as storage:
        entries = SqlListStore(storage.engine).entries(
            origin=None if origin == "all" else ListSource(origin))
    if fmt == "json":
        typer.echo(json.dumps(export_json(entries), indent=2, ensure_ascii=False))
    else:
        typer.echo(export_yaml(entries), nl=False)


@apikeys_app.command("create")
def apikeys_create(
    name: Annotated[str, typer.Argument(help="Who or what uses the key.")],
    scope: Annotated[list[str], typer.Option("--scope", help="verdict, admin:read or "
                                                             "admin:write (repeatable).")],
) -> None:
    """Create an API key and print its secret (shown only this once)."""
    from linkguard.adapters.sql import SqlApiKeyStore
    from linkguard.adapters.sql.apikeys import parse_scopes

    try:
        scopes = parse_scopes(scope)
        with _storage() as storage:
            key, secret = SqlApiKeyStore(storage.engine).create(name, scopes, actor=_actor())
    except ValueError as exc:
        raise _fail(str(exc)) from None
    typer.echo(f"key {key.id} ({key.name}; {' '.join(sorted(key.scopes))}). "
               "Store the secret now, it is not shown again:", err=True)
    typer.echo(secret)


@apikeys_app.command("list")
def apikeys_list() -> None:
    """List API keys (never their secrets)."""
    from linkguard.adapters.sql import SqlApiKeyStore

    with _storage() as storage:
        keys = SqlApiKeyStore(storage.engine).list()
    for key in keys:
        state = f"revoked {key.revoked:%Y-%m-%d}" if key.revoked else "active"
        used = f"{key.last_used:%Y-%m-%d %H:%M}" if key.last_used else "never"
        typer.echo(f"{key.id:>4}  {key.prefix}…  {key.name:<24} {' '.join(sorted(key.scopes)):<32}"
                   f" {state}, last used {used}")


@apikeys_app.command("revoke")
def apikeys_revoke(key_id: Annotated[int, typer.Argument(help="The key's id.")]) -> None:
    """Revoke an API key: it stops working at once on every replica."""
    from linkguard.adapters.sql import SqlApiKeyStore
    from linkguard.ports import EntryNotFoundError

    try:
        with _storage() as storage:
            key = SqlApiKeyStore(storage.engine).revoke(key_id, actor=_actor())
    except EntryNotFoundError as exc:
        raise _fail(str(exc), 1) from None
    typer.echo(f"revoked key {key.id} ({key.name})")


def main() -> None:
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
