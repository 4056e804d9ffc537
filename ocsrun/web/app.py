"""The ASGI app behind `ocsrun serve`: read-only pages and JSON over a run store.

Every page is made from `ocsrun.run.views` (the same functions `ocsrun runs ...` prints) and
the store protocol; nothing here writes run state, and only GET/HEAD routes exist. Every
response carries a Content-Security-Policy that allows scripts and styles from /static/ only
(no inline script), and, when a token is set, every request must carry it (`TokenGate`).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import threading
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterator, MutableMapping, Sequence
from functools import cache
from importlib import resources
from typing import Any, TypeVar
from urllib.parse import parse_qsl, urlencode

from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.applications import Starlette
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from ocsrun.errors import OcsrunError, StateError
from ocsrun.run import views
from ocsrun.store.protocol import RunStore
from ocsrun.units import format_duration

PAGE_SIZE = 50
MAX_PAGE_SIZE = 500
STATUSES = ("", "running", "finished", "aborted", "interrupted", "failed", "unknown", "damaged")
TOKEN_COOKIE = "ocsrun_token"
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "content-security-policy": CSP,
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
    "cache-control": "no-store",
}
_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]")

K = TypeVar("K")
V = TypeVar("V")
Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


@cache
def templates() -> Environment:
    env = Environment(
        loader=PackageLoader("ocsrun.web", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals["took"] = lambda s: format_duration(s) if s is not None else "-"
    return env


def _page(name: str, context: dict[str, Any], status: int = 200) -> Response:
    html = templates().get_template(name).render(context)
    return Response(html, status, media_type="text/html; charset=utf-8")


def _filter(request: Request) -> views.RunFilter:
    q = request.query_params
    status = q.get("status", "")
    return views.RunFilter(
        runbook=q.get("runbook", "").strip(),
        target=q.get("target", "").strip(),
        operator=q.get("operator", "").strip(),
        status=status if status in STATUSES else "",
        text=q.get("q", "").strip(),
    )


def _int(value: str | None, default: int, low: int, high: int) -> int:
    try:
        number = int(value) if value is not None else default
    except ValueError:
        number = default
    return max(low, min(high, number))


def _query(request: Request, **changes: object) -> str:
    """This request's query with `changes` applied (None drops a key); the token never."""
    pairs = dict(parse_qsl(request.url.query, keep_blank_values=False))
    pairs.pop("token", None)
    for key, value in changes.items():
        if value is None:
            pairs.pop(key, None)
        else:
            pairs[key] = str(value)
    return urlencode(pairs)


class Bounded(MutableMapping[K, V]):
    """A small LRU cache: forgets its oldest entries beyond `size`. Locked, because Starlette
    runs these (synchronous) endpoints on a pool of threads."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._items: OrderedDict[K, V] = OrderedDict()
        self._lock = threading.Lock()

    def __getitem__(self, key: K) -> V:
        with self._lock:
            value = self._items[key]
            self._items.move_to_end(key)
            return value

    def __setitem__(self, key: K, value: V) -> None:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)

    def __delitem__(self, key: K) -> None:
        with self._lock:
            del self._items[key]

    def __iter__(self) -> Iterator[K]:
        with self._lock:
            return iter(list(self._items))

    def __len__(self) -> int:
        return len(self._items)


class App:
    """The routes, bound to one store (opened once: the local store keeps its caches)."""

    def __init__(self, store: RunStore, location: str) -> None:
        self.store = store
        self.location = location
        # Journal checks and rendered run pages, by run and chain head: a page polled every
        # second while nothing changes is neither checked nor rendered again.
        self.verified: Bounded[tuple[str, str], views.VerifyView] = Bounded(256)
        self.rendered: Bounded[tuple[str, str, str], str] = Bounded(16)

    # --- runs --------------------------------------------------------------------------

    def runs(self, request: Request) -> Response:
        where = _filter(request)
        page_no = _int(request.query_params.get("page"), 1, 1, 10**9)
        page = views.list_runs(self.store, where, offset=(page_no - 1) * PAGE_SIZE, limit=PAGE_SIZE)
        context: dict[str, Any] = {
            "page": page,
            "where": where,
            "statuses": STATUSES,
            "location": self.location,
            "filtered": where != views.RunFilter(),
            "previous_url": f"/runs?{_query(request, page=page_no - 1, fragment=None)}",
            "next_url": f"/runs?{_query(request, page=page_no + 1, fragment=None)}",
            "fragment_url": f"/runs?{_query(request, fragment=1)}",
        }
        if request.query_params.get("fragment"):
            response = _page("runs_table.html.j2", context)
            response.headers["x-ocsrun-live"] = "1"
            return response
        return _page("runs.html.j2", context)

    def api_runs(self, request: Request) -> Response:
        q = request.query_params
        offset = _int(q.get("offset"), 0, 0, 10**9)
        limit = _int(q.get("limit"), PAGE_SIZE, 1, MAX_PAGE_SIZE)
        page = views.list_runs(self.store, _filter(request), offset=offset, limit=limit)
        return JSONResponse(
            {
                "total": page.total,
                "offset": page.offset,
                "limit": limit,
                "runs": [views.summary_data(s) for s in page.runs],
            }
        )

    # --- one run -----------------------------------------------------------------------

    def run(self, request: Request) -> Response:
        run_id = request.path_params["run_id"]
        detail = views.run_detail(self.store, run_id, self.verified)
        live = detail.timeline.status == "running"
        name = "run_body.html.j2" if request.query_params.get("fragment") else "run.html.j2"
        key = (run_id, f"{detail.records}:{detail.head}", name)
        html = self.rendered.get(key)
        if html is None:
            context: dict[str, Any] = {
                "t": detail.timeline,
                "d": detail,
                "live": live,
                "location": self.location,
                "fragment_url": f"/runs/{_quote(run_id)}?fragment=1",
            }
            html = templates().get_template(name).render(context)
            self.rendered[key] = html
        response = Response(html, media_type="text/html; charset=utf-8")
        if name == "run_body.html.j2":
            response.headers["x-ocsrun-live"] = "1" if live else "0"
        return response

    def api_run(self, request: Request) -> Response:
        detail = views.run_detail(self.store, request.path_params["run_id"], self.verified)
        return JSONResponse(detail.as_data())

    def report(self, request: Request) -> Response:
        run_id = request.path_params["run_id"]
        text = views.report_markdown(views.load_timeline(self.store, run_id))
        name = _SAFE_NAME.sub("_", run_id) or "run"
        return Response(
            text,
            media_type="text/markdown; charset=utf-8",
            headers={"content-disposition": f'attachment; filename="{name}.md"'},
        )

    def runbook(self, request: Request) -> Response:
        run_id = request.path_params["run_id"]
        runbook = views.runbook_of_run(self.store, run_id)
        if runbook is None:
            message = (
                "This run keeps no copy of its runbook (it was started by an older ocsrun), "
                "so the version it used cannot be shown."
            )
            context = {"run_id": run_id, "message": message, "location": self.location}
            return _page("runbook.html.j2", context)
        from ocsrun.review.render import render

        html = render(runbook, "html")
        response = Response(html, media_type="text/html; charset=utf-8")
        # The rendered checklist carries its own stylesheet inline (it is also a file people
        # save and print); allow exactly that stylesheet, by hash, and still no script.
        hashes = " ".join(f"'sha256-{_digest(css)}'" for css in _STYLE.findall(html))
        response.headers["content-security-policy"] = CSP.replace(
            "style-src 'self'", f"style-src 'self' {hashes}".rstrip()
        )
        return response


_STYLE = re.compile(r"<style>(.*?)</style>", re.S)


def _digest(text: str) -> str:
    return base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii")


def _quote(run_id: str) -> str:
    from urllib.parse import quote

    return quote(run_id, safe="")


def _error_page(request: Request, status: int, message: str) -> Response:
    if request.url.path.startswith("/api/"):
        return JSONResponse({"error": message}, status)
    return _page("error.html.j2", {"status": status, "message": message, "location": ""}, status)


def _handle(endpoint: Callable[[Request], Response]) -> Callable[[Request], Response]:
    """Errors a request can cause become a page (or JSON) naming the problem, never a trace."""

    def wrapped(request: Request) -> Response:
        try:
            return endpoint(request)
        except StateError as error:
            return _error_page(request, 404, str(error))
        except OcsrunError as error:
            return _error_page(request, 400, str(error))

    return wrapped


class Headers:
    """Adds the security headers to every response (a route may set a stricter CSP)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _ in message.get("headers", [])}
                extra = [
                    (name.encode(), value.encode())
                    for name, value in SECURITY_HEADERS.items()
                    if name.encode() not in present
                ]
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        await self.app(scope, receive, send_with_headers)


class TokenGate:
    """With a token set, every request must carry it: `Authorization: Bearer TOKEN`, the
    cookie a browser got from its first `?token=TOKEN` visit, or that query parameter.
    Anything else is 401. Compared in constant time."""

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app = app
        self.token = token.encode("utf-8")

    def _matches(self, offered: str | None) -> bool:
        return offered is not None and hmac.compare_digest(offered.encode("utf-8"), self.token)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        header = request.headers.get("authorization", "")
        bearer = header[7:] if header.lower().startswith("bearer ") else None
        if self._matches(bearer) or self._matches(request.cookies.get(TOKEN_COOKIE)):
            await self.app(scope, receive, send)
            return
        if self._matches(request.query_params.get("token")):
            # A browser's first visit: keep the token in a cookie it sends back only to this
            # server, and take it out of the address bar (and so out of history and logs).
            query = _query(request)
            target = request.url.path + (f"?{query}" if query else "")
            response: Response = RedirectResponse(target, status_code=303)
            response.set_cookie(TOKEN_COOKIE, self.token.decode(), httponly=True, samesite="strict")
        else:
            response = PlainTextResponse(
                "401 Unauthorized: this ocsrun serve needs its token "
                "(Authorization: Bearer TOKEN, or open /?token=TOKEN once)\n",
                status_code=401,
                headers={"www-authenticate": 'Bearer realm="ocsrun"'},
            )
        await response(scope, receive, send)


def create_app(
    store: RunStore,
    *,
    location: str = "",
    token: str | None = None,
    allowed_hosts: Sequence[str] | None = None,
) -> ASGIApp:
    """The web view of `store`; with `token`, every request must carry it. `allowed_hosts`:
    the Host names it answers (others get 400), so a page elsewhere cannot reach a loopback
    server through a DNS name rebound to 127.0.0.1."""
    app = App(store, location)
    static = resources.files("ocsrun.web") / "static"
    routes = [
        Route("/", lambda request: RedirectResponse("/runs", status_code=303)),
        Route("/runs", _handle(app.runs)),
        Route("/runs/{run_id}", _handle(app.run)),
        Route("/runs/{run_id}/report.md", _handle(app.report)),
        Route("/runs/{run_id}/runbook", _handle(app.runbook)),
        Route("/api/runs", _handle(app.api_runs)),
        Route("/api/runs/{run_id}", _handle(app.api_run)),
        Mount("/static", StaticFiles(directory=str(static)), name="static"),
    ]
    asgi: ASGIApp = Starlette(routes=routes)
    if allowed_hosts:
        asgi = TrustedHostMiddleware(asgi, allowed_hosts=list(allowed_hosts))
    if token:
        asgi = TokenGate(asgi, token)
    return Headers(asgi)
