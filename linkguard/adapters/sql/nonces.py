"""One-time nonces in SQL: consumed by a single ``DELETE … RETURNING``.

The delete is the whole operation: of two replicas consuming the same nonce at once, the
database lets exactly one statement delete the row, and only that one sees it returned. There is
no read-then-write window to race in.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import Engine, delete, exc

from linkguard.adapters.sql.engine import write_tx
from linkguard.adapters.sql.errors import ping, unavailable_as_store_error
from linkguard.adapters.sql.schema import nonces, utcnow


class SqlNonceStore:
    def __init__(self, engine: Engine, *, clock: Callable[[], datetime] = utcnow) -> None:
        self._engine = engine
        self._clock = clock

    def issue(self, nonce: str, subject: str, ttl_s: float) -> None:
        if not nonce or ttl_s <= 0:
            raise ValueError("a nonce needs a value and a positive time to live")
        now = self._clock()
        with unavailable_as_store_error("nonce store"), write_tx(self._engine) as connection:
            # Expired nonces are swept as new ones are issued: the table stays the size of
            # the confirmations in flight.
            connection.execute(delete(nonces).where(nonces.c.expires <= now))
            try:
                connection.execute(nonces.insert().values(
                    nonce=nonce, subject=subject, expires=now + timedelta(seconds=ttl_s)))
            except exc.IntegrityError:
                raise ValueError("nonce already issued") from None

    def consume(self, nonce: str, subject: str) -> bool:
        statement = (delete(nonces)
                     .where(nonces.c.nonce == nonce, nonces.c.subject == subject,
                            nonces.c.expires > self._clock())
                     .returning(nonces.c.nonce))
        with unavailable_as_store_error("nonce store"), write_tx(self._engine) as connection:
            return connection.execute(statement).first() is not None

    def ping(self) -> None:
        ping(self._engine, "nonce store")
