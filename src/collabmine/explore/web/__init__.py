"""The collabmine web app: ``create_app(settings)``; ``collabmine web`` serves it (127.0.0.1 by
default; a token is required to bind anywhere else)."""

from .app import create_app
from .security import check_binding, url_host

__all__ = ["create_app", "check_binding", "url_host"]
