"""The web UI: the single-page app built into `web/dist`, served at `/` beside the API.

Built assets carry a content hash in their names, so they are cached for a year; `index.html` is
revalidated on every load, so a new build is picked up at once. Any other GET outside the API
answers `index.html`, so a client route (`/agents/<id>/testing`) can be reloaded and shared.

The build also writes each hashed asset compressed beside it (`.br`, `.gz`, web/vite.config.ts):
the variant the browser accepts is sent as it is, so nothing is compressed per request.
"""

from __future__ import annotations

import mimetypes
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, Response
from starlette.exceptions import HTTPException
from starlette.types import Receive, Scope, Send

from gateway.errors import ApiError

REPOSITORY_DIST = Path(__file__).resolve().parents[4] / "web" / "dist"
IMMUTABLE = "public, max-age=31536000, immutable"
# Precompressed variants by preference: (the request's token, the file's suffix).
ENCODINGS = (("br", ".br"), ("gzip", ".gz"))
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
        response = _respond(
            root, request.method, request.url.path, request.headers.get("accept-encoding", "")
        )
        await response(scope, receive, send)

    app.router.default = fallback


def _respond(root: Path, method: str, url_path: str, accept_encoding: str) -> Response:
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
        if path.startswith("assets/"):
            return _asset(asset, accept_encoding)
        return FileResponse(asset, headers={"Cache-Control": "public, max-age=3600"})
    if path.startswith("assets/"):
        raise HTTPException(404)  # a stale hashed name: never answer it with the page
    return FileResponse(index, headers={"Cache-Control": "no-cache"})


def _asset(asset: Path, accept_encoding: str) -> Response:
    """A hashed asset: its precompressed variant when the browser accepts one, cached for a year.
    Either way the answer varies with Accept-Encoding, so a shared cache keeps them apart."""
    headers = {"Cache-Control": IMMUTABLE, "Vary": "Accept-Encoding"}
    accepted = _accepted(accept_encoding)
    for token, suffix in ENCODINGS:
        variant = asset.with_name(asset.name + suffix)
        if token in accepted and variant.is_file():
            # The media type is the original file's, not that of a .br or .gz file.
            media_type = mimetypes.guess_type(asset.name)[0] or "application/octet-stream"
            headers["Content-Encoding"] = token
            return FileResponse(variant, media_type=media_type, headers=headers)
    return FileResponse(asset, headers=headers)


def _accepted(accept_encoding: str) -> set[str]:
    """The codings an Accept-Encoding header allows (those given `q=0` are refused)."""
    accepted = set()
    for item in accept_encoding.split(","):
        token, _, params = item.partition(";")
        quality = params.strip().removeprefix("q=") if params else "1"
        try:
            if float(quality) > 0:
                accepted.add(token.strip().lower())
        except ValueError:
            continue  # a malformed weight: not an acceptance
    return accepted


def _file_under(root: Path, path: str) -> Path | None:
    """The file `path` names inside `root`, or None (also for `..` tricks leaving it)."""
    if not path:
        return None
    candidate = (root / path).resolve()
    if not candidate.is_relative_to(root) or not candidate.is_file():
        return None
    return candidate
