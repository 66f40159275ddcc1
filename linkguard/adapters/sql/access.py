"""Access requests in SQL: out-of-band approval of blocked links.

Deciding is one ``UPDATE … WHERE status = 'pending' RETURNING``: of two admins (on two
replicas) deciding the same request at once, exactly one statement changes the row. At most
one pending request per link is held by a partial unique index, so two clicks on "Send" cannot
leave two requests waiting. Every change writes its audit row in the same transaction.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, exc, select, update

from linkguard.adapters.sql.audit import insert_audit
from linkguard.adapters.sql.engine import read_tx, write_tx
from linkguard.adapters.sql.errors import ping, unavailable_as_store_error
from linkguard.adapters.sql.schema import access_requests, utcnow
from linkguard.ports import (
    AccessPage,
    AccessRequest,
    AccessStatus,
    AlreadyDecidedError,
    DuplicateEntryError,
    EntryNotFoundError,
    NewAccessRequest,
    id_cursor,
)

_T = access_requests


def _request(row: Any) -> AccessRequest:
    new = NewAccessRequest(
        token_id=row.token_id, requester=row.requester, method=row.method,
        justification=row.justification, recipient=row.recipient, message_id=row.message_id,
        destination=row.destination, registrable_domain=row.registrable_domain,
        verdict=row.verdict, reasons=tuple(row.reasons.split()), client_ip=row.client_ip,
        user_agent=row.user_agent)
    return AccessRequest(id=int(row.id), request=new, status=AccessStatus(row.status),
                         created=row.created, decided=row.decided, decided_by=row.decided_by,
                         note=row.note, expires=row.expires)


class SqlAccessRequests:
    def __init__(self, engine: Engine, *, clock: Callable[[], datetime] = utcnow) -> None:
        self._engine = engine
        self._clock = clock

    def create(self, new: NewAccessRequest) -> AccessRequest:
        now = self._clock()
        try:
            with unavailable_as_store_error("access requests"), \
                    write_tx(self._engine) as connection:
                latest = self._latest(connection, new.token_id)
                if latest is not None and latest.is_open(now):
                    raise DuplicateEntryError(f"link {new.token_id} has an access request "
                                              f"already ({latest.status})")
                row_id = connection.execute(_T.insert().values(
                    token_id=new.token_id, status=AccessStatus.PENDING.value,
                    requester=new.requester, requester_key=new.requester.strip().lower(),
                    method=new.method, justification=new.justification,
                    recipient=new.recipient, message_id=new.message_id,
                    destination=new.destination, registrable_domain=new.registrable_domain,
                    verdict=new.verdict, reasons=" ".join(new.reasons),
                    client_ip=new.client_ip, user_agent=new.user_agent, created=now,
                    decided_by="", note="",
                ).returning(_T.c.id)).scalar_one()
                created = AccessRequest(id=int(row_id), request=new,
                                        status=AccessStatus.PENDING, created=now)
                insert_audit(connection, at=now, actor=f"{new.method}:{new.requester}",
                             action="access.request", object_type="access_request",
                             object_id=str(created.id), after=created.summary())
                return created
        except exc.IntegrityError:
            # The partial unique index: another replica stored a pending one a moment ago.
            raise DuplicateEntryError(
                f"link {new.token_id} has an access request already (pending)") from None

    def get(self, request_id: int) -> AccessRequest:
        with unavailable_as_store_error("access requests"), read_tx(self._engine) as connection:
            row = connection.execute(select(_T).where(_T.c.id == request_id)).first()
        if row is None:
            raise EntryNotFoundError(f"no access request {request_id}")
        return _request(row)

    def for_link(self, token_id: str) -> AccessRequest | None:
        with unavailable_as_store_error("access requests"), read_tx(self._engine) as connection:
            return self._latest(connection, token_id)

    def search(self, *, status: AccessStatus | None = None, requester: str | None = None,
               limit: int = 100, cursor: str | None = None) -> AccessPage:
        before = id_cursor(cursor)
        statement = select(_T).order_by(_T.c.id.desc()).limit(limit + 1)
        if before is not None:
            statement = statement.where(_T.c.id < before)
        if status is not None:
            statement = statement.where(_T.c.status == status.value)
        if requester is not None:
            statement = statement.where(_T.c.requester_key == requester.strip().lower())
        with unavailable_as_store_error("access requests"), read_tx(self._engine) as connection:
            found = [_request(row) for row in connection.execute(statement)]
        page = tuple(found[:limit])
        return AccessPage(page, str(page[-1].id) if len(found) > limit else None)

    def decide(self, request_id: int, *, approve: bool, actor: str, note: str = "",
               expires: datetime | None = None) -> AccessRequest:
        if approve and expires is None:
            raise ValueError("an approval needs an expiry")
        now = self._clock()
        status = AccessStatus.APPROVED if approve else AccessStatus.DENIED
        with unavailable_as_store_error("access requests"), write_tx(self._engine) as connection:
            before = connection.execute(select(_T).where(_T.c.id == request_id)).first()
            if before is None:
                raise EntryNotFoundError(f"no access request {request_id}")
            row = connection.execute(
                update(_T).where(_T.c.id == request_id,
                                 _T.c.status == AccessStatus.PENDING.value)
                .values(status=status.value, decided=now, decided_by=actor, note=note,
                        expires=expires if approve else None)
                .returning(*_T.c)).first()
            if row is None:
                raise AlreadyDecidedError(
                    f"access request {request_id} was {before.status} already")
            decided = _request(row)
            insert_audit(connection, at=now, actor=actor,
                         action="access.approve" if approve else "access.deny",
                         object_type="access_request", object_id=str(request_id),
                         before=_request(before).summary(), after=decided.summary())
            return decided

    def ping(self) -> None:
        ping(self._engine, "access requests")

    @staticmethod
    def _latest(connection: Connection, token_id: str) -> AccessRequest | None:
        row = connection.execute(select(_T).where(_T.c.token_id == token_id)
                                 .order_by(_T.c.id.desc()).limit(1)).first()
        return _request(row) if row is not None else None
