"""Where the memory of idle visitor sockets goes: tracemalloc and object counts in the server.

Starts the bench stack (scratch PostgreSQL database, Redis) with one server process that runs
uvicorn in-process under ``tracemalloc`` (same options as the harness: no per-message deflate,
no access log, lifespan off, no proxy-headers middleware), opens ``--sockets`` visitor sockets that
only say hello, and prints what was allocated and which objects appeared between the baseline and
the open sockets, per socket. tracemalloc itself costs memory and time, so take RSS figures from
``run.py --mode idle``.

  .venv/bin/python bench/realtime/memprofile.py --sockets 500
"""
from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import signal
import sys
import time
import tracemalloc
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))


def serve(port: int, out: Path, depth: int) -> None:
    """The traced server: SIGUSR1 writes ``snap-<n>`` (tracemalloc) and ``types-<n>.json``."""
    import uvicorn

    tracemalloc.start(depth)
    taken = 0

    def dump(*_: object) -> None:
        nonlocal taken
        taken += 1
        gc.collect()
        counts = Counter(f"{type(o).__module__}.{type(o).__qualname__}" for o in gc.get_objects())
        tracemalloc.take_snapshot().dump(str(out / f"snap-{taken}"))
        (out / f"types-{taken}.json").write_text(json.dumps(counts))
        (out / f"done-{taken}").touch()

    signal.signal(signal.SIGUSR1, dump)
    uvicorn.run(
        "config.asgi:application", host="127.0.0.1", port=port, lifespan="off", access_log=False,
        ws_per_message_deflate=False, log_level="warning", proxy_headers=False,
        ws=os.environ.get("BENCH_WS", "push.uvicorn_ws:SlimWebSocketProtocol"),  # "auto": uvicorn's own
    )


async def _snapshot(pid: int, out: Path, n: int) -> None:
    os.kill(pid, signal.SIGUSR1)
    while not (out / f"done-{n}").exists():
        await asyncio.sleep(0.2)


def _report(out: Path, n: int, top: int) -> None:
    before = tracemalloc.Snapshot.load(str(out / "snap-1"))
    after = tracemalloc.Snapshot.load(str(out / "snap-2"))
    ignore = [tracemalloc.Filter(False, tracemalloc.__file__),
              tracemalloc.Filter(False, "<frozen importlib._bootstrap*")]
    before, after = before.filter_traces(ignore), after.filter_traces(ignore)
    total = sum(s.size_diff for s in after.compare_to(before, "filename"))
    print(f"\ntraced growth: {total / 2**20:.1f} MB, {total / n / 1024:.2f} KB per socket\n")
    print("by line (KB per socket, objects per socket):")
    for stat in after.compare_to(before, "lineno")[:top]:
        frame = stat.traceback[0]
        print(f"  {stat.size_diff / n / 1024:7.2f} KB {stat.count_diff / n:6.1f}  {frame.filename}:{frame.lineno}")
    print("\nby component: the innermost frame outside the standard library (KB per socket):")
    for where, size in _by_component(before, after)[:top]:
        print(f"  {size / n / 1024:7.2f} KB  {where}")
    print("\nby traceback, the biggest (innermost frame last):")
    for stat in after.compare_to(before, "traceback")[: top // 2]:
        print(f"  {stat.size_diff / n / 1024:7.2f} KB {stat.count_diff / n:6.1f} objects")
        for frame in list(stat.traceback)[-6:]:
            print(f"        {frame.filename}:{frame.lineno}")
    types1 = Counter(json.loads((out / "types-1.json").read_text()))
    types2 = Counter(json.loads((out / "types-2.json").read_text()))
    print("\nobjects (gc-tracked) per socket:")
    for name, count in (types2 - types1).most_common(top):
        print(f"  {count / n:6.2f}  {name}")


def _component(traceback: tracemalloc.Traceback) -> str:
    """``package`` or ``project/file.py:function-line`` of the innermost non-stdlib frame."""
    stdlib = os.path.dirname(os.__file__)
    root = str(Path(__file__).resolve().parents[2]) + "/"
    for frame in reversed(list(traceback)):  # innermost first
        name = frame.filename
        if "site-packages/" in name:
            return name.split("site-packages/", 1)[1].split("/", 1)[0]
        if name.startswith(root) and "/.venv/" not in name:
            return f"{name[len(root):]}:{frame.lineno}"
        if not (name.startswith(stdlib) or name.startswith("<")):
            return name
    return f"stdlib {traceback[0].filename.rsplit('/', 1)[-1]}:{traceback[0].lineno}"


def _by_component(before: tracemalloc.Snapshot, after: tracemalloc.Snapshot) -> list[tuple[str, int]]:
    sums: Counter[str] = Counter()
    for stat in after.compare_to(before, "traceback"):
        sums[_component(stat.traceback)] += stat.size_diff
    return sums.most_common()


async def profile(args: argparse.Namespace) -> None:
    from bench.realtime.client import SocketClient, idle_tokens_after_warm_up
    from bench.realtime.harness import PYTHON, Stack

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("*-*"):
        old.unlink()
    command = [PYTHON, str(Path(__file__).resolve()), "--serve", "{port}", "--out", str(out),
               "--depth", str(args.depth)]
    with Stack(database_url=args.database_url, redis_url=args.redis_url, server_command=command) as stack:
        server = stack.start_server(timeout=180)
        tenant = stack.seed["tenants"][0]
        tokens, warm = await idle_tokens_after_warm_up(http=server.http, ws=server.ws, widget_key=tenant["widget_key"],
                                                 origin=stack.origin, count=args.sockets)
        await _snapshot(server.process.pid, out, 1)
        gate = asyncio.Semaphore(20)
        sockets: list[SocketClient] = []

        async def one(i: int) -> None:
            async with gate:
                sock = await SocketClient.connect(f"{server.ws}/ws/visitor/", origin=stack.origin)
                await sock.send({"type": "hello", "token": tokens[i % len(tokens)], "resume": {}})
                await sock.expect("welcome", timeout=60)
                sockets.append(sock)

        t0 = time.perf_counter()
        await asyncio.gather(*(one(i) for i in range(args.sockets)))
        print(f"opened {len(sockets)} sockets in {time.perf_counter() - t0:.1f}s", flush=True)
        await asyncio.sleep(2)
        await _snapshot(server.process.pid, out, 2)
        for sock in [*sockets, warm]:
            await sock.close()
    _report(out, len(sockets), args.top)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sockets", type=int, default=500)
    parser.add_argument("--top", type=int, default=40)
    parser.add_argument("--depth", type=int, default=12, help="traceback frames kept per allocation")
    parser.add_argument("--out", default="/tmp/sb-memprofile")
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--report", type=int, metavar="N", help="only print the report of --out for N sockets")
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL")
                        or "postgres://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--redis-url", default=os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/13")
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, Path(args.out), args.depth)
        return
    if args.report:
        _report(Path(args.out), args.report, args.top)
        return
    if args.sockets < 1:
        parser.error("--sockets must be positive")
    asyncio.run(profile(args))


if __name__ == "__main__":
    main()
