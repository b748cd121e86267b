"""Liveness and readiness."""

from __future__ import annotations

import logging

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from api.deps import EngineDep, RetrieverDep
from api.models import Health, Readiness

log = logging.getLogger("normbank.api")

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=Health, summary="The process is up",
            responses={200: {"content": {"application/json": {"example": {"status": "ok"}}}}})
def healthz() -> Health:
    return Health(status="ok")


router.add_api_route("/healthz", healthz, methods=["HEAD"], include_in_schema=False)  # load balancers probe with HEAD


@router.get("/readyz", response_model=Readiness, summary="The service can answer queries",
            responses={200: {"content": {"application/json": {"example": {
                "status": "ready", "checks": {"database": "ok", "schema": "ok", "index": "ok"}}}}},
                503: {"model": Readiness, "description": "Not ready; `checks` says why"}})
def readyz(engine: EngineDep, retriever: RetrieverDep):
    """Ready when the database answers at the current schema and a vector index can serve free text
    (a stale index still serves while its replacement builds; `checks.index` says so)."""
    from schema.migrate import current_revision, head_revision

    checks: dict[str, str] = {}
    ready = True
    try:
        revision = current_revision(engine)
        checks["database"] = "ok"
        checks["schema"] = "ok" if revision == head_revision() else f"at {revision}, expected {head_revision()}; run normbank init"
    except Exception as exc:  # noqa: BLE001 - readiness reports, never raises; the reason goes to the log only
        log.warning("readiness: database unreachable: %s", str(exc).splitlines()[0][:300])
        checks["database"] = "unreachable"
    ready = all(v == "ok" for v in checks.values())
    if ready:
        try:
            status = retriever.status()
        except Exception as exc:  # noqa: BLE001
            status = {"state": "error", "reason": str(exc).splitlines()[0][:200]}
        state = status["state"]
        if state == "fresh":
            checks["index"] = "ok"
        elif state == "off":
            checks["index"] = "off: free text is served by full-text search only"
        elif state in ("stale", "building") and retriever.store.current_manifest() is not None:
            checks["index"] = f"ok, stale ({status['reason']}); " + ("rebuilding" if retriever.building else "rebuilds on demand")
        else:
            checks["index"] = f"{state}: {status.get('reason')}" + (f"; last error: {status['last_error']}" if status.get("last_error") else "")
            ready = False
    body = Readiness(status="ready" if ready else "not ready", checks=checks)
    if ready:
        return body
    return JSONResponse(body.model_dump(), status_code=503)
