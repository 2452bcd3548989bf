"""Serving the built UI (web.py): hashed assets cached for a year, the page revalidated, client
routes answered with the page, and the API's own answers left exactly as they were."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from gateway.errors import ApiError
from gateway.web import dist_dir, mount_web_ui

PAGE = "<!doctype html><title>Agent Studio</title>"


def app_serving(dist: Path, *, docs: bool = True) -> TestClient:
    app = FastAPI() if docs else FastAPI(openapi_url=None, docs_url=None, redoc_url=None)

    @app.get("/api/v1/agents")
    async def agents() -> dict[str, str]:
        return {"ok": "agents"}

    @app.exception_handler(ApiError)
    async def api_error(_request: object, exc: ApiError) -> object:
        from fastapi.responses import JSONResponse

        return JSONResponse({"error": {"code": exc.code}}, status_code=exc.status_code)

    mount_web_ui(app, dist)
    return TestClient(app)


@pytest.fixture
def built(tmp_path: Path) -> TestClient:
    (tmp_path / "assets").mkdir()
    (tmp_path / "index.html").write_text(PAGE)
    (tmp_path / "assets" / "index-3f2a.js").write_text("console.log(1)")
    (tmp_path / "favicon.svg").write_text("<svg/>")
    (tmp_path.parent / "secret.txt").write_text("not for the web")
    return app_serving(tmp_path)


def test_the_page_is_served_at_the_root_and_revalidated_on_every_load(built: TestClient) -> None:
    page = built.get("/")

    assert page.status_code == 200
    assert page.text == PAGE
    assert page.headers["cache-control"] == "no-cache"


def test_a_client_route_answers_the_page_so_a_shared_link_reloads(built: TestClient) -> None:
    page = built.get("/agents/5a1c/testing")

    assert page.status_code == 200
    assert page.text == PAGE


def test_hashed_assets_are_cached_for_a_year(built: TestClient) -> None:
    asset = built.get("/assets/index-3f2a.js")

    assert asset.status_code == 200
    assert asset.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert "javascript" in asset.headers["content-type"]


def test_a_missing_asset_is_a_404_not_the_page(built: TestClient) -> None:
    assert built.get("/assets/index-0000.js").status_code == 404


def test_files_outside_the_build_are_never_served(built: TestClient) -> None:
    leaked = built.get("/assets/../../secret.txt")
    encoded = built.get("/%2e%2e/secret.txt")

    assert "not for the web" not in leaked.text
    assert "not for the web" not in encoded.text


def test_api_routes_and_unknown_api_paths_keep_their_own_answers(built: TestClient) -> None:
    assert built.get("/api/v1/agents").json() == {"ok": "agents"}
    assert built.get("/api/v1/nothing-here").status_code == 404
    assert built.get("/v1/models-unknown").status_code == 404
    assert built.post("/api/v1/agents").status_code == 405
    assert built.post("/somewhere").status_code == 404
    assert PAGE not in built.get("/api/v1/nothing-here").text


def test_turned_off_documentation_is_a_404_not_the_page(tmp_path: Path) -> None:
    (tmp_path / "index.html").write_text(PAGE)
    without_docs = app_serving(tmp_path, docs=False)

    for path in ("/openapi.json", "/docs", "/redoc", "/metrics"):
        assert without_docs.get(path).status_code == 404, path


def test_by_default_the_repositorys_build_is_served() -> None:
    assert dist_dir(None) == Path(__file__).resolve().parents[4] / "web" / "dist"
    assert dist_dir(Path("/srv/ui")) == Path("/srv/ui")


def test_without_a_build_the_root_says_how_to_build_it(tmp_path: Path) -> None:
    answer = app_serving(tmp_path / "missing").get("/")

    assert answer.status_code == 404
    assert answer.json() == {"error": {"code": "ui_not_built"}}


@pytest.fixture
def compressed(tmp_path: Path) -> TestClient:
    (tmp_path / "assets").mkdir()
    (tmp_path / "index.html").write_text(PAGE)
    script = tmp_path / "assets" / "index-3f2a.js"
    script.write_text("console.log(1)")
    (tmp_path / "assets" / "index-3f2a.js.gz").write_bytes(gzip.compress(script.read_bytes()))
    (tmp_path / "assets" / "index-3f2a.js.br").write_bytes(b"brotli bytes")
    (tmp_path / "assets" / "index-9c1d.css").write_text("a{}")
    (tmp_path / "assets" / "index-9c1d.css.gz").write_bytes(gzip.compress(b"a{}"))
    return app_serving(tmp_path)


def test_a_precompressed_asset_is_sent_as_the_browser_accepts_it(compressed: TestClient) -> None:
    with compressed.stream(
        "GET", "/assets/index-3f2a.js", headers={"Accept-Encoding": "gzip, br"}
    ) as brotli:  # read raw: the bytes are not real brotli
        raw = b"".join(brotli.iter_raw())
    zipped = compressed.get("/assets/index-3f2a.js", headers={"Accept-Encoding": "gzip"})
    refused = compressed.get("/assets/index-3f2a.js", headers={"Accept-Encoding": "br;q=0, gzip"})
    plain = compressed.get("/assets/index-3f2a.js", headers={"Accept-Encoding": "identity"})
    css = compressed.get("/assets/index-9c1d.css", headers={"Accept-Encoding": "br, gzip"})

    assert brotli.headers["content-encoding"] == "br"
    assert raw == b"brotli bytes"  # sent as built, for the browser to decode
    assert zipped.headers["content-encoding"] == "gzip"
    assert zipped.text == "console.log(1)"  # httpx decodes it: the right bytes, rightly labelled
    assert refused.headers["content-encoding"] == "gzip"
    assert "content-encoding" not in plain.headers
    assert plain.text == "console.log(1)"
    assert css.headers["content-encoding"] == "gzip"  # no .br for it: the next best
    for answer in (brotli, zipped, plain, css):
        assert answer.headers["vary"] == "Accept-Encoding"
        assert answer.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert "javascript" in brotli.headers["content-type"]
    assert "javascript" in zipped.headers["content-type"]
    assert css.headers["content-type"].startswith("text/css")


def test_the_page_itself_is_never_sent_compressed_from_an_asset(compressed: TestClient) -> None:
    page = compressed.get("/agents/5a1c", headers={"Accept-Encoding": "br, gzip"})

    assert page.text == PAGE
    assert "content-encoding" not in page.headers
