"""The product as a person meets it: every service as a real process, the AI provider a scripted
OpenAI-compatible server, the UI built by `make install`, a real browser."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser

from tests.e2e.test_test_runs import provider_env
from tests.support.browser import (
    Watched,
    browser,  # noqa: F401  (a fixture)
    new_context,
    sign_in,
    watch,
)
from tests.support.fake_openai import FakeOpenAI, running_fake_openai
from tests.support.fixtures import Stack, running_stack


@pytest.fixture(scope="session")
def product(
    postgres_url: str, nats_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Stack, FakeOpenAI]]:
    with (
        running_fake_openai() as fake,
        running_stack(
            postgres_url,
            nats_url,
            tmp_path_factory.mktemp("logs"),
            ("compiler", "test-runner", "publisher", "gateway"),
            # One address signs in many times a minute here, as no person does.
            {**provider_env(fake), "RATE_LIMIT_SIGN_IN": "1000/minute"},
        ) as running,
    ):
        yield running, fake


@pytest.fixture(scope="session")
def stack(product: tuple[Stack, FakeOpenAI]) -> Stack:
    return product[0]


@pytest.fixture
def provider(product: tuple[Stack, FakeOpenAI]) -> Iterator[FakeOpenAI]:
    """The AI provider the stack calls, to script per test (what is left of the script is
    forgotten after it)."""
    yield product[1]
    product[1].recover()


@pytest.fixture
def signed_in(browser: Browser, stack: Stack) -> Iterator[Watched]:  # noqa: F811  (a fixture)
    """A page of a new person, signed in through the mailed link; clean when the test ends."""
    context = new_context(browser)
    watched = watch(context)
    sign_in(watched, stack.gateway_url, f"user-{uuid.uuid4().hex[:8]}@example.com")
    yield watched
    watched.assert_clean()
    context.close()
