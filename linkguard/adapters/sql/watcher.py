"""Propagation of list changes to every replica: poll the version counter, reload on change.

The click path reads an in-memory ``ListIndex``; this thread is the only thing that reads the
list tables at run time. A change made through any replica is visible everywhere within one
poll interval (default 5 s). When the database cannot be reached the last good entries stay in
force and the watcher retries on its next tick.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from linkguard.core.lists import ListEntry
from linkguard.ports import Health, ListStore

log = logging.getLogger(__name__)


class ListWatcher:
    def __init__(self, store: ListStore, on_change: Callable[[list[ListEntry]], None], *,
                 poll_s: float = 5.0,
                 subscribe: Callable[[Callable[[], None]], Callable[[], None]] | None = None,
                 ) -> None:
        """``subscribe(nudge)``, when given, is called at start with a function that makes the
        watcher poll at once (e.g. on a Redis pub/sub message); it returns a function that
        unsubscribes, called at stop."""
        if poll_s <= 0:
            raise ValueError("poll interval must be positive")
        self._store = store
        self._on_change = on_change
        self._poll_s = poll_s
        self._version: int | None = None
        self._error = ""
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._subscribe = subscribe
        self._unsubscribe: Callable[[], None] | None = None

    @property
    def version(self) -> int | None:
        """The version whose entries were last delivered (None before the first load)."""
        return self._version

    def poll_once(self) -> bool:
        """Reload when the version moved; True when ``on_change`` was called. Raises what the
        store raises (``start`` catches and logs it)."""
        version = self._store.version()
        if version == self._version:
            return False
        # Read after the version: a change committed in between is delivered now and again on
        # the next tick (the version moved past ours), never lost.
        entries = [stored.entry for stored in self._store.entries()]
        self._on_change(entries)
        self._version = version
        return True

    def nudge(self) -> None:
        """Poll now instead of at the next tick (after a local change, or a pub/sub message)."""
        self._wake.set()

    def start(self) -> None:
        """Load once now (errors propagate: a gateway should not start without its lists),
        then poll in a daemon thread."""
        self.poll_once()
        self._thread = threading.Thread(target=self._run, name="linkguard-list-watcher",
                                        daemon=True)
        self._thread.start()
        if self._subscribe is not None:
            self._unsubscribe = self._subscribe(self.nudge)

    def stop(self, timeout_s: float = 5.0) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout_s)

    def health(self) -> Health:
        return Health("lists", ok=self._version is not None, detail=self._error,
                      degraded=bool(self._error),
                      extra={"version": str(self._version)})

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self._poll_s)
            self._wake.clear()
            if self._stop.is_set():
                return
            try:
                self.poll_once()
            except Exception as error:  # keep serving the last good lists, whatever failed
                if not self._error:
                    log.warning("list reload failed, keeping version %s: %s",
                                self._version, error)
                self._error = f"reload failed: {error}"
            else:
                if self._error:
                    log.info("list reload works again (version %s)", self._version)
                self._error = ""
