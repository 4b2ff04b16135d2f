"""API benchmark: latency of the list endpoints with 10,000 conversations and 200,000 messages.

  DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres .venv/bin/python bench/api/run.py
  … bench/api/run.py --conversations 10000 --messages-per-conversation 20 --requests 200
  … bench/api/run.py --no-gin      # search without the GIN index, to see what it buys

Needs PostgreSQL (DATABASE_URL); it creates and drops its own database (``sb_api_bench``).
Seeding uses bulk_create for conversations and COPY for messages. Each figure is the latency of
one request through the whole Django stack in this process (middleware, token check, throttle,
query, JSON), measured over ``--requests`` calls after a warm-up. Measured:
- ``list``: GET /api/v1/conversations (first page, 25);
- ``deep``: the same, from a cursor 80 % of the way down the inbox;
- ``messages``: GET /api/v1/conversations/{id}/messages (latest 50) of random conversations;
- ``search``: GET /api/v1/conversations?q=<word> (full-text over the 200,000 messages).
The last line printed is ``key=value`` pairs. Options and figures: docs/performance.md, "API".
"""
from __future__ import annotations

import argparse
import importlib
import os
import random
import sys
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from bench.percentiles import percentile  # noqa: E402
from bench.scratch_schema import NoMigrations, create_scratch_database, drop_scratch_database  # noqa: E402

DB_NAME = "sb_api_bench"
WORDS = ("invoice refund shipping order password login account billing upgrade cancel delivery "
         "broken error payment card discount coupon export import report team seat plan trial "
         "email notification widget mobile android iphone browser chrome safari slow crash").split()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--conversations", type=int, default=10_000)
    parser.add_argument("--messages-per-conversation", type=int, default=20)
    parser.add_argument("--requests", type=int, default=200, help="timed requests per endpoint")
    parser.add_argument("--no-gin", action="store_true", help="do not create the full-text GIN index")
    args = parser.parse_args()

    db_url = os.environ.get("DATABASE_URL", "")
    if not db_url.startswith(("postgres://", "postgresql://")):
        sys.exit("bench/api needs DATABASE_URL=postgres://…")
    scratch_url = create_scratch_database(db_url, DB_NAME)
    os.environ.update(DATABASE_URL=scratch_url,
                      DJANGO_SETTINGS_MODULE="config.settings", API_RATE_PER_MINUTE="1000000000")
    os.environ.pop("TEST_DATABASE_NAME", None)
    os.environ.pop("REDIS_URL", None)  # locmem cache: the throttle counter stays in-process
    import django
    from django.conf import settings

    settings.MIGRATION_MODULES = NoMigrations()
    django.setup()
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # seeding speed only
    # The measured tenant's plan would throttle a load run; the flat (lifted) limit applies instead.
    settings.API_RATE_LIMIT_RESOLVER = "support.api.throttling.default_rate_per_minute"
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", run_syncdb=True, interactive=False, verbosity=0)
    try:
        t0 = time.perf_counter()
        token, conv_ids, deep_cursor = seed(args)
        seed_s = time.perf_counter() - t0
        print(f"seeded {args.conversations} conversations, "
              f"{args.conversations * args.messages_per_conversation} messages in {seed_s:.1f} s")
        results = measure(args, token, conv_ids, deep_cursor)
    finally:
        connection.close()
        drop_scratch_database(db_url, DB_NAME)
    pairs: dict[str, object] = {}
    for name, (samples, found, cpu_ms, sql_ms) in results.items():
        p50, p99 = percentile(samples, 50), percentile(samples, 99)
        print(f"{name:9s} p50 {p50:6.1f} ms  p99 {p99:6.1f} ms  python cpu {cpu_ms:5.1f} ms/req  "
              f"sql wait {sql_ms:5.1f} ms/req  ({len(samples)} requests, {found} rows/page avg)")
        pairs |= {f"{name}_p50_ms": f"{p50:.1f}", f"{name}_p99_ms": f"{p99:.1f}", f"{name}_cpu_ms": f"{cpu_ms:.1f}",
                  f"{name}_sql_ms": f"{sql_ms:.1f}"}
    worst = max(float(v) for k, v in pairs.items() if k.endswith("_p99_ms"))
    pairs |= {"conversations": args.conversations,
              "messages": args.conversations * args.messages_per_conversation,
              "gin": int(not args.no_gin), "max_p99_ms": f"{worst:.1f}", "load1": f"{os.getloadavg()[0]:.1f}"}
    print(" ".join(f"{k}={v}" for k, v in pairs.items()))


def seed(args: argparse.Namespace) -> tuple[str, list[str], str]:
    from django.contrib.postgres.indexes import GinIndex
    from django.contrib.postgres.search import SearchVector
    from django.db import connection
    from django.utils import timezone
    from django_scopes import scope, scopes_disabled

    from support.api.pagination import _encode
    from support.ids import opaque_id
    from support.models import Contact, Conversation, Membership, Message, Tenant, User
    from support.services.api_tokens import create_token

    rng = random.Random(7)
    now = timezone.now()
    with scopes_disabled():
        tenant = Tenant.objects.create(name="Bench", slug="bench")
        other = Tenant.objects.create(name="Other", slug="other")  # rows the tenant filter must skip
        user = User.objects.create_user("owner@bench.example", "x")
        agents = [Membership.objects.create(tenant=tenant, user=user, role="owner")]
        for i in range(9):
            u = User.objects.create_user(f"agent{i}@bench.example", "x")
            agents.append(Membership.objects.create(tenant=tenant, user=u, role="agent"))
    with scope(tenant=tenant):
        contacts = Contact.objects.bulk_create(
            [Contact(tenant=tenant, public_id=opaque_id("ct"), name=f"Visitor {i}") for i in range(2000)]
        )
        convs = []
        per = args.messages_per_conversation
        for i in range(args.conversations):
            created = now - timedelta(minutes=5 * (args.conversations - i))
            convs.append(Conversation(
                tenant=tenant, public_id=opaque_id("cv"), contact=rng.choice(contacts),
                status=rng.choice(["open", "open", "pending", "resolved", "resolved", "resolved"]),
                assignee=rng.choice([*agents, None]), last_seq=per, created_at=created,
                updated_at=created + timedelta(minutes=rng.randint(1, 600)), last_message_at=created,
            ))
        convs = Conversation.objects.bulk_create(convs, batch_size=2000)
    with scopes_disabled():
        other_contact = Contact.objects.create(tenant=other, name="x")
        Conversation.objects.bulk_create(
            [Conversation(tenant=other, public_id=opaque_id("cv"), contact=other_contact) for _ in range(1000)]
        )
    columns = ("tenant_id", "public_id", "conversation_id", "seq", "author_type", "kind", "body", "data",
               "created_at")
    with connection.cursor() as cursor:
        with cursor.cursor.copy(f"COPY support_message ({', '.join(columns)}) FROM STDIN") as copy:
            for conv in convs:
                for seq in range(1, per + 1):
                    body = " ".join(rng.choice(WORDS) for _ in range(rng.randint(4, 14)))
                    author = "contact" if seq % 2 else "agent"
                    copy.write_row((tenant.pk, opaque_id("msg"), conv.pk, seq, author, "text", body, "{}",
                                    conv.created_at + timedelta(seconds=seq)))
    # Each conversation points at its newest message (the inbox preview), as post_message keeps it:
    # the same backfill as migration 0004, so list pages pay the real join.
    from django.apps import apps
    from django_scopes import scopes_disabled

    backfill = importlib.import_module("support.migrations.0004_conversation_last_message").backfill_last_message
    with scopes_disabled():
        backfill(apps, None)
    if not args.no_gin:
        index = GinIndex(SearchVector("body", config=settings_search_config()), name="bench_message_body_fts")
        with connection.schema_editor() as editor:
            editor.add_index(Message, index)
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    ordered = sorted(convs, key=lambda c: (c.updated_at, c.public_id), reverse=True)
    deep = ordered[int(len(ordered) * 0.8)]
    token = create_token(tenant=tenant, name="bench", scope="read", created_by=user).plaintext
    return token, [c.public_id for c in convs], _encode([deep.updated_at, deep.public_id])


def settings_search_config() -> str:
    from django.conf import settings

    return settings.API_SEARCH_CONFIG


def measure(args: argparse.Namespace, token: str, conv_ids: list[str], deep_cursor: str) -> dict:
    from django.test import Client

    client = Client(headers={"Authorization": f"Bearer {token}"})
    rng = random.Random(11)
    cases = {
        "list": lambda: ("/api/v1/conversations", {}),
        "deep": lambda: ("/api/v1/conversations", {"cursor": deep_cursor}),
        "messages": lambda: (f"/api/v1/conversations/{rng.choice(conv_ids)}/messages", {"limit": 50}),
        "search": lambda: ("/api/v1/conversations", {"q": rng.choice(WORDS) + " " + rng.choice(WORDS)}),
    }
    sql_ms = [0.0]

    def timed(execute, sql, params, many, context):  # time spent waiting on PostgreSQL
        start = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            sql_ms[0] += (time.perf_counter() - start) * 1000

    results = {}
    from django.db import connection

    connection.execute_wrappers.append(timed)
    for name, make in cases.items():
        for _ in range(10):  # warm-up: connections, caches, query plans
            client.get(*make())
        samples, rows = [], 0
        cpu_start = time.process_time()
        sql_ms[0] = 0.0
        for _ in range(args.requests):
            path, params = make()
            start = time.perf_counter()
            response = client.get(path, params)
            samples.append((time.perf_counter() - start) * 1000)
            if response.status_code != 200:
                raise SystemExit(f"{name}: HTTP {response.status_code}: {response.content[:300]!r}")
            rows += len(response.json()["results"])
        cpu_ms = (time.process_time() - cpu_start) * 1000 / args.requests
        results[name] = (samples, round(rows / args.requests, 1), cpu_ms, sql_ms[0] / args.requests)
    return results


if __name__ == "__main__":
    main()
