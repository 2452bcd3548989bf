"""Signing in by mailed link, signing out, and who the caller is.

`/auth/callback` sits outside `/api/v1`: it is the page a mailed link opens. Opening it (GET) only
shows a button; the link is used by the POST that button sends, so a mail scanner or browser that
fetches links ahead of the reader cannot use it up.
"""

from __future__ import annotations

import html
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse

from gateway.deps import AnonymousTx, ClientDep, MailDep, ReadTx, SettingsDep, Tx
from gateway.errors import ApiError, ErrorPublic
from gateway.identity import csrf, service
from gateway.identity.cookies import SESSION_COOKIE, clear_session_cookie, set_session_cookie
from gateway.identity.schemas import (
    MagicLinkAccepted,
    MagicLinkRequest,
    MePublic,
    SignedOutEverywhere,
)
from gateway.ratelimit import limit

router = APIRouter(prefix="/api/v1", tags=["identity"])
callback = APIRouter(tags=["identity"])

LinkToken = Annotated[str, Query(min_length=1, max_length=200, description="The link's secret.")]
ACCEPTED = MagicLinkAccepted(
    message="If this address can sign in, a sign-in link is on its way to it."
)
REFUSED: dict[int | str, dict[str, Any]] = {
    303: {
        "description": "Signed in: the session cookie is set; on to the studio. A browser "
        "(`Accept: text/html`) whose link is refused goes to `/sign-in?link=<unknown|used|expired>`"
        " instead of the 400, to read what happened and ask for a new link."
    },
    400: {"model": ErrorPublic, "description": "The link is unknown, used or expired."},
    403: {"model": ErrorPublic, "description": "Posted from another site."},
}
NO_SESSION: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorPublic, "description": "Authenticated by an API token, not a session."}
}


@router.post(
    "/auth/magic-link",
    status_code=202,
    response_model=MagicLinkAccepted,
    dependencies=[limit("sign_in")],
)
async def request_magic_link(
    body: MagicLinkRequest, tx: AnonymousTx, settings: SettingsDep, mail: MailDep
) -> MagicLinkAccepted:
    """Mail a sign-in link. The answer is the same whether or not the address has an account (a
    new one is made when its first link is used)."""
    await service.request_link(tx.session, body.email, settings)
    if mail is not None:
        tx.after_commit(mail.nudge)
    return ACCEPTED


@callback.get("/auth/callback", response_class=HTMLResponse, include_in_schema=False)
async def sign_in_page(token: LinkToken) -> HTMLResponse:
    action = html.escape(f"/auth/callback?token={token}", quote=True)
    return HTMLResponse(
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        "<meta name=referrer content=same-origin><title>Sign in to Agent Studio</title></head>"
        f'<body><form method=post action="{action}"><button type=submit>Sign in to Agent Studio'
        "</button></form></body></html>",
        # same-origin, not no-referrer: under no-referrer a browser sends `Origin: null` with the
        # form's POST, which the sign-in refuses; the link still never leaks to another site.
        headers={"Cache-Control": "no-store", "Referrer-Policy": "same-origin"},
    )


@callback.post(
    "/auth/callback", status_code=303, responses=REFUSED, dependencies=[limit("sign_in")]
)
async def complete_sign_in(
    token: LinkToken, request: Request, tx: AnonymousTx, settings: SettingsDep, client: ClientDep
) -> Response:
    """Use the link: a new session, its cookie, and on to the studio (`/`)."""
    allowed = csrf.origin_of(settings.base_url) or settings.base_url
    foreign = csrf.foreign_origin(
        request.headers.get("origin"), request.headers.get("referer"), allowed
    )
    if foreign is not None:  # another site signing the browser in to an account of its choice
        raise ApiError(403, "csrf_refused", f"a sign-in from {foreign} is refused")
    outcome = await service.complete_sign_in(
        tx.session, token, request.cookies.get(SESSION_COOKIE), settings, client
    )
    if outcome.secret is None:
        # Answered, not raised: the failed attempt's audit entry commits with the transaction.
        if "text/html" in request.headers.get("accept", ""):
            # A person opened the link in a browser: the sign-in page says what happened and
            # offers a new link. API clients keep the JSON error below.
            refused = RedirectResponse(f"/sign-in?link={outcome.refused}", status_code=303)
            refused.headers["Cache-Control"] = "no-store"
            return refused
        return JSONResponse(
            {
                "error": {
                    "code": "invalid_link",
                    "message": f"this sign-in link is {outcome.refused}; ask for a new one",
                }
            },
            status_code=400,
        )
    response = RedirectResponse("/", status_code=303)
    set_session_cookie(response, outcome.secret, settings)
    response.headers["Cache-Control"] = "no-store"
    return response


@router.post("/auth/sign-out", status_code=204, responses=NO_SESSION)
async def sign_out(tx: Tx, settings: SettingsDep, client: ClientDep) -> Response:
    """End the session of this request's cookie."""
    await service.sign_out(tx.session, tx.caller, client)
    response = Response(status_code=204)
    clear_session_cookie(response, settings)
    return response


@router.post("/auth/sign-out-everywhere", response_model=SignedOutEverywhere)
async def sign_out_everywhere(
    tx: Tx, client: ClientDep, settings: SettingsDep, response: Response
) -> SignedOutEverywhere:
    """End every session of the caller, on every device (API tokens stay; revoke those apart)."""
    revoked = await service.sign_out_everywhere(tx.session, tx.caller, client)
    if tx.caller.session is not None:
        clear_session_cookie(response, settings)
    return SignedOutEverywhere(sessions_revoked=revoked)


@router.get("/me", response_model=MePublic)
async def who_am_i(tx: ReadTx, settings: SettingsDep) -> MePublic:
    """The caller, and for a browser session its details and the CSRF token its writes need."""
    return await service.me(tx.session, tx.caller, settings)
