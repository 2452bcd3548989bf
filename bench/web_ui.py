"""Benchmark: the web UI's weight and its first load against a local gateway.

- Bundle: every JavaScript and CSS file of web/dist/assets, raw and gzip-compressed (level 9, as a
  server would send it), against the budget of 150 KB compressed.
- First load: a signed-in person opening the dashboard of 20 agents in Debian's headless Chromium,
  from navigation start until the agent cards are on the page (recorded in the page by a
  MutationObserver, so polling does not add to it). Cold: a new browser profile each time, nothing
  cached. Warm: the same page loaded again, the hashed assets from the cache. Goal: under 1 s.

Run: `uv run python -m bench.web_ui` (after `make install`, which builds the UI).
"""

from __future__ import annotations

import gzip
import statistics
from datetime import UTC, datetime
from pathlib import Path

import httpx
from playwright.sync_api import Browser, sync_playwright

from bench.harness import machine, running_stack
from tests.support.browser import CHROMIUM, FLAGS

DIST = Path(__file__).resolve().parents[1] / "web" / "dist"
BUDGET_BYTES = 150 * 1024
AGENTS = 20
LOADS = 10
READY = """
new MutationObserver((_, observer) => {
  if (document.querySelectorAll('.card h2 a').length >= AGENTS) {
    window.__ready = performance.now();
    observer.disconnect();
  }
}).observe(document, {subtree: true, childList: true});
""".replace("AGENTS", str(AGENTS))


def bundle() -> tuple[int, int]:
    files = [p for p in (DIST / "assets").iterdir() if p.suffix in (".js", ".css")]
    if not files:
        raise SystemExit("web/dist has no assets: run `make install` first")
    raw = sum(p.stat().st_size for p in files)
    compressed = sum(len(gzip.compress(p.read_bytes(), 9)) for p in files)
    for path in sorted(files):
        data = path.read_bytes()
        print(
            f"  {path.name:<32} {len(data) / 1024:7.1f} KB  gzip {len(gzip.compress(data, 9)) / 1024:6.1f} KB"
        )
    return raw, compressed


def load_times(browser: Browser, url: str, token: str) -> tuple[list[float], list[float]]:
    cold: list[float] = []
    warm: list[float] = []
    for _ in range(LOADS):
        context = browser.new_context(extra_http_headers={"Authorization": f"Bearer {token}"})
        context.add_init_script(READY)
        page = context.new_page()
        for times in (cold, warm):
            page.goto(url)
            page.wait_for_function("window.__ready !== undefined", timeout=30_000)
            times.append(page.evaluate("window.__ready"))
        context.close()
    return cold, warm


def summary(name: str, samples: list[float]) -> str:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return f"  {name:<5} median {statistics.median(ordered):6.0f} ms   p95 {p95:6.0f} ms   max {ordered[-1]:6.0f} ms"


def main() -> None:
    print(f"# web UI — {datetime.now(UTC):%Y-%m-%d %H:%M} UTC — {machine()}")
    print("bundle (web/dist/assets):")
    raw, compressed = bundle()
    verdict = "within" if compressed <= BUDGET_BYTES else "OVER"
    print(
        f"  total JS + CSS: {raw / 1024:.1f} KB raw, {compressed / 1024:.1f} KB gzip ({verdict} the 150 KB budget)"
    )
    with running_stack(("compiler", "gateway"), {"GATEWAY_WEB_DIST_DIR": str(DIST)}) as stack:
        token = stack.new_token()
        headers = {"Authorization": f"Bearer {token}"}
        for n in range(AGENTS):
            httpx.post(
                f"{stack.gateway_url}/api/v1/agents", json={"name": f"Agent {n}"}, headers=headers
            ).raise_for_status()
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=CHROMIUM, headless=True, args=FLAGS
            )
            cold, warm = load_times(browser, f"{stack.gateway_url}/", token)
            browser.close()
    print(
        f"first load of the dashboard ({AGENTS} agents, {LOADS} loads, until the cards show; goal < 1000 ms):"
    )
    print(summary("cold", cold))
    print(summary("warm", warm))


if __name__ == "__main__":
    main()
