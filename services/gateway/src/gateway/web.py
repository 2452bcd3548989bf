"""The web UI: the single-page app built into `web/dist`, served at `/` beside the API.

Built assets carry a content hash in their names, so they are cached for a year; `index.html` is
revalidated on every load, so a new build is picked up at once. Any other GET outside the API
answers `index.html`, so a client route (`/agents/<id>/testing`) can be reloaded and shared.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, Response
from starlette.exceptions import HTTPException
from starlette.types import Receive, Scope, Send

from gateway.errors import ApiError

REPOSITORY_DIST = Path(__file__).resolve().parents[4] / "web" / "dist"
IMMUTABLE = "public, max-age=31536000, immutable"
# Paths the UI never answers: an unknown API path stays a JSON 404.
# The documentation paths too, for when they are turned off.
NOT_THE_UI = (
    "/api/",
    "/v1/",
    "/auth/",
    "/healthz",
    "/readyz",
    "/metrics",
    "/docs",
    "/redoc",
    "/openapi.json",
)


def dist_dir(configured: Path | None) -> Path:
    return configured if configured is not None else REPOSITORY_DIST


def mount_web_ui(app: FastAPI, dist: Path) -> None:
    """Answer with the UI where no route matches: routes keep their 404s and 405s as they were."""
    root = dist.resolve()

    async def fallback(scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope)
        response = _respond(root, request.method, request.url.path)
        await response(scope, receive, send)

    app.router.default = fallback


def _respond(root: Path, method: str, url_path: str) -> Response:
    if method not in ("GET", "HEAD") or url_path.startswith(NOT_THE_UI):
        raise HTTPException(404)  # the router's own answer, unchanged
    index = root / "index.html"
    if not index.is_file():
        raise ApiError(
            404,
            "ui_not_built",
            f"the web UI is not built in {root}: run `make install` "
            "(npm ci and vite build in web/), or set GATEWAY_WEB_DIST_DIR",
        )
    path = url_path.lstrip("/")
    asset = _file_under(root, path)
    if asset is not None and asset != index:
        cache = IMMUTABLE if path.startswith("assets/") else "public, max-age=3600"
        return FileResponse(asset, headers={"Cache-Control": cache})
    if path.startswith("assets/"):
        raise HTTPException(404)  # a stale hashed name: never answer it with the page
    return FileResponse(index, headers={"Cache-Control": "no-cache"})


def _file_under(root: Path, path: str) -> Path | None:
    """The file `path` names inside `root`, or None (also for `..` tricks leaving it)."""
    if not path:
        return None
    candidate = (root / path).resolve()
    if not candidate.is_relative_to(root) or not candidate.is_file():
        return None
    return candidate
