"""One server process's worth of concurrent senders through the group-commit queue, for
test_group_commit_pg (which runs two of these against one PostgreSQL database).

    python -m tests.multiprocess.group_commit_driver PLAN.json

The plan names the senders (each a list of sends, written one after another as a client with one
send in flight would), a ready file to create once Django is up and a go file to wait for. Prints
one JSON line: every send's result by sender and position, and the sizes of the batches written.
"""
from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django.setup()

from push import group_commit  # noqa: E402
from support.access import ConversationRef  # noqa: E402
from support.errors import DomainError  # noqa: E402
from support.models import Membership  # noqa: E402
from support.services.message_batch import SendRequest  # noqa: E402

batch_sizes: list[int] = []


def _counting() -> None:
    real = group_commit.post_messages

    def counted(requests: list[SendRequest]) -> Any:
        batch_sizes.append(len(requests))
        return real(requests)

    group_commit.post_messages = counted  # type: ignore[assignment]


def _request(send: dict[str, Any], members: dict[int, Membership]) -> SendRequest:
    agent = send.get("agent")
    return SendRequest(
        to=ConversationRef(send["tenant"], public_id=send["conversation"], contact_id=send.get("contact")),
        author_type="agent" if agent else "contact", body=send["body"], client_id=send["client_id"],
        author_membership=members[agent] if agent else None, attachment_id=send.get("attachment"),
        kind="attachment" if send.get("attachment") else "text",
    )


async def _sender(sends: list[dict[str, Any]], members: dict[int, Membership]) -> list[dict[str, Any]]:
    out = []
    for send in sends:
        try:
            result = await group_commit.submit(_request(send, members))
        except DomainError as exc:
            out.append({"client_id": send["client_id"], "error": exc.code})
            continue
        m = result.message
        out.append({"client_id": send["client_id"], "id": m.public_id, "seq": m.seq, "created": result.created,
                    "conversation": m.conversation.public_id, "body": m.body})
    return out


async def _run(plan: dict[str, Any]) -> dict[str, Any]:
    from asgiref.sync import sync_to_async
    from django_scopes import scopes_disabled

    def load_members() -> dict[int, Membership]:
        with scopes_disabled():
            return {m.pk: m for m in Membership.objects.select_related("user").filter(pk__in=plan["agents"])}

    members = await sync_to_async(load_members)()
    Path(plan["ready"]).touch()
    deadline = time.monotonic() + 120
    while not Path(plan["go"]).exists():
        if time.monotonic() > deadline:
            raise SystemExit("no go")
        await asyncio.sleep(0.01)
    results = await asyncio.gather(*(_sender(sends, members) for sends in plan["senders"]))
    return {"results": results, "batches": batch_sizes}


def main() -> None:
    plan = json.loads(Path(sys.argv[1]).read_text())
    _counting()
    print(json.dumps(asyncio.run(_run(plan))))


if __name__ == "__main__":
    main()
