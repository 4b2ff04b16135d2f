"""The product's admin client of the broker: dynamic-security commands over ``$CONTROL``.

Mosquitto's dynamic-security plugin takes JSON commands on ``$CONTROL/dynamic-security/v1`` and
answers on ``…/response``, echoing each command's ``correlationData``. One connected client per
process (a paho network thread) serves every caller; a call waits for its own answers.
"""
from __future__ import annotations

import itertools
import json
import logging
import threading
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

from django.conf import settings

if TYPE_CHECKING:
    import paho.mqtt.client as mqtt

log = logging.getLogger(__name__)

CONTROL_TOPIC = "$CONTROL/dynamic-security/v1"
RESPONSE_TOPIC = f"{CONTROL_TOPIC}/response"
# Answers that leave the broker as the caller wanted it (so every command is idempotent).
ALREADY = ("already exists", "not found")


class BrokerUnavailable(Exception):
    """The broker did not answer (down, wrong admin password, or not configured)."""


class CommandFailed(Exception):
    """The plugin refused a command for another reason than "already so"."""


@dataclass(frozen=True)
class BrokerAddress:
    host: str
    port: int
    username: str
    password: str
    tls: bool


def parse_url(url: str) -> BrokerAddress:
    """``mqtt[s]://user:password@host:port`` (port defaults: 1883, 8883 for mqtts)."""
    parts = urlsplit(url)
    if parts.scheme not in ("mqtt", "mqtts") or not parts.hostname:
        raise ValueError(f"an MQTT URL looks like mqtt://user:password@host:1883, not {url!r}")
    tls = parts.scheme == "mqtts"
    return BrokerAddress(
        host=parts.hostname, port=parts.port or (8883 if tls else 1883),
        username=unquote(parts.username or ""), password=unquote(parts.password or ""), tls=tls,
    )


def new_client(*, address: BrokerAddress, client_id: str, **kwargs: Any) -> mqtt.Client:
    """A paho MQTT 5 client for ``address`` (not yet connected). paho is imported here, on first use:
    a web node whose tenants never ask for MQTT credentials does not carry it (docs/performance.md)."""
    import paho.mqtt.client as mqtt

    client = mqtt.Client(
        callback_api_version=mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5, **kwargs
    )
    if address.username:
        client.username_pw_set(address.username, address.password)
    if address.tls:
        client.tls_set()
    return client


class Admin:
    """A connected admin client; ``run`` sends commands and returns the plugin's answers."""

    def __init__(self, url: str, *, timeout: float = 5.0) -> None:
        self.address = parse_url(url)
        self.timeout = timeout
        self._lock = threading.Lock()
        self._waiting: dict[str, tuple[threading.Event, dict[int, dict[str, Any]], int]] = {}
        self._ids = itertools.count()
        self._ready = threading.Event()
        self._client = new_client(address=self.address, client_id=f"sb-admin-{uuid.uuid4().hex[:12]}")
        self._client.on_connect = self._on_connect
        self._client.on_message = self._on_message
        self._client.connect_async(self.address.host, self.address.port, keepalive=30)
        self._client.loop_start()

    def _on_connect(self, client: mqtt.Client, _userdata: Any, _flags: Any, reason: Any, _props: Any) -> None:
        if reason.is_failure:
            log.warning("MQTT admin client refused by the broker: %s", reason)
            return
        client.subscribe(RESPONSE_TOPIC, qos=1)
        self._ready.set()

    def _on_message(self, _client: mqtt.Client, _userdata: Any, message: mqtt.MQTTMessage) -> None:
        try:
            answers = json.loads(message.payload)["responses"]
        except (ValueError, KeyError, TypeError):
            return
        for answer in answers if isinstance(answers, list) else []:
            key, _sep, index = str(answer.get("correlationData", "")).partition("/")
            with self._lock:
                waiting = self._waiting.get(key)
            if waiting is not None and index.isdigit():
                done, got, expected = waiting
                got[int(index)] = answer
                if len(got) >= expected:
                    done.set()

    def run(self, commands: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Send ``commands`` in one message; their answers in order. Raises ``BrokerUnavailable``."""
        if not self._ready.wait(self.timeout):
            raise BrokerUnavailable("the MQTT broker did not accept the admin client")
        key = f"{next(self._ids)}-{uuid.uuid4().hex[:8]}"
        done = threading.Event()
        got: dict[int, dict[str, Any]] = {}
        with self._lock:
            self._waiting[key] = (done, got, len(commands))
        try:
            body = [{**command, "correlationData": f"{key}/{i}"} for i, command in enumerate(commands)]
            self._client.publish(CONTROL_TOPIC, json.dumps({"commands": body}), qos=1)
            if not done.wait(self.timeout):
                raise BrokerUnavailable("the MQTT broker did not answer a dynamic-security command")
        finally:
            with self._lock:
                self._waiting.pop(key, None)
        return [got[i] for i in range(len(commands))]

    def apply(self, commands: list[dict[str, Any]]) -> None:
        """``run``, raising ``CommandFailed`` for any error other than "already exists"/"not found"."""
        for answer in self.run(commands):
            error = answer.get("error")
            if error and not any(word in str(error).lower() for word in ALREADY):
                raise CommandFailed(f"{answer.get('command')}: {error}")

    def close(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()


_admin: Admin | None = None
_admin_lock = threading.Lock()


def admin() -> Admin:
    """This process's admin client (connected on first use), or ``BrokerUnavailable`` without ``MQTT_URL``."""
    global _admin
    if not settings.MQTT_URL:
        raise BrokerUnavailable("MQTT is not configured (MQTT_URL is empty)")
    with _admin_lock:
        if _admin is None or _admin.address != parse_url(settings.MQTT_URL):
            if _admin is not None:
                _admin.close()
            _admin = Admin(settings.MQTT_URL)
        return _admin


def reset_admin() -> None:
    """Forget this process's admin client (tests that start another broker)."""
    global _admin
    with _admin_lock:
        if _admin is not None:
            _admin.close()
        _admin = None
