"""Every page of a real `normbank serve` (sample + real taxonomy + NormDial) as plain HTML: no browser
needed, so a machine without Chromium still checks the explorer end to end."""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request

import pytest

from tests.web.test_pages import text, title


def fetch(base: str, path: str) -> tuple[int, str, str]:
    request = urllib.request.Request(base + path, headers={"accept": "text/html"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.headers["content-type"], response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers["content-type"], exc.read().decode()


def a_normdial_norm(base: str) -> str:
    with urllib.request.urlopen(base + "/v1/norms?source=normdial&limit=1", timeout=30) as response:
        return json.load(response)["data"][0]["id"]


PAGES = [
    "/",
    "/search?q=greeting+an+elder",
    "/search?q=alcohol&label=taboo",
    "/settings/restaurant",
    "/settings/restaurant?role=customer&attr=age+bracket+%3D+teen&status=applies",
    "/settings/restaurant/judge?behavior=drink+alcohol&role=customer",
    "/settings/restaurant/judge?behavior=drink+alcohol&role=customer&attr=age+bracket+%3D+teen",
    "/ground?situation=A+student+greets+a+teacher+in+China&env=country+%3D+china",
    "/sources",
    "/sources/normdial",
    "/sources/normbank-taxonomy",
]


@pytest.mark.slow
def test_every_page_of_a_real_server_is_a_titled_page(live_server):
    for path in PAGES + [f"/norms/{a_normdial_norm(live_server)}"]:
        status, kind, html = fetch(live_server, path)
        assert status == 200, (path, status, html[:300])
        assert kind.startswith("text/html") and title(html), path
        assert "internal error" not in html and "Traceback" not in html, path


@pytest.mark.slow
def test_a_real_server_answers_unknown_things_with_a_404_page(live_server):
    for path in ("/settings/atlantis", "/norms/ffffffffffffffff", "/sources/atlantis", "/nothing/here"):
        status, kind, html = fetch(live_server, path)
        assert status == 404 and kind.startswith("text/html") and title(html) == "Not found · normbank", path


@pytest.mark.slow
def test_a_normdial_norm_page_shows_its_rows_licence_url_and_examples(live_server):
    nid = a_normdial_norm(live_server)
    with urllib.request.urlopen(f"{live_server}/v1/norms/{nid}", timeout=30) as response:
        data = json.load(response)
    page = text(fetch(live_server, f"/norms/{nid}")[2])
    assert "research dataset, no licence published" in page and "github.com/Aochong-Li/NormDial" in page
    assert all(f"row {row} of normdial" in page for row in data["rows"])
    assert data["examples"] and re.search(r"(adheres|violates) \(row \d+\)", page)


@pytest.mark.slow
def test_the_home_page_of_a_real_server_lists_taxonomy_settings_without_frames(live_server):
    page = text(fetch(live_server, "/")[2])
    assert re.search(r"15 settings with frames; \d+ more from the taxonomy without any", page)


@pytest.mark.slow
def test_setting_less_norms_join_a_setting_search_only_when_asked(live_server):
    path = "/search?q=greeting+family+members&setting=restaurant"
    def results(html: str) -> str:
        return text(re.search(r'<ol class="results" id="search-results">.*?</ol>', html, re.S).group(0))

    assert "normdial" not in results(fetch(live_server, path)[2])
    assert "normdial" in results(fetch(live_server, path + "&include_setting_less=1")[2])
