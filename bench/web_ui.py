"""Benchmark: the web UI's weight and its first load against a local gateway.

- Bundle: every JavaScript and CSS file of web/dist/assets, raw and as the build precompressed it
  (`.gz` and `.br` beside each, what the gateway sends), against the budget of 150 KB compressed.
- First load: a signed-in person opening the dashboard of 20 agents in Debian's headless Chromium,
  from navigation start until the agent cards are on the page (recorded in the page by a
  MutationObserver, so polling does not add to it). Cold: a new browser profile each time, nothing
  cached. Warm: the same page loaded again, the hashed assets from the cache. Goal: under 1 s.
- Transferred: the bytes that crossed the wire per load (Resource Timing's `transferSize`: headers
  and the encoded body, 0 for what came from the cache), the page and its assets; the API's calls
  are counted apart.

Run: `uv run python -m bench.web_ui` (after `make install`, which builds the UI).
"""

from __future__ import annotations

import statistics
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
from playwright.sync_api import Browser, Page, sync_playwright

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


def bundle() -> tuple[int, int, int]:
    """Raw, gzip and brotli bytes of the JS and CSS, as built (a missing variant fails)."""
    files = [p for p in (DIST / "assets").iterdir() if p.suffix in (".js", ".css")]
    if not files:
        raise SystemExit("web/dist has no assets: run `make install` first")
    totals = [0, 0, 0]
    for path in sorted(files):
        sizes = [path.stat().st_size]
        for suffix in (".gz", ".br"):
            variant = path.with_name(path.name + suffix)
            if not variant.is_file():
                raise SystemExit(f"{variant} is missing: the build precompresses every asset")
            sizes.append(variant.stat().st_size)
        print(
            f"  {path.name:<32} {sizes[0] / 1024:7.1f} KB  gzip {sizes[1] / 1024:6.1f} KB"
            f"  br {sizes[2] / 1024:6.1f} KB"
        )
        totals = [t + s for t, s in zip(totals, sizes, strict=True)]
    return totals[0], totals[1], totals[2]


# Bytes over the wire per load: the document and its assets, and the API's calls apart.
TRANSFERRED = """
(() => {
  const nav = performance.getEntriesByType('navigation')[0];
  let ui = nav ? nav.transferSize : 0, api = 0;
  for (const r of performance.getEntriesByType('resource')) {
    if (new URL(r.name).pathname.startsWith('/api/')) api += r.transferSize; else ui += r.transferSize;
  }
  return [ui, api];
})()
"""


def ready_at(page: Page) -> float:
    """When the cards showed, read by polling from here: `wait_for_function` evaluates its
    predicate in the page, which the gateway's CSP (no 'unsafe-eval') refuses."""
    deadline = time.monotonic() + 30
    while (ready := page.evaluate("window.__ready ?? null")) is None:
        if time.monotonic() > deadline:
            raise TimeoutError("the dashboard's cards never showed")
        page.wait_for_timeout(20)
    return float(ready)


def load_times(
    browser: Browser, url: str, token: str
) -> tuple[list[float], list[float], list[list[int]], list[list[int]]]:
    cold: list[float] = []
    warm: list[float] = []
    cold_bytes: list[list[int]] = []
    warm_bytes: list[list[int]] = []
    for _ in range(LOADS):
        context = browser.new_context(extra_http_headers={"Authorization": f"Bearer {token}"})
        context.add_init_script(READY)
        page = context.new_page()
        for times, sizes in ((cold, cold_bytes), (warm, warm_bytes)):
            page.goto(url)
            times.append(ready_at(page))
            sizes.append(page.evaluate(TRANSFERRED))
        context.close()
    return cold, warm, cold_bytes, warm_bytes


def summary(name: str, samples: list[float]) -> str:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return f"  {name:<5} median {statistics.median(ordered):6.0f} ms   p95 {p95:6.0f} ms   max {ordered[-1]:6.0f} ms"


def main() -> None:
    print(f"# web UI — {datetime.now(UTC):%Y-%m-%d %H:%M} UTC — {machine()}")
    print("bundle (web/dist/assets):")
    raw, gzipped, brotli = bundle()
    verdict = "within" if gzipped <= BUDGET_BYTES else "OVER"
    print(
        f"  total JS + CSS: {raw / 1024:.1f} KB raw, {gzipped / 1024:.1f} KB gzip, "
        f"{brotli / 1024:.1f} KB brotli ({verdict} the 150 KB budget)"
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
            cold, warm, cold_bytes, warm_bytes = load_times(browser, f"{stack.gateway_url}/", token)
            browser.close()
    print(
        f"first load of the dashboard ({AGENTS} agents, {LOADS} loads, until the cards show; goal < 1000 ms):"
    )
    print(summary("cold", cold))
    print(summary("warm", warm))
    print("transferred per load (median; page + assets, API calls apart):")
    for name, sizes in (("cold", cold_bytes), ("warm", warm_bytes)):
        ui = statistics.median(s[0] for s in sizes)
        api = statistics.median(s[1] for s in sizes)
        print(f"  {name:<5} UI {ui / 1024:6.1f} KB   API {api / 1024:6.1f} KB")


if __name__ == "__main__":
    main()
