"""SQL stores (SQLite, the embedded default, and PostgreSQL) on SQLAlchemy 2 Core + Alembic."""

from linkguard.adapters.sql.access import SqlAccessRequests
from linkguard.adapters.sql.apikeys import SqlApiKeyStore
from linkguard.adapters.sql.audit import SqlAuditLog
from linkguard.adapters.sql.clicklog import CursorError, SqlClickLog
from linkguard.adapters.sql.engine import default_database_url, make_engine
from linkguard.adapters.sql.lists import SqlListStore
from linkguard.adapters.sql.migrate import downgrade, ensure_schema, upgrade
from linkguard.adapters.sql.nonces import SqlNonceStore
from linkguard.adapters.sql.watcher import ListWatcher

__all__ = [
    "CursorError",
    "ListWatcher",
    "SqlAccessRequests",
    "SqlApiKeyStore",
    "SqlAuditLog",
    "SqlClickLog",
    "SqlListStore",
    "SqlNonceStore",
    "default_database_url",
    "downgrade",
    "ensure_schema",
    "make_engine",
    "upgrade",
]
