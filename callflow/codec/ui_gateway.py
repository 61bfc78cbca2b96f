"""The Temporal UI behind the codec server, on one origin, so a browser can present credentials.

The Temporal UI calls its codec endpoint from the browser with `fetch`, sending neither
cookies nor an `Authorization` header to another origin unless UI authentication (OIDC) is on
(`passAccessToken`) or `includeCredentials` is set, and the dev server's UI offers neither.
So the codec server serves the UI itself: every path but its own is proxied to the Temporal UI
(CALLFLOW_CODEC_UI_UPSTREAM), and the UI's codec endpoint is this server's `/codec`. Pages and
codec requests then share one origin, and the browser sends the operator's session cookie
with the codec requests on its own.

The operator signs in once at `/codec/login` with the codec server's bearer token; the cookie
holds an expiry and an HMAC of it keyed by that token (HttpOnly, SameSite=Strict, path
`/codec`), so rotating the token signs everyone out. Without the cookie (or opened straight on
the Temporal UI's own port) the UI gets 401 from the codec and shows the payloads encrypted.
"""

from __future__ import annotations

import hashlib
import hmac
import html
import time
from urllib.parse import parse_qs

import httpx
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse

SESSION_COOKIE = "callflow_codec_session"
SESSION_TTL_S = 12 * 3600
CODEC_PATH = "/codec"
# Per RFC 9110 these describe one connection, not the message, so a proxy drops them.
_HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "host",
        "content-length",
    }
)


def _mac(token: str, expires: int) -> str:
    return hmac.new(
        token.encode(), f"codec-ui-session:{expires}".encode(), hashlib.sha256
    ).hexdigest()


def session_value(token: str, *, now: float | None = None) -> str:
    expires = int((time.time() if now is None else now) + SESSION_TTL_S)
    return f"{expires}.{_mac(token, expires)}"


def session_valid(value: str | None, token: str, *, now: float | None = None) -> bool:
    if not value or "." not in value:
        return False
    expires_text, _, mac = value.partition(".")
    if not expires_text.isdigit() or int(expires_text) < (time.time() if now is None else now):
        return False
    return hmac.compare_digest(mac, _mac(token, int(expires_text)))


def _local_path(next_path: str) -> str:
    """Only a path on this origin (never `//host` or a scheme) may follow the login."""
    if next_path.startswith("/") and not next_path.startswith("//") and "\\" not in next_path:
        return next_path
    return "/"


_LOGIN_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>callflow codec: sign in</title></head>
<body>
<h1>Read encrypted calls in the Temporal UI</h1>
<p>{message}</p>
<form method="post" action="{codec}/login">
  <label>Codec server token (CALLFLOW_CODEC_SERVER_TOKEN)
    <input type="password" name="token" autocomplete="current-password" autofocus></label>
  <input type="hidden" name="next" value="{next}">
  <button type="submit">Sign in</button>
</form>
<script>
// A link of the form {codec}/login#token=...&next=... signs in without typing; the fragment
// never reaches a server or its logs, and is removed from the address bar at once.
const params = new URLSearchParams(location.hash.slice(1));
if (params.get("token")) {{
  history.replaceState(null, "", location.pathname + location.search);
  const form = document.forms[0];
  form.token.value = params.get("token");
  if (params.get("next")) form.next.value = params.get("next");
  form.submit();
}}
</script>
</body></html>
"""


def login_page(next_path: str, message: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(
        _LOGIN_PAGE.format(
            message=html.escape(message),
            next=html.escape(_local_path(next_path)),
            codec=CODEC_PATH,
        ),
        status_code=status,
        headers={"Cache-Control": "no-store"},
    )


class UiGateway:
    """The login routes and the proxy to the Temporal UI."""

    def __init__(
        self, upstream: str, token: str, transport: httpx.AsyncBaseTransport | None = None
    ) -> None:
        self._upstream = upstream.rstrip("/")
        self._token = token
        self._http = httpx.AsyncClient(base_url=self._upstream, timeout=30.0, transport=transport)

    async def aclose(self) -> None:
        await self._http.aclose()

    def signed_in(self, request: Request) -> bool:
        return session_valid(request.cookies.get(SESSION_COOKIE), self._token)

    async def login_form(self, request: Request) -> Response:
        return login_page(
            request.query_params.get("next", "/"),
            "Sign in to decode this deployment's encrypted payloads in the Temporal UI.",
        )

    async def login(self, request: Request) -> Response:
        form = parse_qs((await request.body()).decode("utf-8", "replace"))
        given = (form.get("token") or [""])[0].strip()
        next_path = _local_path((form.get("next") or ["/"])[0])
        if not given or not hmac.compare_digest(given.encode(), self._token.encode()):
            return login_page(next_path, "That token is not this codec server's.", status=401)
        response = RedirectResponse(next_path, status_code=303)
        response.set_cookie(
            SESSION_COOKIE,
            session_value(self._token),
            max_age=SESSION_TTL_S,
            path=CODEC_PATH,
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
        )
        return response

    async def logout(self, request: Request) -> Response:
        response = RedirectResponse("/", status_code=303)
        response.delete_cookie(SESSION_COOKIE, path=CODEC_PATH)
        return response

    async def proxy(self, request: Request) -> Response:
        headers = [
            (name, value)
            for name, value in request.headers.items()
            if name.lower() not in _HOP_BY_HOP
        ]
        upstream_request = self._http.build_request(
            request.method,
            request.url.path,
            params=request.url.query,
            headers=headers,
            content=await request.body(),
        )
        try:
            upstream = await self._http.send(upstream_request, stream=True)
        except httpx.HTTPError as e:
            return Response(
                f"the Temporal UI at {self._upstream} did not answer: {type(e).__name__}",
                status_code=502,
                media_type="text/plain",
            )
        response = StreamingResponse(
            upstream.aiter_raw(),
            status_code=upstream.status_code,
            background=BackgroundTask(upstream.aclose),
        )
        response.raw_headers = [
            (name.lower().encode("latin-1"), value.encode("latin-1"))
            for name, value in upstream.headers.multi_items()
            if name.lower() not in _HOP_BY_HOP
        ]
        return response
