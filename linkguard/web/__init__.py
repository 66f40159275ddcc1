"""The FastAPI gateway: the click path, the pages people see, the verdict API, health, metrics."""

from linkguard.web.app import create_app
from linkguard.web.state import AppState, Branding

__all__ = ["AppState", "Branding", "create_app"]
