"""The wake-up bus of one process: one subscription per group, however many connections listen.

Connections (sockets, waiting long-polls) register as plain subscriber objects with the event
loop's ``Hub``; the hub holds one subscription per group on the bus (Redis pub/sub, sharded by
group over ``REALTIME_BUS_URLS``, or an in-process bus for the embedded default and tests), decodes
each wake-up once and hands the same event object to every subscriber of its group. Wake-ups
are at most once: a subscriber that missed one reads the database (docs/architecture.md).
"""
from __future__ import annotations

import asyncio
import contextlib
import contextvars
import json
import logging
import random
import threading
import weakref
from collections.abc import Callable, Iterable
from json.encoder import encode_basestring  # type: ignore[attr-defined]
from typing import Any, Protocol

from django.conf import settings

from push import metrics
from support.sharding import shard_index  # groups over REALTIME_BUS_URLS

log = logging.getLogger(__name__)

# How long a hub waits for the bus to confirm a new subscription before going on without it
# (the subscriber is registered either way; a late or lost subscription is covered by the
# resync that follows a reconnect).
JOIN_TIMEOUT_SECONDS = 5.0
# Reconnect back-off after a lost bus connection: doubles from the first to the last, with jitter.
BACKOFF_FIRST_SECONDS = 0.1
BACKOFF_MAX_SECONDS = 5.0
# Keys of an event whose (dict) value goes into frames as is: its JSON text is made once.
SHARED_KEYS = ("message", "payload")


class Subscriber(Protocol):
    """What the hub calls, on its event loop; neither may block (start a task for slow work)."""

    def wake(self, event: dict[str, Any]) -> None:
        """A wake-up for one of the groups this subscriber joined (shared: never mutate it)."""

    def resync(self) -> None:
        """The bus connection was lost and is back: wake-ups may be missing, read the database."""


class SharedJSON(dict[str, Any]):
    """A dict that many frames embed: its JSON text is computed once (``encode_frame`` uses it)."""

    __slots__ = ("_text",)

    @property
    def json(self) -> str:
        try:
            return self._text
        except AttributeError:
            self._text: str = encode_json(self)
            return self._text


# One encoder for every call: ``json.dumps`` with these options builds a new one each time, which
# cost more than encoding a small frame.
encode_json = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
_encode_str = encode_basestring  # a str's JSON text (ensure_ascii=False), in C
_keys: dict[str, str] = {}  # frame keys' JSON texts: a few dozen names


def encode_frame(frame: dict[str, Any]) -> str:
    """A frame's JSON text; values that are ``SharedJSON`` are pasted in, not encoded again.

    A frame sent to many connections (an inbox row) is mostly shared text: its own keys and
    short strings are pasted from caches and C, not run through the encoder one by one.
    """
    if not any(type(value) is SharedJSON for value in frame.values()):
        return encode_json(frame)
    parts = []
    for key, value in frame.items():
        name = _keys.get(key)
        if name is None:
            name = _encode_str(key)
            if len(_keys) < 256:
                _keys[key] = name
        kind = type(value)
        text = value.json if kind is SharedJSON else _encode_str(value) if kind is str else encode_json(value)
        parts.append(f"{name}:{text}")
    return "{" + ",".join(parts) + "}"


def encode_wakeup(event: dict[str, Any]) -> str:
    """A wake-up's JSON text for the bus, its shared part (``SHARED_KEYS``) first: every receiving
    process then takes that part's text as it came for its frames (``decode_event``) instead of
    encoding the part again."""
    for key in SHARED_KEYS:
        value = event.get(key)
        if type(value) is dict:
            return encode_json({key: value, **event})  # the same keys, this one first
    return encode_json(event)


_decoder = json.JSONDecoder()
_shared_heads = tuple(f'{{"{key}":' for key in SHARED_KEYS)


def decode_event(data: str | bytes) -> dict[str, Any]:
    """A wake-up as it came off the bus; its shared parts wrapped so that frames encode them once —
    or never, when the part came first (``encode_wakeup``): its text is kept as it came."""
    text = data.decode("utf-8", "surrogatepass") if isinstance(data, bytes) else data
    if text.startswith(_shared_heads):
        return _decode_shared_first(text)
    event = json.loads(text)
    if not isinstance(event, dict):
        raise ValueError("a wake-up must be a JSON object")
    for key in SHARED_KEYS:
        value = event.get(key)
        if type(value) is dict:
            event[key] = SharedJSON(value)
    return event


def _decode_shared_first(text: str) -> dict[str, Any]:
    key = text[2:text.index('"', 2)]
    start = len(key) + 4  # past '{"key":'
    part, end = _decoder.raw_decode(text, start)  # where the part's text ends, with the part
    if type(part) is not dict or text[end:end + 1] not in (",", "}"):
        raise ValueError("a wake-up's shared part must be a JSON object")
    event = json.loads("{" + text[end + 1:]) if text[end] == "," else {}
    if not isinstance(event, dict):
        raise ValueError("a wake-up must be a JSON object")
    shared = SharedJSON(part)
    shared._text = text[start:end]
    event[key] = shared
    return event


# --- the hub ------------------------------------------------------------------------------------
class Hub:
    """One event loop's subscriptions: subscribers per group, one bus subscription per group.

    A group whose last subscriber left stays subscribed for ``linger`` seconds: a long-poll's
    next request or a socket's next follow usually comes at once, and subscribing again would
    cost a round trip each time.
    """

    def __init__(self, *, backend: Backend, loop: asyncio.AbstractEventLoop, linger: float) -> None:
        self.backend = backend
        self._loop = weakref.ref(loop)  # the value of a weak-key map: never a strong reference
        self.linger = linger
        self.subscribers: dict[str, set[Subscriber]] = {}
        self._idle: dict[str, asyncio.TimerHandle] = {}
        # A clock of this hub's events, for ``quiet_since``: it ticks when a group's subscription
        # becomes active (``active_at``) and when a wake-up or a resync reaches a group (``changed_at``).
        self.clock = 0
        self.active_at: dict[str, int] = {}
        self.changed_at: dict[str, int] = {}
        # Other asyncio Redis clients of this loop (``redis_client``), closed with the hub.
        self._clients: dict[tuple[str, tuple[tuple[str, Any], ...]], Any] = {}
        # ``publish_paced``: per (group, key) published within its interval, the wake-up held for
        # its end (None: nothing yet) and that end's timer.
        self._paced: dict[tuple[str, Any], _Paced] = {}
        self.pacing = True  # False once the process stops: paced wake-ups go out at once
        backend.attach(self)

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        loop = self._loop()
        if loop is None:
            raise RuntimeError("the event loop of this hub is gone")
        return loop

    async def join(self, groups: Iterable[str], subscriber: Subscriber) -> None:
        """From when this returns, wake-ups sent to ``groups`` reach ``subscriber`` (or, if the bus
        is down, a ``resync`` will follow when it is back). Never raises."""
        new = []
        for group in groups:
            members = self.subscribers.get(group)
            if members is None:
                members = self.subscribers[group] = set()
                new.append(group)
            idle = self._idle.pop(group, None)
            if idle is not None:
                idle.cancel()
            members.add(subscriber)
        if new:
            try:
                await asyncio.wait_for(self.backend.subscribe(new), JOIN_TIMEOUT_SECONDS)
            except Exception:  # noqa: BLE001 - registered anyway; the reconnect's resync covers it
                log.warning("subscribing %d groups timed out or failed", len(new), exc_info=True)
            else:
                self.clock += 1
                for group in new:
                    if group in self.subscribers:
                        self.active_at[group] = self.clock

    def quiet_since(self, groups: Iterable[str], mark: int) -> bool:
        """Whether every one of ``groups`` was subscribed before ``clock`` read ``mark`` and nothing
        (no wake-up, no resync) reached it since: a read begun after ``mark`` is still current."""
        if not self.backend.reachable():
            return False
        for group in groups:
            if self.active_at.get(group, mark + 1) > mark or self.changed_at.get(group, 0) > mark:
                return False
        return True

    def _changed(self, group: str) -> None:
        if group in self.subscribers:
            self.clock += 1
            self.changed_at[group] = self.clock

    def leave(self, groups: Iterable[str], subscriber: Subscriber) -> None:
        for group in groups:
            members = self.subscribers.get(group)
            if members is None:
                continue
            members.discard(subscriber)
            if not members and group not in self._idle:
                self._idle[group] = self.loop.call_later(self.linger, self._drop_if_idle, group)

    def _drop_if_idle(self, group: str) -> None:
        self._idle.pop(group, None)
        if not self.subscribers.get(group):
            self.subscribers.pop(group, None)
            self.active_at.pop(group, None)
            self.changed_at.pop(group, None)
            self.backend.unsubscribe([group])

    def groups(self) -> list[str]:
        return list(self.subscribers)

    def reachable(self) -> bool:
        """False from when a bus connection failed until it is back and subscribed again."""
        return self.backend.reachable()

    # --- from the bus ---------------------------------------------------------------------------
    def deliver(self, group: str, data: str | bytes) -> None:
        """One wake-up off the bus: decoded once, the same object to every subscriber of ``group``."""
        self._changed(group)
        members = self.subscribers.get(group)
        if not members:
            return
        try:
            event = decode_event(data)
        except ValueError:
            log.warning("undecodable wake-up on %s dropped", group)
            return
        metrics.wakeup_arrived(event)
        for subscriber in list(members):
            try:
                subscriber.wake(event)
            except Exception:
                log.exception("a subscriber of %s failed on a wake-up", group)

    def resync_all(self, groups: Iterable[str] | None = None) -> None:
        """Tell every subscriber (of ``groups``) that wake-ups may have been lost."""
        seen: set[int] = set()
        for group in list(self.subscribers) if groups is None else groups:
            self._changed(group)
            for subscriber in list(self.subscribers.get(group, ())):
                if id(subscriber) in seen:
                    continue
                seen.add(id(subscriber))
                try:
                    subscriber.resync()
                except Exception:
                    log.exception("a subscriber failed on resync")

    # --- to the bus -----------------------------------------------------------------------------
    def publish(self, group: str, event: dict[str, Any]) -> None:
        """Send a wake-up from this loop (returns at once; failures are logged, never raised)."""
        try:
            data = encode_wakeup(event)
        except (TypeError, ValueError):
            log.exception("wake-up for %s is not JSON; dropped", group)
            return
        self.backend.publish(group, data)

    def publish_paced(self, group: str, key: Any, event: dict[str, Any], *, every: float,
                      merge: Callable[[dict[str, Any], dict[str, Any]], dict[str, Any]], at_once: bool = False) -> None:
        """``publish``, at most once per ``every`` seconds per ``(group, key)``, the last state always.

        The first wake-up after a quiet interval goes out at once; later ones within the interval
        are folded into one held wake-up (``merge(held, later)``), published when it ends, which
        starts the next interval. Nothing is dropped: a held wake-up goes out at its interval's
        end, at ``stop_pacing`` or at ``close``. For wake-ups whose receivers want the latest
        state, not every step (a conversation's inbox row): a burst costs the bus and every
        receiving process two wake-ups per interval instead of one per change. ``at_once``: this
        one (with what is held, merged) goes out now; the interval goes on.
        """
        slot = self._paced.get((group, key))
        if slot is not None:
            event = event if slot.held is None else merge(slot.held, event)
            if not at_once:
                slot.held = event
                return
            slot.held = None
            self.publish(group, event)
            return
        self.publish(group, event)
        if self.pacing and every > 0:
            self._paced[(group, key)] = _Paced(self.loop.call_later(every, self._pace_end, group, key, every))

    def _pace_end(self, group: str, key: Any, every: float) -> None:
        slot = self._paced[(group, key)]
        if slot.held is None:
            del self._paced[(group, key)]
            return
        event, slot.held = slot.held, None
        self.publish(group, event)
        slot.timer = self.loop.call_later(every, self._pace_end, group, key, every)

    def stop_pacing(self) -> None:
        """Publish every held wake-up now, and from now on paced ones at once (a stopping process)."""
        self.pacing = False
        paced, self._paced = self._paced, {}
        for (group, _), slot in paced.items():
            slot.timer.cancel()
            if slot.held is not None:
                self.publish(group, slot.held)

    def redis_client(self, url: str, *, retries: int, **options: Any) -> Any:
        """An asyncio Redis client of this loop for ``url`` (made on first use, closed with the hub),
        for code on the event loop that talks to a Redis besides the bus: the rate-limit counters.
        ``retries`` without back-off; ``options`` are numbers (socket timeouts)."""
        key = (url, (("retries", retries), *sorted(options.items())))
        client = self._clients.get(key)
        if client is None:
            import redis.asyncio as aioredis
            from redis.asyncio.retry import Retry
            from redis.backoff import NoBackoff

            client = self._clients[key] = aioredis.Redis.from_url(url, retry=Retry(NoBackoff(), retries), **options)
        return client

    async def close(self) -> None:
        self.stop_pacing()  # held wake-ups go out with the backend's last pipeline
        for handle in self._idle.values():
            handle.cancel()
        self._idle.clear()
        self.subscribers.clear()
        self.active_at.clear()
        self.changed_at.clear()
        clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            with contextlib.suppress(Exception):
                await client.aclose()
        await self.backend.close()


class _Paced:
    __slots__ = ("held", "timer")

    def __init__(self, timer: asyncio.TimerHandle) -> None:
        self.held: dict[str, Any] | None = None
        self.timer = timer


class Backend(Protocol):
    def attach(self, hub: Hub) -> None: ...

    async def subscribe(self, groups: list[str]) -> None: ...

    def unsubscribe(self, groups: list[str]) -> None: ...

    def publish(self, group: str, data: str) -> None: ...

    def reachable(self) -> bool: ...

    async def close(self) -> None: ...


# --- in-process bus --------------------------------------------------------------------------------
class MemoryBus:
    """The bus of a single process (embedded default, tests): hubs of every loop and thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._hubs: dict[str, weakref.WeakSet[Hub]] = {}

    def add(self, hub: Hub, groups: list[str]) -> None:
        with self._lock:
            for group in groups:
                self._hubs.setdefault(group, weakref.WeakSet()).add(hub)

    def remove(self, hub: Hub, groups: list[str]) -> None:
        with self._lock:
            for group in groups:
                hubs = self._hubs.get(group)
                if hubs is not None:
                    hubs.discard(hub)
                    if not hubs:
                        del self._hubs[group]

    def publish(self, group: str, data: str) -> None:
        """From any thread; each hub gets it on its own loop."""
        with self._lock:
            hubs = list(self._hubs.get(group, ()))
        for hub in hubs:
            loop = hub._loop()
            if loop is None or loop.is_closed():
                self.remove(hub, [group])
                continue
            try:
                # In a context of its own: the publisher's (a database thread's) must not leak
                # into the subscribers' work.
                loop.call_soon_threadsafe(hub.deliver, group, data, context=contextvars.Context())
            except RuntimeError:  # closed meanwhile
                self.remove(hub, [group])


memory_bus = MemoryBus()


class MemoryBackend:
    def __init__(self, bus: MemoryBus) -> None:
        self.bus = bus
        self.hub: Hub | None = None

    def attach(self, hub: Hub) -> None:
        self.hub = hub

    async def subscribe(self, groups: list[str]) -> None:
        assert self.hub is not None
        self.bus.add(self.hub, groups)

    def unsubscribe(self, groups: list[str]) -> None:
        assert self.hub is not None
        self.bus.remove(self.hub, groups)

    def publish(self, group: str, data: str) -> None:
        self.bus.publish(group, data)

    def reachable(self) -> bool:
        return True

    async def close(self) -> None:
        if self.hub is not None:
            self.bus.remove(self.hub, list(self.bus._hubs))


# --- Redis pub/sub ------------------------------------------------------------------------------------
class RedisBackend:
    """Redis pub/sub through redis-py's public asyncio API, one shard per URL."""

    def __init__(self, *, urls: list[str], prefix: str) -> None:
        if not urls:
            raise ValueError("RedisBackend needs at least one URL")
        self.prefix = prefix
        self.shards = [_RedisShard(url=url, backend=self, index=i) for i, url in enumerate(urls)]
        self.hub: Hub | None = None

    def channel(self, group: str) -> str:
        return f"{self.prefix}:{group}"

    def shard_of(self, group: str) -> _RedisShard:
        return self.shards[shard_index(group, count=len(self.shards))]

    def attach(self, hub: Hub) -> None:
        self.hub = hub

    def _by_shard(self, groups: list[str]) -> dict[_RedisShard, list[str]]:
        out: dict[_RedisShard, list[str]] = {}
        for group in groups:
            out.setdefault(self.shard_of(group), []).append(group)
        return out

    async def subscribe(self, groups: list[str]) -> None:
        await asyncio.gather(*(shard.subscribe(part) for shard, part in self._by_shard(groups).items()))

    def unsubscribe(self, groups: list[str]) -> None:
        for shard, part in self._by_shard(groups).items():
            shard.unsubscribe(part)

    def publish(self, group: str, data: str) -> None:
        self.shard_of(group).publish(self.channel(group), data)

    def reachable(self) -> bool:
        return not any(shard.down for shard in self.shards)

    async def close(self) -> None:
        await asyncio.gather(*(shard.close() for shard in self.shards), return_exceptions=True)


class _RedisShard:
    """One Redis server: a subscriber connection with its reader task, and batched publishes."""

    def __init__(self, *, url: str, backend: RedisBackend, index: int) -> None:
        import redis.asyncio as aioredis
        from redis.asyncio.retry import Retry
        from redis.backoff import NoBackoff

        self.backend, self.index = backend, index
        # No retries inside redis-py for the subscriber: its silent reconnect would re-subscribe
        # without telling us that wake-ups were lost meanwhile. Publishes retry once (a server
        # that restarted since the last one).
        self.sub_client = aioredis.Redis.from_url(url, retry=Retry(NoBackoff(), 0), socket_keepalive=True)
        self.pub_client = aioredis.Redis.from_url(url, retry=Retry(NoBackoff(), 1), socket_keepalive=True)
        self.pubsub: Any = None  # set while connected and subscribed
        self.reader: asyncio.Task[None] | None = None
        self.down = False  # the last attempt failed: joins do not wait for confirmations
        self.waiting: dict[bytes, list[asyncio.Future[None]]] = {}
        self.resync_on: bytes | None = None
        self.queued: list[tuple[str, str]] = []
        self.sending: asyncio.Task[None] | None = None
        self.control = backend.channel(f"_hub.{id(self)}")  # keeps the connection subscribed

    # --- subscribing ------------------------------------------------------------------------------
    async def subscribe(self, groups: list[str]) -> None:
        self._ensure_reader()
        if self.down:
            return  # not waiting on a server that is away: the reconnect subscribes and resyncs
        loop = asyncio.get_running_loop()
        confirmations = []
        for group in groups:
            future = loop.create_future()
            self.waiting.setdefault(self.backend.channel(group).encode(), []).append(future)
            confirmations.append(future)
        if self.pubsub is not None:
            try:
                await self.pubsub.subscribe(*(self.backend.channel(g) for g in groups))
            except Exception:  # noqa: BLE001 - the reader sees the lost connection and reconnects
                log.warning("subscribe on the bus failed", exc_info=True)
                self._release_waiting()
                return
        # else: the reader is connecting and subscribes every group the hub holds
        await asyncio.gather(*confirmations)

    def unsubscribe(self, groups: list[str]) -> None:
        if self.pubsub is not None:
            task = asyncio.get_running_loop().create_task(self._unsubscribe(groups), context=contextvars.Context())
            task.add_done_callback(_log_failure)

    async def _unsubscribe(self, groups: list[str]) -> None:
        hub = self.backend.hub
        # A group joined again since it was dropped keeps its subscription (its SUBSCRIBE may
        # already have gone out ahead of this UNSUBSCRIBE).
        idle = [g for g in groups if hub is None or g not in hub.subscribers]
        if idle and self.pubsub is not None:
            await self.pubsub.unsubscribe(*(self.backend.channel(g) for g in idle))

    def _ensure_reader(self) -> None:
        if self.reader is None or self.reader.done():
            self.reader = asyncio.get_running_loop().create_task(self._read(), context=contextvars.Context())

    def _release_waiting(self) -> None:
        waiting, self.waiting = self.waiting, {}
        for futures in waiting.values():
            for future in futures:
                if not future.done():
                    future.set_result(None)

    async def _read(self) -> None:
        failures = 0
        hub = self.backend.hub
        assert hub is not None
        while True:
            pubsub = self.sub_client.pubsub()
            try:
                channels = [self.control]
                subscribed: set[str] = set()
                while True:  # until every group of the hub on this shard is subscribed
                    wanted = {self.backend.channel(g) for g in hub.groups() if self.backend.shard_of(g) is self}
                    missing = [c for c in [self.control, *sorted(wanted)] if c not in subscribed]
                    if not missing:
                        break
                    await pubsub.subscribe(*missing)
                    subscribed.update(missing)
                    channels = missing
                self.resync_on = channels[-1].encode() if failures else None
                self.pubsub, self.down = pubsub, False
                async for message in pubsub.listen():
                    self._handle(message)
                raise ConnectionError("the subscription ended")  # never expected: always subscribed
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - reconnect with back-off; subscribers resync after
                failures += 1
                self.pubsub, self.down = None, True
                self._release_waiting()
                delay = min(BACKOFF_MAX_SECONDS, BACKOFF_FIRST_SECONDS * 2 ** (failures - 1))
                log.warning("bus connection to shard %d lost (attempt %d); retrying in %.1fs",
                            self.index, failures, delay, exc_info=failures == 1)
                await asyncio.sleep(delay * random.uniform(0.8, 1.2))
            finally:
                self.pubsub = None
                with contextlib.suppress(Exception):
                    await pubsub.aclose()

    def _handle(self, message: dict[str, Any]) -> None:
        kind, channel = message["type"], message["channel"]
        if kind == "message":
            hub = self.backend.hub
            if hub is not None:
                hub.deliver(channel.decode()[len(self.backend.prefix) + 1:], message["data"])
            return
        if kind == "subscribe":
            for future in self.waiting.pop(channel, ()):
                if not future.done():
                    future.set_result(None)
            if channel == self.resync_on:
                # Every group is subscribed again: what was published meanwhile is read from the
                # database by every subscriber of this shard's groups.
                self.resync_on = None
                hub = self.backend.hub
                if hub is not None:
                    hub.resync_all([g for g in hub.groups() if self.backend.shard_of(g) is self])

    # --- publishing -------------------------------------------------------------------------------
    def publish(self, channel: str, data: str) -> None:
        """Queue it; everything queued while one pipeline is in flight goes in the next one."""
        self.queued.append((channel, data))
        if self.sending is None:
            self.sending = asyncio.get_running_loop().create_task(self._send_all(), context=contextvars.Context())

    async def _send_all(self) -> None:
        try:
            while self.queued:
                items, self.queued = self.queued, []
                try:
                    pipe = self.pub_client.pipeline(transaction=False)
                    for channel, data in items:
                        pipe.publish(channel, data)
                    await pipe.execute()
                except Exception:  # noqa: BLE001 - the database is the record; receivers catch up
                    metrics.publish_failed(len(items))
                    log.warning("publishing %d wake-ups failed", len(items), exc_info=True)
        finally:
            self.sending = None

    async def close(self) -> None:
        if self.reader is not None:
            self.reader.cancel()
            with contextlib.suppress(BaseException):
                await self.reader
        if self.sending is not None:
            with contextlib.suppress(BaseException):
                await self.sending
        await self.sub_client.aclose()
        await self.pub_client.aclose()


def _log_failure(task: asyncio.Task[Any]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.warning("bus command failed: %s", task.exception())


# --- one hub per event loop ---------------------------------------------------------------------------
_hubs: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Hub] = weakref.WeakKeyDictionary()


def bus_urls() -> list[str]:
    return list(getattr(settings, "REALTIME_BUS_URLS", []))


def new_backend() -> Backend:
    urls = bus_urls()
    if urls:
        return RedisBackend(urls=urls, prefix=settings.REALTIME_BUS_PREFIX)
    return MemoryBackend(memory_bus)


def get_hub() -> Hub:
    """The running event loop's hub (made on first use, with the settings of that moment)."""
    loop = asyncio.get_running_loop()
    hub = _hubs.get(loop)
    if hub is None:
        for old in [other for other in _hubs if other.is_closed()]:
            _hubs.pop(old, None)
        hub = _hubs[loop] = Hub(backend=new_backend(), loop=loop, linger=settings.REALTIME_BUS_LINGER_SECONDS)
    return hub


def hub_of(loop: asyncio.AbstractEventLoop) -> Hub | None:
    return _hubs.get(loop)


def stop_pacing() -> None:
    """A shutdown hook (config/shutdown_hooks.py): every hub publishes what it holds, and from now on
    paced wake-ups at once, so the last inbox row of a conversation leaves a stopping process."""
    try:
        running = asyncio.get_running_loop()
    except RuntimeError:
        running = None
    for loop, hub in list(_hubs.items()):
        if loop is running:
            hub.stop_pacing()
            continue
        with contextlib.suppress(RuntimeError):  # a loop already closed held nothing it could send
            loop.call_soon_threadsafe(hub.stop_pacing)


async def close_hub() -> None:
    """Close this loop's hub, if any (tests; a server's shutdown)."""
    hub = _hubs.pop(asyncio.get_running_loop(), None)
    if hub is not None:
        await hub.close()


# --- publishing from sync code -----------------------------------------------------------------------
_sync_clients: dict[tuple[str, ...], list[Any]] = {}
_sync_lock = threading.Lock()


def publish_sync(group: str, event: dict[str, Any]) -> None:
    """Publish from a thread with no event loop of ours (REST, Celery); logged, never raised."""
    try:
        data = encode_wakeup(event)
    except (TypeError, ValueError):
        log.exception("wake-up for %s is not JSON; dropped", group)
        return
    urls = bus_urls()
    if not urls:
        memory_bus.publish(group, data)
        return
    try:
        client = _sync_client(tuple(urls), shard_index(group, count=len(urls)))
        client.publish(f"{settings.REALTIME_BUS_PREFIX}:{group}", data)
    except Exception:  # noqa: BLE001 - a lost wake-up is recovered from the database
        metrics.publish_failed()
        log.warning("publish to %s failed", group, exc_info=True)


def _sync_client(urls: tuple[str, ...], index: int) -> Any:
    import redis
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    with _sync_lock:
        clients = _sync_clients.get(urls)
        if clients is None:
            clients = _sync_clients[urls] = [
                redis.Redis.from_url(url, retry=Retry(NoBackoff(), 1), socket_keepalive=True) for url in urls
            ]
        return clients[index]
