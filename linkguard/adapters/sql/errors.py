"""Translate driver failures at the boundary: an unreachable database is StoreUnavailableError."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine, exc, text

from linkguard.ports import StoreUnavailableError


@contextmanager
def unavailable_as_store_error(what: str) -> Iterator[None]:
    """Connection-level failures (server down, refused, timed out, locked too long) become
    StoreUnavailableError; programming errors and constraint violations pass through."""
    try:
        yield
    except (exc.OperationalError, exc.InterfaceError) as error:
        reason = str(error.orig).strip().splitlines()[0] if error.orig else str(error)
        raise StoreUnavailableError(f"{what}: database unavailable: {reason}") from error
    except exc.DBAPIError as error:
        if error.connection_invalidated:
            raise StoreUnavailableError(f"{what}: database connection lost") from error
        raise


def ping(engine: Engine, what: str) -> None:
    """One round trip; raises StoreUnavailableError when the database does not answer."""
    with unavailable_as_store_error(what), engine.connect() as connection:
        connection.execute(text("SELECT 1"))
