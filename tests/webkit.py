"""Helpers for the web tests: a live server on a free port, and headless Chromium via Playwright
driving Debian's /usr/bin/chromium (never a downloaded browser)."""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from contextlib import contextmanager

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
REQUIRE_BROWSER = os.environ.get("COLLABMINE_REQUIRE_BROWSER") == "1"


def need_browser() -> str:
    if CHROMIUM:
        try:
            import playwright  # noqa: F401
            return CHROMIUM
        except ImportError:
            if REQUIRE_BROWSER:
                pytest.fail("the playwright package is missing: pip install -e '.[test]'")
    if REQUIRE_BROWSER:
        pytest.fail("chromium is not installed; `make test` installs it (apt-get install chromium)")
    pytest.skip("chromium or playwright not installed")


@contextmanager
def live_server(app):
    import uvicorn

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    for _ in range(200):
        if server.started:
            break
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


@contextmanager
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=need_browser(), args=["--no-sandbox"])
        try:
            yield b
        finally:
            b.close()
