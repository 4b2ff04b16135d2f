"""Shared fixtures: three tenants — ours (owner + two agents), a teammate's view, and an
outsider tenant whose rows must never be visible to ours."""
from __future__ import annotations

from dataclasses import dataclass
from typing import NoReturn

import pytest
from django_scopes import scope, scopes_disabled

from support.models import Contact, Membership, Team, Tenant, User


@dataclass
class TenantWorld:
    tenant: Tenant
    owner: Membership
    agent: Membership
    agent2: Membership
    team: Team
    contact: Contact


def make_world(slug: str) -> TenantWorld:
    with scopes_disabled():
        tenant = Tenant.objects.create(
            name=slug.title(), slug=slug, allowed_origins=["http://127.0.0.1:8000", "https://site.example"]
        )
        def member(name: str, role: str) -> Membership:
            user = User.objects.create_user(
                f"{name}@{slug}.example", "pw-" + slug + "-Secret1", display_name=name.title()
            )
            return Membership.objects.create(tenant=tenant, user=user, role=role)
        owner = member("owner", Membership.Role.OWNER)
        agent = member("alice", Membership.Role.AGENT)
        agent2 = member("bob", Membership.Role.AGENT)
        team = Team.objects.create(tenant=tenant, name="Support")
        team.members.add(agent, agent2)
        contact = Contact.objects.create(tenant=tenant, name="Visitor", email=f"visitor@{slug}-customer.example")
    return TenantWorld(tenant, owner, agent, agent2, team, contact)


@pytest.fixture
def world(db) -> TenantWorld:
    return make_world("acme")


@pytest.fixture
def outsider(db) -> TenantWorld:
    """A second tenant. Nothing of it may ever reach `world`'s users."""
    return make_world("globex")


@pytest.fixture
def third(db) -> TenantWorld:
    return make_world("initech")


@pytest.fixture
def in_scope(world):
    with scope(tenant=world.tenant):
        yield world


@pytest.fixture(scope="session", autouse=True)
def _close_database_thread_connections(django_db_setup, django_db_blocker):
    """Before the test database is dropped, close the connection of the thread that async tests'
    database calls run on (asgiref's single thread for thread-sensitive code outside any
    ``async_to_sync``): it is not the main thread, so pytest-django's teardown never closes it and
    PostgreSQL would refuse to drop a database "being accessed by other users"."""
    yield
    import asyncio

    from asgiref.sync import sync_to_async
    from django.db import connections

    with django_db_blocker.unblock():
        asyncio.run(sync_to_async(connections.close_all, thread_sensitive=True)())


def pytest_configure(config):
    from django.conf import settings

    # Real hashing costs ~0.3 s per user; tests make dozens.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    # The test process runs thousands of event loops and worker threads in one process. A pooled
    # connection checked out by a thread that ends without returning it stays counted by the pool
    # (PostgreSQL itself sees it closed), and late in a full run the thread-race tests could not get
    # a connection within the timeout. Headroom for this process only (servers the tests start keep
    # the production default, pinned by tests/support/test_settings.py); finding the thread that
    # keeps its connection is an open item.
    pool = settings.DATABASES["default"].get("OPTIONS", {}).get("pool")
    if isinstance(pool, dict):
        pool["max_size"] = max(pool.get("max_size", 0), 100)
    _compile_stale_catalogs(settings.LOCALE_PATHS)


def _compile_stale_catalogs(locale_paths) -> None:
    """Pages and emails are tested in Chinese: a .po newer than its .mo is compiled first, as
    `make messages` does (the .mo files are build output, not committed)."""
    import shutil
    import subprocess
    from pathlib import Path

    msgfmt = shutil.which("msgfmt")
    for po in (p for base in locale_paths for p in Path(base).glob("*/LC_MESSAGES/*.po")):
        mo = po.with_suffix(".mo")
        if mo.exists() and mo.stat().st_mtime >= po.stat().st_mtime:
            continue
        if msgfmt is None:
            pytest.exit(f"{mo} is missing or stale and gettext's msgfmt is not installed: run `make messages`")
        subprocess.run([msgfmt, "--check-format", "-o", str(mo), str(po)], check=True)  # noqa: S603


# --- real services ------------------------------------------------------------------------
# Tests marked `postgres`/`redis` skip with a reason where the service is absent; CI sets
# CI_REQUIRE_SERVICES=1 and then such a skip fails the run instead (see .ci/run).
import os  # noqa: E402

REQUIRE_SERVICES = os.environ.get("CI_REQUIRE_SERVICES") == "1"
SERVICE_MARKERS = ("postgres", "redis", "browser", "mqtt", "nginx", "rabbitmq")


def service_redis_url() -> str | None:
    return os.environ.get("TEST_REDIS_URL") or os.environ.get("REDIS_URL") or None


def skip_without_service(node: pytest.Item | pytest.Collector, *, service: str, reason: str) -> NoReturn:
    """Skip because ``service`` is absent — only from a test marked for it, or fail.

    The marker is what lets CI (CI_REQUIRE_SERVICES=1) turn the skip into a failure; an unmarked
    test that skips for a missing service would silently never run there.
    """
    if service not in SERVICE_MARKERS:
        raise ValueError(f"unknown service {service!r}: one of {SERVICE_MARKERS}")
    if node.get_closest_marker(service) is None:
        pytest.fail(f"{node.nodeid} needs {service} but is not marked @pytest.mark.{service}, so CI could not "
                    f"catch its skip: add the marker", pytrace=False)
    pytest.skip(reason)


def production_cache_on_redis(request, settings, *, key_prefix: str) -> str:
    """Make the default cache the production backend (``FailSoftRedisCache``) on the service Redis, under
    ``key_prefix``; its URL. Without a Redis the test skips (fails under CI_REQUIRE_SERVICES=1)."""
    url = service_redis_url()
    if not url:
        skip_without_service(request.node, service="redis",
                             reason="needs TEST_REDIS_URL or REDIS_URL (a real Redis) for the production cache backend")
    settings.CACHES = {"default": {"BACKEND": "support.failsoft_cache.FailSoftRedisCache",
                                   "LOCATION": url, "KEY_PREFIX": key_prefix}}
    return url


@pytest.fixture
def redis_url(request) -> str:
    url = service_redis_url()
    if not url:
        skip_without_service(request.node, service="redis",
                             reason="needs Redis: set TEST_REDIS_URL (e.g. redis://127.0.0.1:6379/15)")
    return url


@pytest.fixture
def redis_server(request, tmp_path):
    """A redis-server of the test's own on a free port (tests/own_redis.py), stopped by its PID after
    the test: tests that stop and restart Redis never touch the shared one."""
    servers = _own_redis_servers(request, tmp_path, ["."])
    yield servers[0]
    for server in servers:
        server.stop()


@pytest.fixture
def redis_servers(request, tmp_path):
    """Two redis-servers of the test's own (as ``redis_server``): for sharding over two."""
    servers = _own_redis_servers(request, tmp_path, ["a", "b"])
    yield servers
    for server in servers:
        server.stop()


def _own_redis_servers(request, tmp_path, names: list[str]) -> list:
    from pathlib import Path

    from tests.own_redis import REDIS_SERVER, OwnRedis

    if not Path(REDIS_SERVER).exists():
        skip_without_service(request.node, service="redis", reason="needs the redis-server binary")
    servers = []
    for name in names:
        (tmp_path / name).mkdir(exist_ok=True)
        servers.append(OwnRedis(tmp_path / name))
        servers[-1].start()
    return servers


RABBITMQCTL = "/usr/sbin/rabbitmqctl"


@pytest.fixture
def rabbitmq_url(request):
    """``amqp://`` URL of a virtual host of the test's own on the RabbitMQ of 127.0.0.1:5672 (guest),
    made with ``rabbitmqctl`` and deleted after the test: runs never see each other's queues."""
    import socket
    import subprocess
    import uuid
    from pathlib import Path

    try:
        socket.create_connection(("127.0.0.1", 5672), timeout=2).close()
    except OSError:
        skip_without_service(request.node, service="rabbitmq",
                             reason="needs RabbitMQ on 127.0.0.1:5672 (apt-get install rabbitmq-server)")
    if not Path(RABBITMQCTL).exists():
        skip_without_service(request.node, service="rabbitmq", reason=f"needs {RABBITMQCTL} to make a private vhost")
    vhost = f"sb_test_{uuid.uuid4().hex[:12]}"

    def ctl(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([RABBITMQCTL, "-q", *args], capture_output=True, text=True, timeout=60)

    made = ctl("add_vhost", vhost)
    if made.returncode != 0:
        skip_without_service(request.node, service="rabbitmq",
                             reason=f"rabbitmqctl could not add a vhost (run as root?): {made.stderr.strip()[-300:]}")
    try:
        granted = ctl("set_permissions", "-p", vhost, "guest", ".*", ".*", ".*")
        assert granted.returncode == 0, granted.stderr
        yield f"amqp://guest:guest@127.0.0.1:5672/{vhost}"
    finally:
        ctl("delete_vhost", vhost)


@pytest.fixture
def require_postgres(request, settings) -> None:
    if not settings.IS_POSTGRES:
        skip_without_service(
            request.node, service="postgres",
            reason="needs PostgreSQL: set DATABASE_URL=postgres://postgres@127.0.0.1:5432/switchboard")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if REQUIRE_SERVICES and report.skipped and any(item.get_closest_marker(m) for m in SERVICE_MARKERS):
        report.outcome = "failed"
        report.longrepr = f"CI_REQUIRE_SERVICES=1 but this service test skipped: {report.longrepr}"


@pytest.fixture(autouse=True)
def _fresh_local_cache():
    """Each test starts with an empty local cache (rate-limit counters, cached plans: database ids
    are reused between tests). Never clears a shared Redis: that would wipe other processes' keys."""
    from django.core.cache import caches

    for alias in caches:
        if caches[alias].__class__.__name__ == "LocMemCache":
            caches[alias].clear()
    yield
