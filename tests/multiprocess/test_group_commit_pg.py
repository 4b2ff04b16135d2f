"""Group commit on PostgreSQL from two processes at once: many concurrent senders into the same and
different conversations, the same client_ids sent from both processes, and an invalid send in
every batch — every valid send stored once, gapless seqs, each sender's result the stored row."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from urllib.parse import urlparse

import pytest
from django.db import connection
from django_scopes import scope, scopes_disabled

from support.events.models import OutboxEvent
from support.models import Conversation, Message
from support.services.conversations import start_conversation

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.timeout(400),
              pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parents[2]
CONVERSATIONS = 4
SENDERS = 10  # per process, besides the duplicating and the invalid sender
SENDS = 8  # per sender


def _plan(world, outsider_conv: Conversation, convs: list[Conversation], process: str, tmp: Path) -> dict:
    def send(conv: Conversation, client_id: str, body: str, *, agent: int | None = None, **extra) -> dict:
        return {"tenant": world.tenant.pk, "conversation": conv.public_id, "client_id": client_id, "body": body,
                "agent": agent, "contact": None if agent else world.contact.pk, **extra}

    senders = []
    for k in range(SENDERS):
        agent = None if k % 2 == 0 else (world.agent.pk if k % 4 == 1 else world.agent2.pk)
        conv = convs[k % CONVERSATIONS]
        senders.append([send(conv, f"{process}-{k}-{j}", f"{process} {k} {j}", agent=agent) for j in range(SENDS)])
    # The same sends from both processes: each must be stored once, and both told so.
    senders.append([send(convs[j % CONVERSATIONS], f"dup-{j}", f"dup {j}") for j in range(SENDS)])
    invalid = [
        lambda j: send(outsider_conv, f"{process}-bad-{j}", "into another tenant", agent=world.agent.pk),
        lambda j: send(convs[0], f"{process}-bad-{j}", "x" * 10_001),
        lambda j: send(convs[1], f"{process}-bad-{j}", "", attachment="at_not_an_upload"),
    ]
    senders.append([invalid[j % 3](j) for j in range(SENDS)])
    return {"senders": senders, "agents": [world.agent.pk, world.agent2.pk],
            "ready": str(tmp / f"{process}.ready"), "go": str(tmp / "go")}


def _env() -> dict[str, str]:
    settings = connection.settings_dict
    url = urlparse(os.environ["DATABASE_URL"])._replace(path=f"/{settings['NAME']}").geturl()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "TEST_DATABASE", "REDIS_URL"))}
    env.update(DATABASE_URL=url, CELERY_EMBEDDED_WORKER="0", LOG_LEVEL="WARNING")
    return env


def test_two_processes_of_concurrent_senders_store_each_send_once_in_gapless_order(
    require_postgres, world, outsider, tmp_path
):
    with scope(tenant=world.tenant):
        convs = [start_conversation(tenant=world.tenant, contact=world.contact) for _ in range(CONVERSATIONS)]
    with scope(tenant=outsider.tenant):
        foreign = start_conversation(tenant=outsider.tenant, contact=outsider.contact)
    procs = {}
    for process in ("a", "b"):
        plan = tmp_path / f"{process}.json"
        plan.write_text(json.dumps(_plan(world, foreign, convs, process, tmp_path)))
        procs[process] = subprocess.Popen(
            [sys.executable, "-m", "tests.multiprocess.group_commit_driver", str(plan)],
            cwd=ROOT, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
    deadline = time.monotonic() + 180
    while not all((tmp_path / f"{p}.ready").exists() for p in procs):
        assert all(proc.poll() is None for proc in procs.values()), [p.communicate() for p in procs.values()]
        assert time.monotonic() < deadline, "the drivers did not start"
        time.sleep(0.05)
    (tmp_path / "go").touch()  # both start sending at once
    outputs = {}
    for process, proc in procs.items():
        out, err = proc.communicate(timeout=240)
        assert proc.returncode == 0, err
        outputs[process] = json.loads(out.strip().splitlines()[-1])

    for process, output in outputs.items():
        print(f"group commit, process {process}: batch sizes {output['batches']}")
        # The sends did share batches (else this test would not test group commit).
        assert max(output["batches"]) > 1, (process, output["batches"])
    results = [r for output in outputs.values() for sender in output["results"] for r in sender]
    refused = [r for r in results if "error" in r]
    acked = [r for r in results if "error" not in r]
    # Every invalid send was refused with its own error, and nothing else was.
    assert sorted(r["client_id"] for r in refused) == sorted(
        f"{p}-bad-{j}" for p in outputs for j in range(SENDS)
    )
    too_long = len([j for j in range(SENDS) if j % 3 == 1])
    assert Counter(r["error"] for r in refused) == {"not_found": 2 * (SENDS - too_long), "too_long": 2 * too_long}

    with scopes_disabled():
        stored = list(Message.objects.filter(conversation__in=convs).values(
            "public_id", "seq", "client_id", "body", "conversation__public_id"))
        last_seqs = dict(Conversation.objects.filter(pk__in=[c.pk for c in convs]).values_list("public_id", "last_seq"))
        events = Counter(e.payload["message"]["id"] for e in OutboxEvent.objects.filter(type="message.created"))
        assert not Message.objects.filter(conversation=foreign).exists()
    # Every valid send stored once: each process's own sends, and the shared ones once.
    by_client_id = {m["client_id"]: m for m in stored}
    assert len(by_client_id) == len(stored) == 2 * SENDERS * SENDS + SENDS
    # Gapless per conversation, and the conversation's last_seq is its last message.
    for conv in convs:
        seqs = sorted(m["seq"] for m in stored if m["conversation__public_id"] == conv.public_id)
        assert seqs == list(range(1, len(seqs) + 1)) and last_seqs[conv.public_id] == len(seqs)
    # Each sender's result is the stored row (both processes' for a shared client_id).
    for r in acked:
        row = by_client_id[r["client_id"]]
        assert (r["id"], r["seq"], r["conversation"], r["body"]) == (
            row["public_id"], row["seq"], row["conversation__public_id"], row["body"]
        ), r
    shared = [r for r in acked if r["client_id"].startswith("dup-")]
    assert len(shared) == 2 * SENDS and sum(r["created"] for r in shared) == SENDS
    # Each sender's own sends reached their conversation in the order sent.
    for output in outputs.values():
        for sender in output["results"]:
            seqs = [r["seq"] for r in sender if "error" not in r and not r["client_id"].startswith("dup-")]
            assert seqs == sorted(seqs)
    # One outbox event per stored message.
    assert all(events[m["public_id"]] == 1 for m in stored)
