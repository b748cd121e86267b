"""The web explorer: server-rendered pages at `/` over the same application layer as `/v1`.

Pages are Jinja2 templates (`templates/`); the stylesheet and the small script that re-renders a verdict
in place are served by the app itself (`static/`, at /static/explorer): no build step, no CDN."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from api.web import catalog_pages, reasoning_pages, render


def install(app: FastAPI) -> None:
    app.mount("/static/explorer", StaticFiles(directory=render.STATIC), name="explorer-static")
    app.state.html_error = render.error_page
    for module in (catalog_pages, reasoning_pages):
        app.include_router(module.router)
