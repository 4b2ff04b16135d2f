"""What a visitor send's two rate-limit windows cost this process on the event loop:
``push.ratelimit.within_limits_async`` (per visitor, per IP) for ``--sends`` sends in rounds of
``--concurrent`` at once (the ceiling bench's flushes hold ~50-70 sends), on a real Redis. No server,
no database: the counting's own CPU per send, Python only (Redis's own work is not in it), less the
harness's (the same rounds of a call that counts nothing).

    REDIS_URL=redis://127.0.0.1:6379/4 .venv/bin/python bench/realtime/send_limits.py --sends 20000

``--visitors-per-ip`` visitors share an IP (and so its counter). Last line: ``client_cpu_us_per_send=
sends_per_s= flushes= sends= concurrent= loadavg_1m=``; the keys it wrote are deleted at the end.
"""
from __future__ import annotations

import argparse
import asyncio
import contextvars
import os
import sys
import time
import uuid
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))


async def _run(args: argparse.Namespace) -> None:
    from push import hub, ratelimit
    from push.ratelimit import within_limits_async

    tenants = [uuid.uuid4().hex for _ in range(args.tenants)]
    limits = [[("send.visitor", f"v{n}", 10**9), ("send.ip", f"10.0.{n // args.visitors_per_ip}.1", 10**9)]
              for n in range(args.visitors)]
    flushes = 0
    real = ratelimit._Counters._send_all

    async def counted(self: ratelimit._Counters) -> None:
        nonlocal flushes
        flushes += 1
        await real(self)

    ratelimit._Counters._send_all = counted  # type: ignore[method-assign]

    # Each visitor's sends run in a context of its own, kept from send to send, like a socket's task
    # (a fresh context per send would also build a cache object per send: Django keeps them per context).
    contexts = [contextvars.copy_context() for _ in range(args.visitors)]
    loop = asyncio.get_running_loop()

    async def round_(start: int, call: Callable[..., Coroutine[Any, Any, bool]] = within_limits_async) -> None:
        await asyncio.gather(*(loop.create_task(
            call(tenant_key=tenants[n % len(tenants)], limits=limits[n % len(limits)]),
            context=contexts[n % len(contexts)]) for n in range(start, start + args.concurrent)))

    for start in range(0, 2000, args.concurrent):  # warm: connection, script, caches
        await round_(start)
    flushes = 0
    cpu0, t0 = time.process_time(), time.perf_counter()
    for start in range(0, args.sends, args.concurrent):
        await round_(start)
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - t0
    sends = len(range(0, args.sends, args.concurrent)) * args.concurrent

    async def nothing(**_: object) -> bool:
        await asyncio.sleep(0)
        return True

    # The harness's own share (a task per send, gathered): the same rounds of a call that counts nothing.
    cpu1 = time.process_time()
    for start in range(0, args.sends, args.concurrent):
        await round_(start, nothing)
    harness = time.process_time() - cpu1
    client = ratelimit._async_client()
    for tenant in tenants:
        keys = [key async for key in client.scan_iter(match=f"*rl:{tenant}:*")]
        if keys:
            await client.delete(*keys)
    await hub.close_hub()
    print(f"client_cpu_us_per_send={(cpu - harness) / sends * 1e6:.1f} harness_cpu_us_per_send="
          f"{harness / sends * 1e6:.1f} sends_per_s={sends / wall:.0f} flushes={flushes} "
          f"sends={sends} concurrent={args.concurrent} loadavg_1m={os.getloadavg()[0]:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sends", type=int, default=20000)
    parser.add_argument("--concurrent", type=int, default=60, help="sends at once, at most --visitors")
    parser.add_argument("--visitors", type=int, default=100)
    parser.add_argument("--visitors-per-ip", type=int, default=1)
    parser.add_argument("--tenants", type=int, default=100)
    args = parser.parse_args()
    if args.concurrent > args.visitors:
        parser.error("--concurrent must not exceed --visitors (a visitor sends one at a time)")
    if not os.environ.get("REDIS_URL"):
        parser.error("set REDIS_URL (a Redis database these counters may be written to)")
    os.environ.setdefault("REDIS_PREFIX", "bench-send-limits")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    asyncio.run(_run(args))


if __name__ == "__main__":
    main()
