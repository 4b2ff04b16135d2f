"""Browser-test fixtures: a live Switchboard server, headless Chromium, and a minimal agent socket.

Shared by the widget and dashboard tests. The live server is the real product (``manage.py serve``:
uvicorn, Channels, the embedded Celery worker) in a subprocess on a free port, with its own
SQLite database in a temporary directory (schema from the models, see ``live_settings``). It is
seeded once per session by ``seed_live`` (tenant ``demo`` with an owner and an agent who have
ready-made session cookies). Tests isolate themselves with fresh browser contexts (fresh
localStorage = a new visitor), so they can share the server.

Fixtures:
  live_server       .url, .origin, .seed (JSON from seed_live), .python(code) -> stdout (slow: a
                    Django start), .sql(query, params) -> rows (read-only, from the SQLite file),
                    .api(method, path, json) -> httpx.Response (REST API with the seeded token)
  browser           a session-wide headless Chromium (skips when /usr/bin/chromium is missing)
  new_context       factory: new_context(**playwright_context_kwargs) -> BrowserContext (closed after)
  agent_context     factory: a context signed in as the seeded agent (session cookie set)
  agent_socket      factory: agent_socket(role="agent") -> AgentSocket (WebSocket as the seeded agent)
  visitor           factory: visitor(**kwargs) -> Visitor (dashboard_helpers: bootstrap + WebSocket)
  artifacts         pathlib.Path of test-artifacts/ (screenshots go there)
"""
from __future__ import annotations

import contextlib
import json
import os
import queue
import shutil
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from bench.realtime.harness import wait_healthy
from tests.browser.frames import wait_for_frame

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync",
]
ARTIFACTS = ROOT / "test-artifacts"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.browser)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ensure_frontend_built() -> None:
    """`make test` builds first; running pytest alone in a fresh clone builds the frontend here."""
    dist = ROOT / "frontend" / "static" / "dist"
    needed = [dist / "widget" / "widget.js", dist / "loader" / "loader.js", dist / "dashboard" / "manifest.json"]
    if all(p.exists() for p in needed):
        return
    if not shutil.which("npm") or not (ROOT / "frontend" / "node_modules").exists():
        pytest.skip("frontend not built (run `make frontend` or `cd frontend && npm ci && npm run build`)")
    subprocess.run(["npm", "run", "build"], cwd=ROOT / "frontend", check=True, capture_output=True)


@pytest.fixture(autouse=True)
def _live_server_helper() -> Iterator[None]:
    """Shadows pytest-django's helper of this name, which would otherwise set up a test database
    for any test using a fixture called ``live_server``; ours is a subprocess with its own DB."""
    yield


@dataclass
class LiveServer:
    url: str
    env: dict[str, str]
    db_path: Path
    process: subprocess.Popen[bytes]
    seed: dict[str, Any] = field(default_factory=dict)

    @property
    def origin(self) -> str:
        return self.url

    def python(self, code: str) -> str:
        """Run Python with Django set up against the live database; returns its stdout."""
        prog = "import django; django.setup()\n" + code
        out = subprocess.run([sys.executable, "-c", prog], cwd=ROOT, env=self.env, capture_output=True, text=True,
                             timeout=60)
        if out.returncode:
            raise RuntimeError(f"live_server.python failed:\n{out.stderr}")
        return out.stdout

    def api(self, method: str, path: str, json_body: Any = None) -> httpx.Response:
        """Call the REST API (``/api/v1/…``) as the demo tenant's read-write token."""
        headers = {"Authorization": f"Bearer {self.seed['api_token']}"}
        return httpx.request(method, f"{self.url}/api/v1/{path.lstrip('/')}", json=json_body, headers=headers,
                             timeout=30)

    def sql(self, query: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with sqlite3.connect(f"file:{self.db_path}?mode=ro", uri=True, timeout=10) as conn:
            return conn.execute(query, params).fetchall()


# Package scope, not session: Playwright's sync API keeps an event loop running in the main thread
# while it is open, and the rest of the suite (sync DB fixtures, asyncio.run) must not see it.
# The live server's INBOUND_EMAIL_SECRET: tests post raw mail to its /inbound/email.
LIVE_INBOUND_SECRET = "browser-inbound-secret"


@pytest.fixture(scope="package")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is not installed (`make browsers` installs it): browser tests skipped")
    _ensure_frontend_built()
    ARTIFACTS.mkdir(exist_ok=True)
    # Always the embedded default: its own SQLite file, never the developer's or CI's databases.
    dropped = ("DATABASE_URL", "REDIS_URL", "SECRET_KEY", "CELERY_BROKER_URL")
    env = {k: v for k, v in os.environ.items() if k not in dropped}
    env.update({
        "DJANGO_SETTINGS_MODULE": "tests.browser.live_settings",
        "DEBUG": "1",
        "LOG_LEVEL": "WARNING",
        "PYTHONUNBUFFERED": "1",
        # The email channel on, so mail can be posted to /inbound/email (test_dashboard_email.py).
        "INBOUND_EMAIL_DOMAIN": "in.example",
        "INBOUND_EMAIL_SECRET": LIVE_INBOUND_SECRET,
    })
    with serve_live(tmp_path_factory.mktemp("live-var"), env, log_name="live-server.log",
                    extra_origins=("{localhost}", "http://shop.example")) as server:
        yield server


@contextlib.contextmanager
def serve_live(var: Path, env: dict[str, str], *, log_name: str, extra_origins: tuple[str, ...] = ()
               ) -> Iterator[LiveServer]:
    """Seed a fresh embedded-default database in ``var`` and run ``manage.py serve`` on it until the
    block ends. ``extra_origins`` are allowed widget origins besides the server's own
    (``{localhost}`` stands for the server's URL with ``localhost`` for ``127.0.0.1``)."""
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**env, "SWITCHBOARD_VAR_DIR": str(var), "SITE_URL": url}
    origins = [o.replace("{localhost}", url.replace("127.0.0.1", "localhost")) for o in extra_origins]
    seeded = subprocess.run([sys.executable, "-m", "tests.browser.seed_live", url, *origins],
                            cwd=ROOT, env=env, check=True, capture_output=True, text=True)
    log = open(ARTIFACTS / log_name, "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen([sys.executable, str(ROOT / "manage.py"), "serve", "--host", "127.0.0.1", "--port",
                             str(port)], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    server = LiveServer(url=url, env=env, db_path=var / "switchboard.sqlite3", process=proc,
                        seed=json.loads(seeded.stdout.strip().splitlines()[-1]))
    try:
        health = wait_healthy(url, proc, deadline=time.monotonic() + 60, request_timeout=1)
        if health == "exited":
            raise RuntimeError(f"live server exited ({proc.returncode}); see {ARTIFACTS / log_name}")
        if health == "late":
            raise RuntimeError(f"live server did not answer /healthz within 60 s; see {ARTIFACTS / log_name}")
        yield server
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@pytest.fixture(scope="package")
def browser(live_server: LiveServer) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def new_context(browser: Any) -> Iterator[Callable[..., Any]]:
    made: list[Any] = []

    def make(**kwargs: Any) -> Any:
        kwargs.setdefault("viewport", {"width": 1280, "height": 800})
        ctx = browser.new_context(**kwargs)
        ctx.set_default_timeout(15_000)
        made.append(ctx)
        return ctx

    yield make
    for ctx in made:
        ctx.close()


@pytest.fixture
def agent_context(new_context: Callable[..., Any], live_server: LiveServer) -> Callable[..., Any]:
    """A browser context already signed in as the seeded agent (or owner: ``who="owner"``)."""

    def make(who: str = "agent", **kwargs: Any) -> Any:
        ctx = new_context(**kwargs)
        ctx.add_cookies([{"name": "sessionid", "value": live_server.seed[who]["session"], "url": live_server.url}])
        return ctx

    return make


@pytest.fixture
def visitor(live_server: LiveServer) -> Iterator[Callable[..., Any]]:
    """Factory: visitor(**kwargs) -> a scripted Visitor (dashboard_helpers) on the demo tenant. After
    the test its sockets close and its conversation is resolved, so it takes no agent's capacity
    from the tests after it."""
    from tests.browser.dashboard_helpers import Visitor

    made: list[Visitor] = []

    def make(**kwargs: Any) -> Visitor:
        v = Visitor(live_server.url, live_server.seed["tenant"]["widget_key"], **kwargs)
        made.append(v)
        return v

    yield make
    for v in made:
        if v.conversation:
            live_server.api("PATCH", f"conversations/{v.conversation}", {"status": "resolved"})
        v.close()


@pytest.fixture
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


class AgentSocket:
    """An agent's WebSocket speaking docs/protocol.md, read by a background thread."""

    def __init__(self, url: str, origin: str, session: str) -> None:
        from websockets.sync.client import connect

        self.ws = connect(url, origin=origin, additional_headers={"Cookie": f"sessionid={session}"},  # type: ignore[arg-type]
                          open_timeout=10)
        self.ws.__enter__()  # websockets wants its connections used as context managers
        self.frames: queue.Queue[dict[str, Any]] = queue.Queue()
        self.seen: list[dict[str, Any]] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        try:
            while True:
                self.frames.put(json.loads(self.ws.recv()))
        except Exception:  # noqa: BLE001 - the socket closing ends the reader
            return

    def send(self, frame: dict[str, Any]) -> None:
        self.ws.send(json.dumps(frame))

    def wait_for(self, predicate: Callable[[dict[str, Any]], bool], timeout: float = 10) -> dict[str, Any]:
        """The first frame (already received or arriving within ``timeout``) that matches."""
        return wait_for_frame(self.frames, self.seen, predicate, timeout=timeout, who="agent socket")

    def close(self) -> None:
        self.ws.__exit__(None, None, None)


@pytest.fixture
def agent_socket(live_server: LiveServer) -> Iterator[Callable[..., AgentSocket]]:
    made: list[AgentSocket] = []

    def make(who: str = "agent", hello: dict[str, Any] | None = None) -> AgentSocket:
        ws_url = live_server.url.replace("http://", "ws://") + "/ws/agent/"
        sock = AgentSocket(ws_url, live_server.origin, live_server.seed[who]["session"])
        sock.send(hello or {"type": "hello", "resume": {}, "inbox_since": None})
        sock.wait_for(lambda f: f["type"] == "welcome")
        made.append(sock)
        return sock

    yield make
    for sock in made:
        sock.close()
