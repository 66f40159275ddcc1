"""``/v1/admin``: scopes, validation, list entries, import/export, keys, clicks, hunt, audit."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import yaml

from linkguard.core.lists import parse_list_file
from linkguard.ports import ClickAction, ClickEvent, ClickKind
from tests.web.conftest import BLOCKED, Gw, GwFactory

pytestmark = pytest.mark.anyio

VERDICT_SECRET = "v" * 32
READER_SECRET = "r" * 32
WRITER_SECRET = "w" * 32
KEYS = (f"ci:{VERDICT_SECRET},reader:{READER_SECRET}:admin:read,"
        f"writer:{WRITER_SECRET}:admin:read+admin:write")
VERDICT = {"authorization": f"Bearer {VERDICT_SECRET}"}
READER = {"authorization": f"Bearer {READER_SECRET}"}
WRITER = {"authorization": f"Bearer {WRITER_SECRET}"}
T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)  # a Monday


@pytest.fixture
async def admin_gw(gw_factory: GwFactory) -> Gw:
    return await gw_factory(api_keys=KEYS)


def entry(value: str, action: str = "block", kind: str = "domain", **more: Any) -> dict[str, Any]:
    return {"action": action, "kind": kind, "value": value, **more}


async def add(gw: Gw, body: dict[str, Any]) -> dict[str, Any]:
    response = await gw.client.post("/v1/admin/lists", json=body, headers=WRITER)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


def locs(response: Any) -> list[list[Any]]:
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["error"] == "invalid_request"
    return [item["loc"] for item in body["detail"]]


# --- auth and scopes ------------------------------------------------------------------------


@pytest.mark.parametrize(("method", "path"), [
    ("GET", "/v1/admin/lists"), ("POST", "/v1/admin/lists"), ("GET", "/v1/admin/clicks"),
    ("GET", "/v1/admin/api-keys"), ("DELETE", "/v1/admin/api-keys/1"),
    ("GET", "/v1/admin/audit"), ("GET", "/v1/admin/policy"),
    ("POST", "/v1/admin/lists/import"), ("GET", "/v1/admin/lists/export"),
])
async def test_no_key_or_an_unknown_key_is_401(admin_gw: Gw, method: str, path: str) -> None:
    for headers in ({}, {"authorization": "Bearer " + "x" * 32}, {"authorization": "Basic x"}):
        response = await admin_gw.client.request(method, path, headers=headers)
        assert response.status_code == 401
        assert response.json()["error"] == "unauthorized"
        assert response.headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize(("method", "path", "headers", "needed"), [
    ("GET", "/v1/admin/lists", VERDICT, "admin:read"),
    ("GET", "/v1/admin/clicks/hunt?domain=a.com&since=2026-01-01", VERDICT, "admin:read"),
    ("POST", "/v1/admin/lists", READER, "admin:write"),
    ("PATCH", "/v1/admin/lists/1", READER, "admin:write"),
    ("DELETE", "/v1/admin/lists/1", READER, "admin:write"),
    ("POST", "/v1/admin/lists/import", READER, "admin:write"),
    ("POST", "/v1/admin/api-keys", READER, "admin:write"),
])
async def test_a_key_without_the_scope_is_403(admin_gw: Gw, method: str, path: str,
                                              headers: dict[str, str], needed: str) -> None:
    response = await admin_gw.client.request(method, path, headers=headers, json={})
    assert response.status_code == 403
    assert response.json() == {"error": "forbidden",
                               "detail": f"this API key lacks the {needed!r} scope"}


async def test_an_admin_key_is_not_a_verdict_key(admin_gw: Gw) -> None:
    response = await admin_gw.client.post("/v1/verdicts", json={"url": BLOCKED}, headers=WRITER)
    assert response.status_code == 403


# --- validation -----------------------------------------------------------------------------


@pytest.mark.parametrize(("body", "expected"), [
    ({"kind": "domain", "value": "a.com"}, [["body", "action"]]),
    (entry("a.com", action="maybe"), [["body", "action"]]),
    (entry("a.com", kind="regex"), [["body", "kind"]]),
    (entry("https://a.com/x"), [["body", "value"]]),
    (entry("login.a.com"), [["body", "value"]]),  # not a registrable domain: use host
    (entry("co.uk"), [["body", "value"]]),  # a public suffix
    (entry("ftp://a.com/", kind="url_prefix"), [["body", "value"]]),
    (entry(""), [["body", "value"]]),
    (entry("a.com", expires="next week"), [["body", "expires"]]),
    (entry("a.com", colour="red"), [["body", "colour"]]),
    (entry("a.com", reason="x" * 1001), [["body", "reason"]]),
])
async def test_invalid_entries_are_422_with_field_paths(
        admin_gw: Gw, body: dict[str, Any], expected: list[list[Any]]) -> None:
    response = await admin_gw.client.post("/v1/admin/lists", json=body, headers=WRITER)
    assert locs(response) == expected


@pytest.mark.parametrize(("query", "expected"), [
    ("since=yesterday", [["query", "since"]]),
    ("verdict=maybe", [["query", "verdict"]]),
    ("kind=robot", [["query", "kind"]]),
    ("limit=0", [["query", "limit"]]),
    ("limit=1001", [["query", "limit"]]),
    ("cursor=not-a-cursor", [["query", "cursor"]]),
    ("registrable_domain=com", [["query", "registrable_domain"]]),
])
async def test_invalid_click_searches_are_422(admin_gw: Gw, query: str,
                                              expected: list[list[Any]]) -> None:
    response = await admin_gw.client.get(f"/v1/admin/clicks?{query}", headers=READER)
    assert locs(response) == expected


async def test_hunt_needs_a_domain_and_a_time(admin_gw: Gw) -> None:
    response = await admin_gw.client.get("/v1/admin/clicks/hunt", headers=READER)
    assert sorted(locs(response)) == [["query", "domain"], ["query", "since"]]


# --- list entries ---------------------------------------------------------------------------


async def test_crud_round_trip(admin_gw: Gw) -> None:
    client = admin_gw.client
    created = await add(admin_gw, entry("Evil-Corp.NET", reason="incident 7",
                                        owner="soc@corp.test", expires="2027-01-31T00:00:00"))
    assert created["value"] == "evil-corp.net"  # normalised as list files are
    assert created["origin"] == "api"
    assert created["source"] == "api"
    assert created["expires"] == "2027-01-31T00:00:00Z"
    entry_id = created["id"]

    got = await client.get(f"/v1/admin/lists/{entry_id}", headers=READER)
    assert got.json() == created

    put = await client.put(f"/v1/admin/lists/{entry_id}", headers=WRITER,
                           json=entry("login.evil-corp.net", kind="host"))
    assert put.status_code == 200
    assert (put.json()["kind"], put.json()["reason"], put.json()["expires"]) == (
        "host", "", None)

    patched = await client.patch(f"/v1/admin/lists/{entry_id}", headers=WRITER,
                                 json={"reason": "incident 8"})
    assert patched.status_code == 200
    assert (patched.json()["value"], patched.json()["reason"]) == (
        "login.evil-corp.net", "incident 8")
    bad_patch = await client.patch(f"/v1/admin/lists/{entry_id}", headers=WRITER,
                                   json={"kind": "domain"})  # a host value is no domain
    assert locs(bad_patch) == [["body", "value"]]

    listed = await client.get("/v1/admin/lists?search=incident%208", headers=READER)
    assert [e["id"] for e in listed.json()["items"]] == [entry_id]

    deleted = await client.delete(f"/v1/admin/lists/{entry_id}", headers=WRITER)
    assert deleted.status_code == 200
    assert deleted.json()["reason"] == "incident 8"
    for method in ("GET", "PUT", "PATCH", "DELETE"):
        gone = await client.request(method, f"/v1/admin/lists/{entry_id}", headers=WRITER,
                                    json=entry("a.com") if method == "PUT" else {})
        assert gone.status_code == 404, method
        assert gone.json()["error"] == "not_found"


async def test_duplicates_are_409(admin_gw: Gw) -> None:
    first = await add(admin_gw, entry("dupe.net"))
    again = await admin_gw.client.post("/v1/admin/lists", json=entry("DUPE.net"),
                                       headers=WRITER)
    assert again.status_code == 409
    assert again.json()["error"] == "conflict"
    other = await add(admin_gw, entry("other.net"))
    clash = await admin_gw.client.put(f"/v1/admin/lists/{other['id']}",
                                      json=entry("dupe.net"), headers=WRITER)
    assert clash.status_code == 409
    assert f"id {first['id']}" in clash.json()["detail"]


async def test_file_entries_change_only_in_their_files(admin_gw: Gw) -> None:
    store = admin_gw.state.list_store
    assert store is not None
    store.sync(parse_list_file("block:\n  - domain: from-git.net\n", "ops.yaml"),
               actor="files")
    listed = (await admin_gw.client.get("/v1/admin/lists?source=file",
                                        headers=READER)).json()["items"]
    assert [(e["value"], e["source"]) for e in listed] == [("from-git.net", "ops.yaml:2")]
    response = await admin_gw.client.delete(f"/v1/admin/lists/{listed[0]['id']}",
                                            headers=WRITER)
    assert response.status_code == 422
    assert "linkguard lists sync" in response.json()["detail"][0]["msg"]


async def test_listing_filters_and_pages(admin_gw: Gw) -> None:
    for n in range(7):
        await add(admin_gw, entry(f"site{n}.net", action="allow" if n % 2 else "block"))
    await add(admin_gw, entry("one.site9.net", kind="host"))
    seen: list[str] = []
    cursor = None
    while True:
        query = "action=block&limit=2" + (f"&cursor={cursor}" if cursor else "")
        page = (await admin_gw.client.get(f"/v1/admin/lists?{query}", headers=READER)).json()
        seen += [e["value"] for e in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == ["site0.net", "site2.net", "site4.net", "site6.net",
                    "one.site9.net"]
    hosts = (await admin_gw.client.get("/v1/admin/lists?kind=host", headers=READER)).json()
    assert [e["value"] for e in hosts["items"]] == ["one.site9.net"]


# --- bulk import and export -----------------------------------------------------------------

ROWS = [entry("bulk-a.net", reason="r1"),
        entry("bulk-b.net", action="allow", kind="domain_only", owner="it@corp.test"),
        entry("https://files.bulk-c.net/shared/", kind="url_prefix",
              expires="2027-03-01T12:00:00+00:00")]


async def export(gw: Gw, fmt: str) -> Any:
    response = await gw.client.get(f"/v1/admin/lists/export?format={fmt}", headers=READER)
    assert response.status_code == 200
    return response


async def test_json_import_export_round_trip(admin_gw: Gw) -> None:
    client = admin_gw.client
    first = await client.post("/v1/admin/lists/import", json=ROWS, headers=WRITER)
    assert first.json() == {"added": 3, "updated": 0, "removed": 0, "unchanged": 0,
                            "version": first.json()["version"]}
    exported = (await export(admin_gw, "json")).json()
    assert [e["value"] for e in exported] == ["bulk-a.net", "bulk-b.net",
                                              "https://files.bulk-c.net/shared/"]
    again = await client.post("/v1/admin/lists/import", json=exported, headers=WRITER)
    assert again.json()["unchanged"] == 3
    assert again.json()["version"] == first.json()["version"]  # nothing written, no bump
    # replace: the body is the whole set of API entries.
    replaced = await client.post("/v1/admin/lists/import?replace=true", json=exported[:1],
                                 headers=WRITER)
    assert (replaced.json()["removed"], replaced.json()["unchanged"]) == (2, 1)


async def test_yaml_import_export_round_trip(admin_gw: Gw) -> None:
    client = admin_gw.client
    await client.post("/v1/admin/lists/import", json=ROWS, headers=WRITER)
    before = (await export(admin_gw, "json")).json()
    text = (await export(admin_gw, "yaml")).text
    assert yaml.safe_load(text)["version"] == 1
    await client.post("/v1/admin/lists/import?replace=true", json=[], headers=WRITER)
    assert (await export(admin_gw, "json")).json() == []
    for content_type in ("application/yaml", "text/plain; charset=utf-8"):
        imported = await client.post("/v1/admin/lists/import", content=text, headers={
            **WRITER, "content-type": content_type})
        assert imported.status_code == 200, imported.text
    after = (await export(admin_gw, "json")).json()
    fields = ("action", "kind", "value", "reason", "owner", "expires", "origin")
    # The YAML file groups allow before block: compare as sets of entries.
    assert sorted(tuple(e[k] or "" for k in fields) for e in after) == sorted(
        tuple(e[k] or "" for k in fields) for e in before)


@pytest.mark.parametrize(("content_type", "body", "expected"), [
    ("application/json", "[{", [["body", 2]]),
    ("application/json", '{"action": "block"}', [["body"]]),
    ("application/json", json.dumps([entry("ok.net"), entry("bad/x")]),
     [["body", 1, "value"]]),
    ("application/json", json.dumps([entry("ok.net", extra=1)]), [["body", 0, "extra"]]),
    ("application/yaml", "allow: [\n", [["body"]]),
    ("application/yaml", "block:\n  - domain: ok.net\n  - domian: typo.net\n",
     [["body"], ["body"]]),  # an unknown field, and so no kind
])
async def test_malformed_imports_are_422_and_import_nothing(
        admin_gw: Gw, content_type: str, body: str, expected: list[list[Any]]) -> None:
    response = await admin_gw.client.post("/v1/admin/lists/import", content=body, headers={
        **WRITER, "content-type": content_type})
    assert locs(response) == expected
    if content_type == "application/yaml":
        assert all(isinstance(d["line"], int) for d in response.json()["detail"])
    assert (await export(admin_gw, "json")).json() == []


async def test_yaml_problems_name_their_lines(admin_gw: Gw) -> None:
    body = "block:\n  - domain: ok.net\n  - domian: typo.net\n"
    response = await admin_gw.client.post("/v1/admin/lists/import", content=body, headers={
        **WRITER, "content-type": "application/yaml"})
    assert response.json()["detail"][0]["line"] == 3


async def test_other_media_types_are_415(admin_gw: Gw) -> None:
    response = await admin_gw.client.post("/v1/admin/lists/import", content=b"<x/>", headers={
        **WRITER, "content-type": "application/xml"})
    assert response.status_code == 415
    assert response.json()["error"] == "unsupported_media_type"


# --- two writers at once --------------------------------------------------------------------


async def test_two_concurrent_writers(gw_factory: GwFactory) -> None:
    one = await gw_factory(api_keys=KEYS)
    two = await gw_factory(api_keys=KEYS)  # a second app on the same database file
    assert one.state.list_store is not None
    version = one.state.list_store.version()

    async def write(gw: Gw, name: str) -> list[int]:
        codes = []
        for n in range(10):
            response = await gw.client.post("/v1/admin/lists", headers=WRITER,
                                            json=entry(f"{name}{n}.net"))
            codes.append(response.status_code)
        return codes

    results = await asyncio.gather(write(one, "one"), write(two, "two"))
    assert results == [[201] * 10, [201] * 10]
    assert one.state.list_store.version() == version + 20
    # The same entry from both at once: one wins, the other gets a 409, never a 500.
    same = await asyncio.gather(*(gw.client.post("/v1/admin/lists", headers=WRITER,
                                                 json=entry("race.net"))
                                  for gw in (one, two, one, two)))
    assert sorted(r.status_code for r in same) == [201, 409, 409, 409]
    listed = (await one.client.get("/v1/admin/lists?limit=1000", headers=READER)).json()
    assert len(listed["items"]) == 21


# --- API keys -------------------------------------------------------------------------------


async def test_keys_made_through_the_api_work_until_revoked(admin_gw: Gw) -> None:
    client = admin_gw.client
    created = await client.post("/v1/admin/api-keys", headers=WRITER,
                                json={"name": "mail filter", "scopes": ["verdict"]})
    assert created.status_code == 201
    key = created.json()
    assert key["secret"].startswith(key["prefix"])
    bearer = {"authorization": f"Bearer {key['secret']}"}

    judged = await client.post("/v1/verdicts", json={"url": BLOCKED}, headers=bearer)
    assert judged.status_code == 200
    assert judged.json()["verdict"] == "block"
    assert (await client.get("/v1/admin/lists", headers=bearer)).status_code == 403
    # The settings keys keep working beside the store's.
    assert (await client.post("/v1/verdicts", json={"url": BLOCKED},
                              headers=VERDICT)).status_code == 200

    listed = (await client.get("/v1/admin/api-keys", headers=READER)).json()["items"]
    assert [k["name"] for k in listed] == ["mail filter"]
    assert "secret" not in listed[0]
    assert listed[0]["last_used"] is not None

    revoked = await client.delete(f"/v1/admin/api-keys/{key['id']}", headers=WRITER)
    assert revoked.status_code == 200
    assert revoked.json()["revoked"] is not None
    refused = await client.post("/v1/verdicts", json={"url": BLOCKED}, headers=bearer)
    assert refused.status_code == 401
    assert (await client.delete("/v1/admin/api-keys/999", headers=WRITER)).status_code == 404


async def test_a_store_key_with_admin_scopes_is_the_audit_actor(admin_gw: Gw) -> None:
    client = admin_gw.client
    created = (await client.post("/v1/admin/api-keys", headers=WRITER, json={
        "name": "ops", "scopes": ["admin:read", "admin:write"]})).json()
    bearer = {"authorization": f"Bearer {created['secret']}"}
    response = await client.post("/v1/admin/lists", json=entry("by-ops.net"),
                                 headers=bearer)
    assert response.status_code == 201
    events = (await client.get("/v1/admin/audit", headers=bearer)).json()["items"]
    assert (events[0]["action"], events[0]["actor"]) == (
        "list.add", f"api-key:{created['id']} ops")
    assert (events[1]["action"], events[1]["actor"]) == ("apikey.create", "api-key:writer")


@pytest.mark.parametrize(("body", "expected"), [
    ({"name": "x", "scopes": []}, [["body", "scopes"]]),
    ({"name": "x", "scopes": ["root"]}, [["body", "scopes", 0]]),
    ({"name": "", "scopes": ["verdict"]}, [["body", "name"]]),
])
async def test_invalid_keys_are_422(admin_gw: Gw, body: dict[str, Any],
                                    expected: list[list[Any]]) -> None:
    response = await admin_gw.client.post("/v1/admin/api-keys", json=body, headers=WRITER)
    assert locs(response) == expected


# --- audit ----------------------------------------------------------------------------------


async def test_every_change_is_audited_with_before_and_after(admin_gw: Gw) -> None:
    client = admin_gw.client
    created = await add(admin_gw, entry("audited.net", reason="first"))
    await client.patch(f"/v1/admin/lists/{created['id']}", json={"reason": "second"},
                       headers=WRITER)
    await client.delete(f"/v1/admin/lists/{created['id']}", headers=WRITER)
    page = (await client.get("/v1/admin/audit?object_type=list_entry&limit=2",
                             headers=READER)).json()
    delete, update = page["items"]
    assert (delete["action"], delete["actor"], delete["object_id"]) == (
        "list.delete", "api-key:writer", str(created["id"]))
    assert delete["before"]["reason"] == "second"
    assert delete["after"] is None
    assert update["action"] == "list.update"
    assert (update["before"]["reason"], update["after"]["reason"]) == ("first", "second")
    older = (await client.get(f"/v1/admin/audit?object_type=list_entry&cursor="
                              f"{page['next_cursor']}", headers=READER)).json()
    assert [e["action"] for e in older["items"]] == ["list.add"]
    assert older["items"][0]["before"] is None
    assert older["items"][0]["after"]["value"] == "audited.net"
    assert older["next_cursor"] is None
    assert datetime.fromisoformat(older["items"][0]["at"]).tzinfo is not None


# --- policy ---------------------------------------------------------------------------------


async def test_policy_view(admin_gw: Gw) -> None:
    body = (await admin_gw.client.get("/v1/admin/policy", headers=READER)).json()
    assert body["thresholds"] == {"warn": 4.0, "confirm": 8.0, "block": 15.0}
    assert body["weights"]["lookalike.homoglyph"] == 15.0
    assert body["allowlisted_feed_verdict"] == "warn"
    assert "list.block" in body["precedence"][0]
    assert "lists" in body["checks"] or body["checks"]
    assert body["list_entries"] >= 2  # the two entries of the settings' list file


# --- clicks and the retro-hunt --------------------------------------------------------------


def click(at: datetime, recipient: str, destination: str, domain: str, *,
          kind: ClickKind = ClickKind.HUMAN, action: ClickAction = ClickAction.REDIRECT,
          verdict: str = "allow") -> ClickEvent:
    return ClickEvent(at=at, kind=kind, action=action, recipient=recipient,
                      destination=destination, registrable_domain=domain, verdict=verdict,
                      reasons=("lookalike.typo",) if verdict != "allow" else ())


async def test_click_search_pages_through_many_events(admin_gw: Gw) -> None:
    events = [click(T0 + timedelta(seconds=n), f"user{n % 50}@corp.test",
                    f"https://{'evil' if n % 3 == 0 else 'fine'}.net/p/{n}",
                    "evil.net" if n % 3 == 0 else "fine.net",
                    kind=ClickKind.SCANNER if n % 10 == 0 else ClickKind.HUMAN)
              for n in range(3000)]
    admin_gw.state.recorder.store.write_batch(events)
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        query = "registrable_domain=login.EVIL.net&kind=human&limit=150"
        if cursor:
            query += f"&cursor={cursor}"
        response = await admin_gw.client.get(f"/v1/admin/clicks?{query}", headers=READER)
        assert response.status_code == 200
        page = response.json()
        seen += [item["destination"] for item in page["items"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    expected = [e.destination for e in reversed(events)
                if e.registrable_domain == "evil.net" and e.kind is ClickKind.HUMAN]
    assert seen == expected  # newest first, nothing twice, nothing left out
    assert pages == -(-len(expected) // 150)
    window = await admin_gw.client.get(
        "/v1/admin/clicks?since=2026-11-02T09:10:00&until=2026-11-02T09:10:05"
        "&recipient=USER0@corp.test", headers=READER)
    assert [i["at"] for i in window.json()["items"]] == ["2026-11-02T09:10:00Z"]
    prefix = await admin_gw.client.get(
        "/v1/admin/clicks?destination_prefix=https://fine.net/p/29", headers=READER)
    assert [i["destination"] for i in prefix.json()["items"]] == [
        e.destination for e in reversed(events)
        if e.destination.startswith("https://fine.net/p/29")]


async def test_retro_hunt_who_clicked_and_who_confirmed(admin_gw: Gw) -> None:
    bad = "https://login.evil.net/verify"
    admin_gw.state.recorder.store.write_batch([
        click(T0 - timedelta(days=1), "carol@corp.test", bad, "evil.net"),  # before since
        click(T0 + timedelta(minutes=1), "alice@corp.test", bad, "evil.net",
              kind=ClickKind.SCANNER, verdict="confirm", action=ClickAction.CONFIRM_REQUIRED),
        click(T0 + timedelta(minutes=5), "Alice@corp.test", bad, "evil.net",
              verdict="confirm", action=ClickAction.CONFIRM_REQUIRED),
        click(T0 + timedelta(minutes=6), "alice@corp.test", bad, "evil.net",
              verdict="confirm", action=ClickAction.CONFIRMED),
        click(T0 + timedelta(hours=2), "bob@corp.test", bad, "evil.net",
              verdict="confirm", action=ClickAction.CONFIRM_REQUIRED),
        click(T0 + timedelta(hours=3), "dave@corp.test", "https://fine.net/", "fine.net"),
    ])
    response = await admin_gw.client.get(
        "/v1/admin/clicks/hunt?domain=www.evil.net&since=2026-11-02T00:00:00Z",
        headers=READER)
    assert response.status_code == 200
    body = response.json()
    assert (body["domain"], body["events"], body["truncated"]) == ("evil.net", 4, False)
    alice, bob = body["recipients"]
    assert alice == {
        "recipient": "alice@corp.test", "clicks": 3, "human": 2, "scanner": 1,
        "first": "2026-11-02T09:01:00Z", "last": "2026-11-02T09:06:00Z",
        "confirmed": True, "continued": False, "approved": False,
        "actions": {"confirm_required": 2, "confirmed": 1}}
    assert (bob["recipient"], bob["clicks"], bob["confirmed"]) == ("bob@corp.test", 1, False)
