"""An OpenAI-compatible provider for the benchmarks, in a process of its own.

The test suite's `FakeOpenAI` (tests/support/fake_openai.py) served by uvicorn on 127.0.0.1:PORT,
answering every chat completion `Answer to: <last user message>` after LATENCY seconds. It keeps no
record of the requests (a benchmark sends tens of thousands). Its own process, so that neither the
benchmark's GIL nor its event loop sits between the systems measured and their provider.

Run: `uv run python -m bench.fake_provider --port PORT [--latency SECONDS]`; `running_fake_provider`
starts it as a subprocess and waits until it answers.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import uvicorn

from tests.support.fake_openai import FakeOpenAI, RecordedRequest


class _Forgetful(list[RecordedRequest]):
    """A request log that records nothing, so the server's memory stays flat."""

    def append(self, item: RecordedRequest) -> None:
        pass


def answer(body: dict[str, Any]) -> str:
    messages: list[dict[str, Any]] = body.get("messages", [])
    user = next((str(m.get("content", "")) for m in reversed(messages) if m["role"] == "user"), "")
    return f"Answer to: {user}"


def serve(port: int, latency: float) -> None:
    fake = FakeOpenAI()
    fake.requests = _Forgetful()
    fake.latency = latency
    fake.reply_with(answer)
    uvicorn.run(
        fake.app,
        host="127.0.0.1",
        port=port,
        log_level="warning",
        access_log=False,
        lifespan="off",
        backlog=4096,
        timeout_graceful_shutdown=2,
    )


@dataclass(frozen=True)
class FakeProvider:
    base_url: str  # ends in /v1
    pid: int


@contextmanager
def running_fake_provider(port: int, latency: float) -> Iterator[FakeProvider]:
    """Serve the fake provider with `latency` on `port` until the block ends."""
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "bench.fake_provider",
            "--port",
            str(port),
            "--latency",
            str(latency),
        ]
    )
    base_url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 15
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"the fake provider exited with {proc.returncode}")
            try:
                reply = httpx.post(
                    f"{base_url}/chat/completions",
                    json={"model": "m", "messages": [{"role": "user", "content": "ping"}]},
                    timeout=5,
                )
                if reply.status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("the fake provider did not answer within 15 s")
            time.sleep(0.05)
        yield FakeProvider(base_url, proc.pid)
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--latency", type=float, default=0.0, help="seconds added per request")
    args = parser.parse_args()
    serve(args.port, args.latency)


if __name__ == "__main__":
    main()
