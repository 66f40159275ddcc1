"""What the web layer is given by the composition root: built once, shared by every request."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from linkguard.core.clients import IpMode, ScannerAgents
from linkguard.ports import Health, NonceStore, RateLimiter
from linkguard.service import ApiKeyRing, ClickRecorder, Gateway


@dataclass(frozen=True, slots=True)
class Branding:
    org_name: str = "our organisation"
    logo_url: str | None = None
    color: str = "#1f4e8c"  # validated #rgb/#rrggbb: written into a style sheet
    support_contact: str = "your IT security team"
    support_url: str | None = None


@dataclass(slots=True)
class AppState:
    gateway: Gateway
    recorder: ClickRecorder
    limiter: RateLimiter
    nonces: NonceStore
    api_keys: ApiKeyRing
    base_url: str = "http://127.0.0.1:8080"
    branding: Branding = field(default_factory=Branding)
    csrf_secret: bytes = b""
    ip_secret: bytes = b""
    ip_mode: IpMode = "truncate"
    scanner_agents: ScannerAgents = field(default_factory=ScannerAgents)
    click_rate: tuple[int, float] = (120, 60.0)
    api_rate: tuple[int, float] = (600, 60.0)
    # Readiness probes beyond the built-in ones (stores, caches): each returns one Health or
    # several.
    probes: list[Callable[[], Health | Sequence[Health]]] = field(default_factory=list)
    # Started and stopped with the app (feed refresh, list watcher …); may be coroutines.
    on_start: list[Callable[[], object]] = field(default_factory=list)
    on_stop: list[Callable[[], object]] = field(default_factory=list)

    @property
    def https(self) -> bool:
        return self.base_url.lower().startswith("https://")
