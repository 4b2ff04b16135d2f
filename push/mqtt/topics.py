"""Topic names of the MQTT transport: one pair per broker client, under its tenant and subject."""
from __future__ import annotations

from dataclasses import dataclass

PREFIX = "sb"
# What the bridges subscribe to, shared among them (MQTT 5 shared subscription).
SHARED_GROUP = "bridge"
IN_FILTER = f"{PREFIX}/+/+/+/in"
SHARED_IN_FILTER = f"$share/{SHARED_GROUP}/{IN_FILTER}"


def base_topic(*, tenant: str, subject: str, client: str) -> str:
    """``sb/<tenant public id>/<subject public id>/<client id>``: ``/in`` and ``/out`` hang below it."""
    return f"{PREFIX}/{tenant}/{subject}/{client}"


@dataclass(frozen=True)
class InTopic:
    """A parsed ``…/in`` topic: who published on it (the broker's ACL guarantees the names)."""

    tenant: str
    subject: str
    client: str

    @property
    def base(self) -> str:
        return base_topic(tenant=self.tenant, subject=self.subject, client=self.client)

    @property
    def out(self) -> str:
        return f"{self.base}/out"


def parse_in(topic: str) -> InTopic | None:
    parts = topic.split("/")
    if len(parts) != 5 or parts[0] != PREFIX or parts[4] != "in" or not all(parts[1:4]):
        return None
    return InTopic(parts[1], parts[2], parts[3])
