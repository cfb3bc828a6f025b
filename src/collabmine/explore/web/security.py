"""What keeps the web app safe to run: loopback by default, a token beyond it, CSRF tokens on
every write, no script but the app's own keyboard shortcuts (CSP), local-only redirects."""

from __future__ import annotations

import ipaddress
import secrets
from urllib.parse import urlencode, urlsplit

from starlette.middleware.base import BaseHTTPMiddleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response

from ...errors import ConfigError, Errors

TOKEN_COOKIE = "collabmine_token"
#: No inline script and no other origin's: the one script is the app's own file (review.js, the
#: review queue's keys), so even if corpus text escaped its escaping, nothing it carried could run.
CSP = ("default-src 'none'; script-src 'self'; style-src 'unsafe-inline'; img-src 'self' data:; form-action 'self'; "
       "frame-ancestors 'none'; base-uri 'none'")
LOOPBACK_NAMES = {"localhost", "127.0.0.1", "::1", "[::1]"}


def is_loopback(host: str) -> bool:
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


#: A token shorter than this is refused (E095): it could be guessed.
MIN_TOKEN_LENGTH = 16
#: Methods that change something: refused when they come from another site's page.
UNSAFE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


def check_binding(host: str, token: str | None) -> None:
    """Refuse to expose the app beyond this machine without a token (E088), and any token too
    short to be secret (E095)."""
    if token is not None and len(token) < MIN_TOKEN_LENGTH:
        raise ConfigError(Errors.E095.format(length=len(token), minimum=MIN_TOKEN_LENGTH))
    if not is_loopback(host) and not token:
        raise ConfigError(Errors.E088.format(host=host))


def url_host(host: str) -> str:
    """A host as it is written in a URL: an IPv6 address in brackets ("[::1]")."""
    try:
        return f"[{host.strip('[]')}]" if ipaddress.ip_address(host.strip("[]")).version == 6 else host
    except ValueError:
        return host


def new_csrf_token() -> str:
    return secrets.token_urlsafe(24)


def safe_next(target: str | None, default: str = "/") -> str:
    """A local path to redirect to after a form: never another site (``//evil``, ``https://``)."""
    if not target:
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    return target


class SecurityHeaders(BaseHTTPMiddleware):
    async def dispatch(self, request: Request, call_next) -> Response:
        response = await call_next(request)
        response.headers["Content-Security-Policy"] = CSP
        response.headers["X-Content-Type-Options"] = "nosniff"
        # "same-origin": the app's own form posts carry its Origin (under "no-referrer" a browser
        # sends "Origin: null" even on them, which SameOrigin must refuse); other sites get nothing.
        response.headers["Referrer-Policy"] = "same-origin"
        response.headers["X-Frame-Options"] = "DENY"
        return response


#: The largest request body the app takes: a review with its longest comment is a few KB.
MAX_BODY_BYTES = 256 * 1024


class BodyLimit(BaseHTTPMiddleware):
    """A request declaring a body over ``MAX_BODY_BYTES`` is answered 413 with E099 before it
    is read (Starlette's own limit is 1 MB per form field, answered as bare JSON)."""

    def __init__(self, app, answer) -> None:
        super().__init__(app)
        self.answer = answer      # (request, status, message) -> the app's own error response

    async def dispatch(self, request: Request, call_next) -> Response:
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
            return self.answer(request, 413, Errors.E099.format(size=f"{int(declared) / 1024:.0f} KB",
                                                                limit=f"{MAX_BODY_BYTES // 1024} KB"))
        return await call_next(request)


class SameOrigin(BaseHTTPMiddleware):
    """A state-changing request whose ``Origin`` (or, without one, ``Referer``) names another
    site is refused (403, E096) — on top of the CSRF token, as OWASP recommends: a token leaked
    into another page must still not let that page post decisions."""

    async def dispatch(self, request: Request, call_next) -> Response:
        if request.method in UNSAFE_METHODS:
            origin = request.headers.get("origin") or request.headers.get("referer")
            if origin and origin != "null":
                parts = urlsplit(origin)
                if (parts.scheme, parts.netloc) != (request.url.scheme, request.url.netloc):
                    return PlainTextResponse("403: " + Errors.E096.format(origin=origin[:200]), status_code=403)
            elif origin == "null":
                return PlainTextResponse("403: " + Errors.E096.format(origin="null"), status_code=403)
        return await call_next(request)


class TokenGate(BaseHTTPMiddleware):
    """With a token configured, every request needs it: ``Authorization: Bearer``, the cookie set
    after a first ``?token=`` visit, or ``?token=`` itself (then redirected to drop it from the URL)."""

    def __init__(self, app, token: str) -> None:
        super().__init__(app)
        self.token = token

    def _matches(self, value: str | None) -> bool:
        return bool(value) and secrets.compare_digest(value.encode(), self.token.encode())

    async def dispatch(self, request: Request, call_next) -> Response:
        header = request.headers.get("authorization", "")
        if self._matches(header[7:] if header.lower().startswith("bearer ") else None) or \
                self._matches(request.cookies.get(TOKEN_COOKIE)):
            return await call_next(request)
        if self._matches(request.query_params.get("token")):
            query = urlencode([(k, v) for k, v in request.query_params.multi_items() if k != "token"])
            response = RedirectResponse(request.url.path + (f"?{query}" if query else ""), status_code=303)
            response.set_cookie(TOKEN_COOKIE, self.token, httponly=True, samesite="strict")
            return response
        return PlainTextResponse("401: this collabmine web app needs its token: open it once with ?token=SECRET "
                                 "or send 'Authorization: Bearer SECRET'.", status_code=401)
