"""The ``linkguard`` command line."""

from __future__ import annotations

import asyncio
import json
import signal
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
    from linkguard.bootstrap import Storage
    from linkguard.service import Judge
    from linkguard.settings import Settings

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
    from linkguard.settings import Settings

    judge = _judge()
    context = LinkContext(display_text=text, recipient=recipient)
    settings = Settings()
    if not offline and settings.facts_enabled:
        asyncio.run(_check_online(judge, settings, urls, context, as_json=as_json))
        return
    now = datetime.now(UTC)
    out = sys.stdout
    for url in _inputs(urls):
        decision = judge.judge(url, context=context, now=now)
        line = _json_line(url, decision) if as_json else _table_line(url, decision)
        out.write(line + "\n")
        if not as_json or urls == ["-"]:
            out.flush()


ONLINE_WINDOW = 32  # URLs whose facts are gathered at once; results stay in input order


async def _check_online(judge: Judge, settings: Settings, urls: list[str],
                        context: LinkContext, *, as_json: bool) -> None:
    """Each URL with the gateway's outside facts (RDAP domain age, feeds, redirect chains),
    within the same per-URL budget as a click. Feeds come from the local download cache
    (`linkguard feeds update`); nothing here is cached between runs."""
    from linkguard.bootstrap import build_facts
    from linkguard.core.model import OFFLINE

    facts = build_facts(settings, catalog=judge.catalog)

    async def one(url: str) -> Decision:
        decision = judge.judge(url, context=context)
        if decision.url is None or not decision.url.is_http:
            return decision
        found = await facts.gather(decision.url, budget_s=facts.budget_s)
        if found is OFFLINE:
            return decision
        return judge.judge_with_facts(decision, decision.url, found, context=context)

    async def flush(batch: list[str]) -> None:
        for url, decision in zip(batch, await asyncio.gather(*map(one, batch)), strict=True):
            sys.stdout.write((_json_line(url, decision) if as_json
                              else _table_line(url, decision)) + "\n")
        sys.stdout.flush()

    try:
        batch: list[str] = []
        for url in _inputs(urls):
            batch.append(url)
            if len(batch) >= ONLINE_WINDOW:
                await flush(batch)
                batch = []
        if batch:
            await flush(batch)
    finally:
        await facts.aclose()


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
def version(
    verbose: Annotated[bool, typer.Option("--verbose", "-v",
                                          help="List each hot module and how it runs.")] = False,
) -> None:
    """Print the version and whether the per-URL hot paths run compiled."""
    import linkguard
    from linkguard import native

    typer.echo(f"linkguard {linkguard.__version__}: {native.summary()}")
    if verbose:
        for name, compiled in native.compiled_modules().items():
            typer.echo(f"  {'compiled' if compiled else 'python  '}  {name}")


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Address to listen on (default: "
                                                  "LINKGUARD_HOST, 127.0.0.1).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default: LINKGUARD_PORT, 8080).")]
    = None,
    access_log: Annotated[bool, typer.Option(help="Log every HTTP request (the click log "
                                                  "records clicks either way).")] = False,
) -> None:
    """Run the click-time gateway (one process; run several behind a load balancer to scale)."""
    import uvicorn

    from linkguard.bootstrap import build_app
    from linkguard.core.tokens import KeyConfigError
    from linkguard.settings import Settings

    try:
        settings = Settings()
        application = build_app(settings)
    except (ValueError, KeyConfigError, ListFileError) as exc:
        raise _fail(str(exc)) from None
    trusted = ",".join(settings.trusted_proxies)
    from linkguard import native

    typer.echo(f"linkguard: hot paths {native.summary()}", err=True)
    # uvicorn drains on SIGTERM, then raises the signal again so the default action ends the
    # process (status 143). A stop asked for and carried out is a success: exit 0 instead, so
    # orchestrators and init systems do not record every rollout as a failure.
    signal.signal(signal.SIGTERM, _stopped_cleanly)
    uvicorn.run(application, host=host or settings.host, port=port or settings.port,
                proxy_headers=bool(trusted), forwarded_allow_ips=trusted or None,
                access_log=access_log, server_header=False, timeout_graceful_shutdown=10,
                log_level="info")


def _stopped_cleanly(signum: int, frame: object) -> None:
    del signum, frame
    raise SystemExit(0)


# --- facts from outside (RDAP, feeds, redirects) ------------------------------------------

rdap_app = typer.Typer(no_args_is_help=True, help="Domain age over RDAP.")
app.add_typer(rdap_app, name="rdap")
feeds_app = typer.Typer(no_args_is_help=True, help="Reputation feeds.")
app.add_typer(feeds_app, name="feeds")


@rdap_app.command("update-bootstrap")
def rdap_update_bootstrap(
    url: Annotated[str | None, typer.Option(help="Where to download dns.json (default: "
                                                 "LINKGUARD_RDAP_BOOTSTRAP_URL, IANA's).")]
    = None,
    output: Annotated[Path | None, typer.Option(help="Where to write it (default: "
                                                     "$LINKGUARD_DATA_DIR/rdap/dns.json).")]
    = None,
) -> None:
    """Download the IANA RDAP bootstrap registry for DNS (RFC 9224), check it, install it."""
    import os

    import httpx

    from linkguard.adapters.rdap import MAX_BOOTSTRAP_BYTES, BootstrapError, RdapBootstrap
    from linkguard.settings import Settings

    settings = Settings()
    source = url or settings.rdap_bootstrap_url
    target = output or settings.data_dir / "rdap" / "dns.json"
    try:
        with httpx.Client(timeout=httpx.Timeout(30.0, connect=10.0), follow_redirects=True,
                          max_redirects=5) as client, client.stream("GET", source) as response:
            if response.status_code != 200:
                raise _fail(f"{source} answered HTTP {response.status_code}", 1)
            data = b""
            for chunk in response.iter_bytes():
                data += chunk
                if len(data) > MAX_BOOTSTRAP_BYTES:
                    raise _fail(f"{source}: more than {MAX_BOOTSTRAP_BYTES} bytes", 1)
    except httpx.HTTPError as exc:
        raise _fail(f"cannot download {source}: {exc}", 1) from None
    try:
        bootstrap = RdapBootstrap.parse(data, source)
    except BootstrapError as exc:
        raise _fail(str(exc), 1) from None
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".part")
    partial.write_bytes(data)
    os.replace(partial, target)
    typer.echo(f"ok: {len(bootstrap.servers)} TLDs, published {bootstrap.publication or '?'}, "
               f"written to {target}")


@rdap_app.command("age")
def rdap_age(domains: Annotated[list[str], typer.Argument(help="Registrable domains.")]) -> None:
    """Look up domains' registration dates over RDAP (as the gateway would, without cache)."""
    import asyncio

    from linkguard.adapters.rdap import BootstrapError, RdapBootstrap, RdapClient, RdapTimeouts
    from linkguard.bootstrap import rdap_bootstrap_path
    from linkguard.settings import Settings

    settings = Settings()
    try:
        bootstrap = RdapBootstrap.load(rdap_bootstrap_path(settings))
    except BootstrapError as exc:
        raise _fail(str(exc)) from None
    client = RdapClient(bootstrap, limits=RdapTimeouts(read_s=settings.rdap_timeout_s))

    async def lookups() -> None:
        now = datetime.now(UTC)
        for domain in domains:
            age = await client.domain_age(domain.strip().lower().rstrip("."), now)
            if age.registered_missing:
                typer.echo(f"{domain}: not registered")
            elif age.age_days is not None:
                when = age.registered.date().isoformat() if age.registered else "?"
                typer.echo(f"{domain}: registered {when}, {age.age_days} days old")
            else:
                typer.echo(f"{domain}: unknown ({age.detail})")
        await client.aclose()

    asyncio.run(lookups())


@feeds_app.command("update")
def feeds_update() -> None:
    """Download the configured feeds (LINKGUARD_FEED_SOURCES) into the cache and report.

    Run it from cron or a systemd timer; a gateway with LINKGUARD_FEED_REFRESH_S > 0 also
    refreshes by itself. Exit status 1 when a source failed (its previous copy stays)."""
    import asyncio

    from linkguard.adapters.feeds import FeedStore, parse_feed_sources
    from linkguard.settings import Settings

    settings = Settings()
    try:
        sources = parse_feed_sources(settings.feed_sources)
    except ValueError as exc:
        raise _fail(f"LINKGUARD_FEED_SOURCES: {exc}") from None
    if not sources:
        raise _fail("no feeds configured: set LINKGUARD_FEED_SOURCES (kind:location, comma "
                    "separated)", 1)
    store = FeedStore(sources, cache_dir=settings.data_dir / "feeds")
    failed = False
    for report in asyncio.run(store.refresh()):
        failed |= bool(report.error)
        status = f"error: {report.error}" if report.error else "ok"
        typer.echo(f"{report.source:<10} {report.entries:>8} entries  {report.skipped:>6} "
                   f"skipped  {status}")
    typer.echo(f"index: {len(store.index)} URLs, {len(store.index.hosts)} whole hosts")
    if failed:
        raise typer.Exit(1)


# --- mail (SMTP filter and milter)

if TYPE_CHECKING:
    from linkguard.bootstrap import MailSetup


def _mail_setup() -> MailSetup:
    from linkguard.bootstrap import build_mail
    from linkguard.core.tokens import KeyConfigError

    try:
        return build_mail()
    except KeyConfigError as exc:
        raise _fail(f"LINKGUARD_LINK_KEYS: {exc}") from None
    except (ValueError, ListFileError) as exc:
        raise _fail(str(exc)) from None


def _log_to_stderr(verbose: bool) -> None:
    import logging

    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")


@app.command("smtp-filter")
def smtp_filter(
    listen: Annotated[str | None, typer.Option(help="host:port to listen on (default: "
                                                    "LINKGUARD_MAIL_LISTEN).")] = None,
    reinject: Annotated[str | None, typer.Option(help="host:port to hand mail back to "
                                                      "(default: LINKGUARD_MAIL_REINJECT).")]
    = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
) -> None:
    """Run the SMTP content filter for Postfix's content_filter (README: Mail integration).

    Answers 4xx (Postfix keeps the mail and retries) on any failure of its own; on SIGTERM it
    stops listening and finishes the messages in flight before exiting.
    """
    import asyncio

    from linkguard.adapters.smtp_filter import (
        FilterHandler,
        FilterServer,
        Reinjector,
        parse_hostport,
        serve,
    )

    setup = _mail_setup()
    try:
        host, port = parse_hostport(listen or setup.listen)
        back_host, back_port = parse_hostport(reinject or setup.reinject)
    except ValueError as exc:
        raise _fail(str(exc)) from None
    _log_to_stderr(verbose)
    reinjector = Reinjector(back_host, back_port, timeout=setup.reinject_timeout)
    handler = FilterHandler(setup.policy, setup.contexts, reinjector.send, setup.prefetch)
    server = FilterServer(handler, host, port)

    def ready(started: FilterServer) -> None:
        typer.echo(f"linkguard: smtp-filter listening on {started.host}:{started.port}, "
                   f"re-injecting to {back_host}:{back_port}", err=True)

    try:
        left = asyncio.run(serve(server, setup.shutdown_grace, ready))
    except OSError as exc:
        raise _fail(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    finally:
        if setup.close is not None:
            setup.close()
    if left:
        raise _fail(f"{left} message(s) still in flight at exit (Postfix retries them)", 75)


@app.command()
def milter(
    socket: Annotated[str | None, typer.Option(help="libmilter socket, inet:PORT@HOST or "
                                                    "unix:PATH (default: "
                                                    "LINKGUARD_MILTER_SOCKET).")] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
) -> None:
    """Run the milter for Postfix's smtpd_milters (README: Mail integration).

    Answers TEMPFAIL on any failure of its own; on SIGTERM it stops listening and lets the
    messages in flight finish before exiting.
    """
    from linkguard.adapters.milter import run

    setup = _mail_setup()
    _log_to_stderr(verbose)
    where = socket or setup.milter_socket

    def ready() -> None:
        typer.echo(f"linkguard: milter listening on {where}", err=True)

    try:
        left = run(setup.policy, setup.contexts, socket=where, max_bytes=setup.max_bytes,
                   grace=setup.shutdown_grace, ready=ready, prefetch=setup.prefetch)
    finally:
        if setup.close is not None:
            setup.close()
    if left:
        raise _fail(f"{left} message(s) still in flight at exit (the sender retries them)", 75)




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


@db_app.command("prune-clicks")
def db_prune_clicks(
    older_than_days: Annotated[int | None, typer.Option(
        min=1, help="Delete clicks older than this (default: LINKGUARD_CLICK_RETENTION_DAYS).")]
    = None,
) -> None:
    """Delete old clicks now (the gateway also does it every hour)."""
    from datetime import UTC, datetime, timedelta

    from linkguard.adapters.sql import SqlClickLog
    from linkguard.settings import Settings

    days = older_than_days or Settings().click_retention_days
    if not days:
        raise _fail("LINKGUARD_CLICK_RETENTION_DAYS is 0 (keep forever): pass --older-than-days")
    cutoff = datetime.now(UTC) - timedelta(days=days)
    with _storage() as storage:
        deleted = SqlClickLog(storage.engine).prune(cutoff)
    typer.echo(f"deleted {deleted} clicks older than {cutoff:%Y-%m-%d %H:%M} UTC")


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
    from linkguard.adapters.sql.lists import export_json
    from linkguard.core.lists import export_list_file
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
        typer.echo(export_list_file(s.entry for s in entries), nl=False)


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


access_app = typer.Typer(no_args_is_help=True,
                         help="Access requests: people asking for blocked links.")
app.add_typer(access_app, name="access")


@access_app.command("list")
def access_list(
    status: Annotated[str, typer.Option(help="pending, approved, denied or all.")] = "pending",
) -> None:
    """List access requests, newest first."""
    from linkguard.adapters.sql import SqlAccessRequests
    from linkguard.ports import AccessStatus

    if status not in ("pending", "approved", "denied", "all"):
        raise _fail(f"--status must be pending, approved, denied or all, not {status!r}")
    with _storage() as storage:
        page = SqlAccessRequests(storage.engine).search(
            status=None if status == "all" else AccessStatus(status), limit=1000)
    for found in page.items:
        new = found.request
        typer.echo(f"{found.id:>5}  {found.created:%Y-%m-%d %H:%M}  {found.status:<8}  "
                   f"{new.requester}  {new.destination}")
        typer.echo(f"       reason: {new.justification!r}")
        if found.decided is not None:
            typer.echo(f"       decided {found.decided:%Y-%m-%d %H:%M} by {found.decided_by}"
                       + (f", until {found.expires:%Y-%m-%d %H:%M}" if found.expires else "")
                       + (f": {found.note!r}" if found.note else ""))


def _decide(request_id: int, *, approve: bool, note: str, hours: int | None) -> None:
    from datetime import UTC, datetime, timedelta

    from linkguard.adapters.sql import SqlAccessRequests
    from linkguard.ports import AlreadyDecidedError, EntryNotFoundError
    from linkguard.settings import Settings

    settings = Settings()
    expires = datetime.now(UTC) + timedelta(
        hours=hours or settings.access_approval_hours) if approve else None
    try:
        with _storage() as storage:
            found = SqlAccessRequests(storage.engine).decide(
                request_id, approve=approve, actor=_actor(), note=note.strip(), expires=expires)
    except (EntryNotFoundError, AlreadyDecidedError) as exc:
        raise _fail(str(exc), 1) from None
    verb = "approved" if approve else "denied"
    until = f" until {found.expires:%Y-%m-%d %H:%M} UTC" if found.expires else ""
    typer.echo(f"{verb} request {found.id} of {found.request.requester}{until}")


@access_app.command("approve")
def access_approve(
    request_id: Annotated[int, typer.Argument(help="The request's id.")],
    note: Annotated[str, typer.Option(help="For the audit log.")] = "",
    hours: Annotated[int | None, typer.Option(
        min=1, max=24 * 90, help="How long the link opens (default: the setting).")] = None,
) -> None:
    """Approve: the person's link opens for them until the approval runs out."""
    _decide(request_id, approve=True, note=note, hours=hours)


@access_app.command("deny")
def access_deny(
    request_id: Annotated[int, typer.Argument(help="The request's id.")],
    note: Annotated[str, typer.Option(help="Shown to the person on their next click.")] = "",
) -> None:
    """Deny: the person sees the note on their next click."""
    _decide(request_id, approve=False, note=note, hours=None)


def main() -> None:
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
