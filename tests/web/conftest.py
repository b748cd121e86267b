"""The explorer's fixtures: a real `normbank serve` on a free loopback port, and headless Chromium.

The server holds the packaged sample corpus, the real NormBank taxonomy and the real NormDial (shared
data: skipped with the reason when missing, a failure under CI). Free text is served by full-text
search alone (NORMBANK_INDEX_ON_START=off): these tests are about the pages, not retrieval quality, and
a vector index build would compete with the browser for the machine's two cores.

The browser is Debian's `chromium` package driven by Playwright; Playwright's own browser download is
never used. Without chromium (or the playwright package) the browser tests are skipped with the reason,
except under CI, where they fail."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.api.conftest import client, corpus_client  # noqa: F401  (test clients on both databases)
from tests.conftest import IN_CI, REPO, shared

NORMBANK = Path(sys.executable).with_name("normbank")
ARTEFACTS = REPO / "var" / "test-artefacts" / "explorer"  # screenshots of each page (var/ is not committed)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _run(env: dict, *args: str) -> None:
    done = subprocess.run([str(NORMBANK), *args], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"normbank {' '.join(args)} failed: {done.stderr}"


def _wait_until_up(url: str, proc: subprocess.Popen, seconds: float = 180) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"normbank serve exited with {proc.returncode}: {proc.stderr.read()}")
        try:
            with urllib.request.urlopen(url + "/healthz", timeout=2):
                return
        except (urllib.error.URLError, OSError):
            time.sleep(0.2)
    raise AssertionError(f"normbank serve did not answer at {url} within {seconds}s")


@pytest.fixture(scope="session")
def live_server(tmp_path_factory) -> str:
    """The base URL of a real server over the sample, the real taxonomy and NormDial."""
    taxonomy, normdial = shared("normbank-taxonomy"), shared("normdial")
    home = tmp_path_factory.mktemp("explorer")
    env = {**os.environ, "NORMBANK_DATA_DIR": str(home), "NORMBANK_DATABASE_URL": f"sqlite:///{home / 'normbank.db'}",
           "NORMBANK_EMBEDDING_MODEL": "hashing", "NORMBANK_INDEX_ON_START": "off"}
    _run(env, "init", "--sample")
    _run(env, "ingest", "normbank-taxonomy", str(taxonomy))
    _run(env, "ingest", "normdial", str(normdial))
    port = _free_port()
    proc = subprocess.Popen([str(NORMBANK), "serve", "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(url, proc)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _browser_problem() -> str | None:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is not installed (pip install -e '.[dev]')"
    if shutil.which("chromium") is None:
        return "Debian's chromium is not installed (apt-get install -y chromium)"
    return None


@pytest.fixture(scope="session")
def browser():
    """Headless Chromium (Debian's package); skipped without it, except under CI."""
    problem = _browser_problem()
    if problem:
        if IN_CI:
            pytest.fail(f"the browser tests need chromium under CI: {problem}")
        pytest.skip(problem)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=shutil.which("chromium"), headless=True,
                                    args=["--no-sandbox", "--disable-dev-shm-usage"])
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def page(browser, live_server):
    """A fresh browser tab on the live server, allowed to use the clipboard; its base URL is the server's."""
    context = browser.new_context(base_url=live_server, viewport={"width": 1100, "height": 900})
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server)
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda exc: errors.append(str(exc)))
    yield tab
    context.close()
    assert not errors, f"the page's script failed: {errors}"


def screenshot(tab, name: str, **options) -> Path:
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTEFACTS / f"{name}.png"
    tab.screenshot(path=str(path), **options)
    return path
