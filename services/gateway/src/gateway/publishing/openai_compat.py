"""An OpenAI-compatible endpoint serving published agents: any OpenAI SDK works unchanged with
`base_url` pointed at the gateway and an Agent Studio API token as its key.

`model` names the agent: `agent:<id>` (its production channel), `agent:<id>@<channel>` or
`agent:<id>@v<N>`. The published instructions (their `{{variables}}` filled from the request's
`variables`, an extra body field) become the system message; the caller's messages follow; the
request goes to the AI provider through the adapter (breaker, retries), streamed when asked.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any
from uuid import UUID

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from contracts.instructions import RenderError, render
from gateway.deps import CurrentUser, ProviderDep, PublishedDep
from gateway.errors import error_responses
from runtime.ai import ProviderInvalidOutput, ProviderRejected, ProviderUnavailable

router = APIRouter(tags=["openai-compatible"])
MODEL = re.compile(
    r"^agent:(?P<agent>[0-9a-fA-F-]{36})(?:@(?:v(?P<number>\d+)|(?P<channel>[a-z][a-z0-9_-]{0,39})))?$"
)


class ChatRequest(BaseModel):
    """The parameters an agent endpoint honours; any other (tools, response_format, n…) is
    refused by name rather than silently ignored."""

    model_config = ConfigDict(extra="forbid")

    model: str
    messages: list[dict[str, Any]] = Field(min_length=1, max_length=500)
    stream: bool = False
    stream_options: dict[str, Any] | None = None
    temperature: float | None = Field(default=None, ge=0, le=2)
    max_tokens: int | None = Field(default=None, ge=1)
    user: str | None = None
    variables: dict[str, Any] = Field(default_factory=dict)


def openai_error(
    status: int, message: str, type_: str, code: str, param: str | None = None
) -> JSONResponse:
    return JSONResponse(
        {"error": {"message": message, "type": type_, "param": param, "code": code}},
        status_code=status,
    )


@router.post(
    "/v1/chat/completions",
    response_model=None,
    responses=error_responses(503),  # OpenAI's error shape has the same `code` and `message`
)
async def chat_completions(
    request: Request,
    user: CurrentUser,
    published: PublishedDep,
    provider: ProviderDep,
) -> Response:
    try:
        body = ChatRequest.model_validate_json(await request.body())
    except ValidationError as exc:
        err = exc.errors()[0]
        field = ".".join(str(p) for p in err["loc"])
        message = (
            f"{field}: not supported by agent endpoints"
            if err["type"] == "extra_forbidden"
            else f"{field}: {err['msg']}"
        )
        return openai_error(400, message, "invalid_request_error", "invalid_request", field)
    match = MODEL.match(body.model)
    if match is None:
        return openai_error(
            404,
            f"model {body.model!r} is not an agent: use agent:<id>, agent:<id>@<channel> or "
            "agent:<id>@v<N>",
            "invalid_request_error",
            "model_not_found",
            "model",
        )
    agent_id = UUID(match["agent"])
    number = int(match["number"]) if match["number"] else None
    found = published.resolve(agent_id, channel=match["channel"], number=number)
    if found is None or found.owner_id != user:  # the read model knows each agent's owner
        where = f"version {number}" if number else f"channel {match['channel'] or 'production'}"
        return openai_error(
            404,
            f"no published agent {agent_id} on {where}",
            "invalid_request_error",
            "model_not_found",
            "model",
        )
    try:
        system = render(found.instructions, found.variables, body.variables)
    except RenderError as exc:
        return openai_error(
            400, str(exc), "invalid_request_error", "invalid_variables", "variables"
        )
    messages = [{"role": "system", "content": system}, *body.messages]
    model = found.settings.model
    temperature = body.temperature if body.temperature is not None else found.settings.temperature
    if body.stream:
        return StreamingResponse(
            _chunks(provider, messages, model, temperature, body),
            media_type="text/event-stream",
        )
    try:
        completion = await provider.complete(
            messages, model=model, temperature=temperature, max_tokens=body.max_tokens
        )
    except ProviderRejected as exc:
        return openai_error(exc.status, exc.message, "invalid_request_error", "provider_rejected")
    except ProviderUnavailable as exc:
        headers = {"Retry-After": str(max(1, round(exc.retry_after)))} if exc.retry_after else None
        response = openai_error(503, str(exc), "server_error", "provider_unavailable")
        response.headers.update(headers or {})
        return response
    except ProviderInvalidOutput as exc:  # the provider answered, but not with a chat completion
        return openai_error(502, str(exc), "server_error", "provider_invalid_output")
    return JSONResponse(
        {
            "id": f"chatcmpl-{uuid.uuid4().hex}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.model,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": completion.text, "refusal": None},
                    "finish_reason": "stop",
                    "logprobs": None,
                }
            ],
            "usage": {
                "prompt_tokens": completion.prompt_tokens,
                "completion_tokens": completion.completion_tokens,
                "total_tokens": completion.prompt_tokens + completion.completion_tokens,
            },
            "system_fingerprint": f"{agent_id}.v{found.number}",
        }
    )


async def _chunks(
    provider: Any,
    messages: list[dict[str, Any]],
    model: str | None,
    temperature: float | None,
    body: ChatRequest,
) -> AsyncIterator[str]:
    """OpenAI's streaming format: `chat.completion.chunk` events, then `data: [DONE]`."""
    chunk_id = f"chatcmpl-{uuid.uuid4().hex}"
    created = int(time.time())

    def event(delta: dict[str, Any], finish: str | None = None) -> str:
        chunk = {
            "id": chunk_id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": body.model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}],
        }
        return f"data: {json.dumps(chunk)}\n\n"

    yield event({"role": "assistant", "content": ""})
    try:
        async for text in provider.stream(
            messages, model=model, temperature=temperature, max_tokens=body.max_tokens
        ):
            yield event({"content": text})
    except (ProviderRejected, ProviderUnavailable) as exc:
        error = {"error": {"message": str(exc), "type": "server_error", "code": "provider_error"}}
        yield f"data: {json.dumps(error)}\n\n"
        return
    yield event({}, "stop")
    yield "data: [DONE]\n\n"
