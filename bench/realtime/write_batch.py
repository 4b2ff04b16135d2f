"""What PostgreSQL takes of the message batch alone: ``support.services.message_batch.post_messages``
called in this process, batches of ``--batch`` agent messages round-robin over ``--conversations``
conversations of one tenant, one thread, on a scratch database made by the bench harness. No
server, no wake-ups (the bus is in-process), no Celery: the write path's own rate and cost.

    .venv/bin/python bench/realtime/write_batch.py --messages 4000 --batch 20

Last line: ``msgs_per_s= client_cpu_us_per_msg= batch= messages= loadavg_1m=`` (client CPU is this
process's: Django building and reading the statements; the rest of the wall time is PostgreSQL).
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bench.realtime.harness import Stack  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=4000)
    parser.add_argument("--batch", type=int, default=20)
    parser.add_argument("--conversations", type=int, default=100)
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL")
                        or "postgres://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args()
    # Redis only names the stack's key prefix here; nothing is written to it.
    with Stack(database_url=args.database_url, redis_url="redis://127.0.0.1:6379/13") as stack:
        os.environ.update({k: v for k, v in stack.env().items() if k not in ("REDIS_URL",)})
        os.environ.pop("REDIS_URL", None)
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
        import django

        django.setup()
        from django.db import connections
        from django_scopes import scopes_disabled

        from support.access import ConversationRef
        from support.models import Contact, Conversation, Membership, Tenant
        from support.services.message_batch import SendRequest, post_messages

        with scopes_disabled():
            tenant = Tenant.objects.get(pk=stack.seed["tenants"][0]["id"])
            agent = Membership.objects.filter(tenant=tenant).first()
            convs = [Conversation.objects.create(tenant=tenant, contact=Contact.objects.create(tenant=tenant))
                     for _ in range(args.conversations)]
        requests = [SendRequest(to=ConversationRef(tenant.pk, pk=convs[n % len(convs)].pk), author_type="agent",
                                body=f"message {n}", client_id=f"w{n}", author_membership=agent)
                    for n in range(args.messages)]
        post_messages(requests[:args.batch])  # warm: connection, statement caches
        cpu0, t0 = time.process_time(), time.perf_counter()
        for start in range(args.batch, args.messages, args.batch):
            post_messages(requests[start:start + args.batch])
        wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
        written = args.messages - args.batch
        connections.close_all()
    print(f"msgs_per_s={written / wall:.0f} client_cpu_us_per_msg={cpu / written * 1e6:.0f} batch={args.batch} "
          f"messages={written} loadavg_1m={os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
