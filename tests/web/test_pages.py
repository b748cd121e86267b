"""The explorer's pages as HTML, without a browser: over the sample corpus, on SQLite and PostgreSQL."""

from __future__ import annotations

import re
from html import unescape
from urllib.parse import quote

import pytest

from tests.api.conftest import NORMBANK_HEADER

HTML = {"accept": "text/html"}
TEEN = "/settings/restaurant/judge?behavior=drink+alcohol&role=customer&attr=age+bracket+%3D+teen"
ADULT = "/settings/restaurant/judge?behavior=drink+alcohol&role=customer"


def title(html: str) -> str:
    match = re.search(r"<title>(.*?)</title>", html, re.S)
    assert match, "the page has no <title>"
    return unescape(match.group(1)).strip()


def text(html: str) -> str:
    """The page's visible text, tags dropped and whitespace collapsed."""
    html = re.sub(r"<(script|style|datalist)\b.*?</\1>", " ", html, flags=re.S)
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", html))).strip()


def verdict(html: str) -> str:
    section = re.search(r'<section id="verdict".*?</section>', html, re.S)
    assert section, "the page has no verdict section"
    return text(section.group(0))


def answers(html: str) -> str:
    """The text of the setting page's table of judged behaviours."""
    return text(re.search(r'<table class="list answers".*?</table>', html, re.S).group(0))


def get_page(client, path: str, status: int = 200) -> str:
    response = client.get(path, headers=HTML)
    assert response.status_code == status, (path, response.status_code, response.text[:500])
    assert response.headers["content-type"].startswith("text/html")
    assert "internal error" not in response.text and "Traceback" not in response.text
    return response.text


def norm_id(client) -> str:
    return client.get("/v1/norms", params={"setting": "restaurant", "behavior": "drink alcohol", "limit": 1}).json()["data"][0]["id"]


def test_every_page_answers_with_a_titled_page(client):
    pages = {
        "/": "normbank explorer",
        "/search?q=alcohol": "Search: alcohol",
        "/settings/restaurant": "Setting: restaurant",
        ADULT: "drink alcohol in restaurant",
        "/ground?situation=a+teen+asks+the+waiter+for+a+beer&setting=restaurant": "Ground a situation",
        "/sources": "Sources",
        "/sources/normbank-sample": "Source normbank-sample",
        f"/norms/{norm_id(client)}": f"Norm {norm_id(client)}",
    }
    for path, expected in pages.items():
        assert title(get_page(client, path)) == f"{expected} · normbank", path


def test_home_lists_settings_with_counts_and_sources_with_licences(client):
    page = text(get_page(client, "/"))
    assert "restaurant" in page and "normbank-sample" in page and "CC BY-SA 4.0" in page
    restaurant = client.get("/v1/settings/restaurant").json()
    html = get_page(client, "/")
    row = re.search(r'href="/settings/restaurant">restaurant</a></td><td class="num">(\d+)</td><td class="num">(\d+)', html)
    assert row and (int(row.group(1)), int(row.group(2))) == (restaurant["behaviors"], restaurant["frames"])


def test_the_verdict_flips_when_the_person_is_a_teen(client):
    assert "applies normal" in verdict(get_page(client, ADULT))
    teen = verdict(get_page(client, TEEN))
    assert "applies taboo" in teen
    # the teen frame decides and the general customer frame is nested under it as overridden
    assert re.search(r"taboo .*age bracket is less than 'young adult'.* overrides: normal \[PERSON\]'s role is 'customer'", teen)


def test_the_verdict_shows_its_bar_defeaters_and_frame_links(client):
    html = get_page(client, ADULT)
    assert re.search(r'class="seg label-normal" style="width: 100.0%"', html)
    assert "would be taboo if [PERSON]'s age bracket is less than 'young adult'" in verdict(html)
    frames = re.findall(r'href="/norms/([0-9a-f]{16})"', html)
    assert frames and all(client.get(f"/v1/norms/{f}").status_code == 200 for f in frames)


def test_the_fragment_is_the_verdict_section_alone(client):
    response = client.get(TEEN, headers={**HTML, "x-explorer-fragment": "verdict"})
    assert response.status_code == 200
    assert response.text.lstrip().startswith('<section id="verdict"') and "<html" not in response.text
    assert "applies taboo" in verdict(response.text)


def test_the_setting_page_judges_every_behaviour_filtered_and_keeps_the_context_in_links(client):
    html = get_page(client, "/settings/restaurant?role=customer&attr=age+bracket+%3D+teen&label=taboo")
    rows = re.findall(r"<tr>\s*<td><a href=\"([^\"]+)\">([^<]+)</a></td>\s*<td>(\w+)</td>", html)
    assert rows, "no behaviour judged"
    assert ("drink alcohol", "applies") in [(unescape(b), s) for _, b, s in rows]
    link = unescape(next(h for h, b, _ in rows if b == "drink alcohol"))
    assert "role=customer" in link and "attr=age+bracket+%3D+teen" in link
    assert "applies taboo" in verdict(get_page(client, link))
    # the form offers the setting's own values
    assert '<option value="customer">' in html and '<option value="age bracket = teen">' in html


def test_the_setting_page_is_paginated(corpus_client):
    rows = [f"park,behaviour {i:02d},park [BEHAVIOR] behaviour {i:02d},,,,normal,1,train" for i in range(30)]
    client = corpus_client("\n".join([NORMBANK_HEADER, *rows]) + "\n")
    first = get_page(client, "/settings/park?role=visitor")
    assert "30 behaviours, page 1 of 2" in text(first)
    assert "behaviour 00" in answers(first) and "behaviour 29" not in answers(first)
    second_link = unescape(re.search(r'<a rel="next" href="([^"]+)"', first).group(1))
    assert "role=visitor" in second_link and "page=2" in second_link
    second = get_page(client, second_link)
    assert "page 2 of 2" in text(second) and 'rel="prev"' in second
    assert "behaviour 29" in answers(second) and "behaviour 00" not in answers(second)


def test_the_norm_page_shows_atoms_source_rows_and_licence(client):
    nid = norm_id(client)
    data = client.get(f"/v1/norms/{nid}").json()
    page = text(get_page(client, f"/norms/{nid}"))
    assert data["statement"] in page
    for constraint in data["constraints"]:
        assert constraint in page
    for row in data["rows"]:
        assert f"row {row} of normbank-sample" in page
    assert "CC BY-SA 4.0" in page


def test_the_grounding_page_shows_norms_and_the_prompt(client):
    html = get_page(client, "/ground?situation=a+teen+customer+asks+for+a+beer&setting=restaurant&role=customer")
    answer = client.post("/v1/ground", json={"situation": "a teen customer asks for a beer", "setting": "restaurant",
                                             "person": {"role": "customer"}}).json()
    prompt = unescape(re.search(r'<pre class="prompt" id="prompt"[^>]*>(.*?)</pre>', html, re.S).group(1))
    assert prompt == answer["prompt"]
    assert 'data-copy="prompt"' in html


def test_the_home_box_can_ground_what_it_would_search(client):
    html = get_page(client, "/ground?q=a+teen+asks+the+waiter+for+a+beer&from=home")
    assert "a teen asks the waiter for a beer</textarea>" in html and 'id="prompt"' in html


@pytest.mark.parametrize("path, expected", [
    ("/settings/atlantis", "unknown setting 'atlantis'"),
    ("/settings/atlantis/judge?behavior=x", "unknown setting 'atlantis'"),
    ("/norms/0000000000000000", "no norm with id '0000000000000000'"),
    ("/norms/not-an-id", "no norm with id 'not-an-id'"),
    ("/sources/nowhere", "unknown source 'nowhere'"),
    ("/no/such/page", "no such endpoint"),
])
def test_unknown_things_are_a_404_page(client, path, expected):
    html = get_page(client, path, 404)
    assert title(html) == "Not found · normbank"
    assert expected in text(html)


def test_the_json_api_keeps_its_error_envelope(client):
    response = client.get("/v1/settings/atlantis", headers=HTML)
    assert response.status_code == 404 and response.json()["error"]["code"] == "setting_not_found"
    response = client.get("/v1/no-such-endpoint", headers=HTML)
    assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"


@pytest.mark.parametrize("path, field, message", [
    (ADULT + "&attr=age+bracket", "attr-0", "write name = value"),
    (ADULT + "&env=%3Djapan", "env-0", "write name = value"),
    ("/settings/restaurant/judge?behavior=", "behavior", "name the behaviour"),
    ("/settings/restaurant?status=maybe", "status", "one of applies"),
    ("/settings/restaurant?page=zero", "page", "a whole number"),
    ("/search?q=", "q", "type a few words"),
    ("/search?q=beer&k=1000", "k", "from 1 to 100"),
    ("/ground?situation=", "situation", "describe the situation"),
    ("/ground?situation=beer&setting=atlantis", "setting", "unknown setting 'atlantis'"),
    ("/settings/restaurant?role=" + "r" * 201, "role", "at most 200 characters"),
])
def test_bad_input_re_renders_the_form_with_the_error_beside_the_field(client, path, field, message):
    html = get_page(client, path, 422)
    if field != "page":  # the page number has no input of its own, only its error above the button
        assert re.search(rf'id="{field}"[^>]*aria-invalid="true" aria-describedby="{field}-error"', html), field
    error = re.search(rf'<p class="field-error" id="{field}-error">(.*?)</p>', html, re.S)
    assert error and message in unescape(error.group(1))


def test_a_bad_fact_keeps_what_was_typed(client):
    html = get_page(client, ADULT + "&attr=age+bracket", 422)
    assert 'value="age bracket"' in html and 'value="customer"' in html


def test_assets_are_served_by_the_app(client):
    for path, kind in [("/static/explorer/explorer.css", "text/css"), ("/static/explorer/explorer.js", "javascript")]:
        response = client.get(path)
        assert response.status_code == 200 and kind in response.headers["content-type"]
    html = get_page(client, "/")
    assert not re.search(r'(src|href)="(https?:)?//', html.replace('href="https://', "")), "an asset from elsewhere"


def test_pages_stay_out_of_the_openapi_document(client):
    paths = client.get("/openapi.json").json()["paths"]
    assert all(p.startswith("/v1/") or p in ("/healthz", "/readyz") for p in paths)


def test_setting_names_with_spaces_round_trip(client):
    names = [s["name"] for s in client.get("/v1/settings").json()["data"] if " " in s["name"]]
    if not names:
        pytest.skip("the sample has no setting with a space in its name")
    html = get_page(client, "/")
    assert f'href="/settings/{quote(names[0], safe="")}"' in html
    assert title(get_page(client, f"/settings/{quote(names[0], safe='')}")) == f"Setting: {names[0]} · normbank"


def test_search_with_a_setting_that_links_to_nothing_says_so_beside_the_field(client):
    html = get_page(client, "/search?q=beer&setting=atlantis", 422)
    assert 'id="setting-error"' in html and "unknown setting" in html


def test_a_database_never_initialised_is_a_503_page(tmp_path):
    from fastapi.testclient import TestClient

    from api.app import create_app
    from tests.conftest import app_settings

    settings = app_settings(f"sqlite:///{tmp_path / 'empty.db'}", tmp_path, index_on_start="off")
    with TestClient(create_app(settings)) as client:
        html = get_page(client, "/", 503)
        assert title(html) == "Service unavailable · normbank" and "normbank init" in text(html)
        assert client.get("/v1/settings").json()["error"]["code"] == "database_unavailable"


def test_the_norm_page_lists_fields_it_does_not_lay_out_itself(client, monkeypatch):
    from api import service

    nid = norm_id(client)
    real = service.norm
    monkeypatch.setattr(service, "norm", lambda conn, n: {**real(conn, n), "agreement": 0.8})
    assert "Agreement 0.8" in text(get_page(client, f"/norms/{nid}"))
