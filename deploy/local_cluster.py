"""Start, inspect and stop a cluster on 127.0.0.1: nginx (deploy/nginx/switchboard.conf in a
directory of its own, on a free port, in the foreground: no system nginx is touched), N web nodes
(`manage.py serve`), M Celery workers and beat, on the PostgreSQL and Redis of DATABASE_URL and
REDIS_URL (local addresses only). Each process runs in a process group of its own, recorded in
``<dir>/state.json``; ``stop`` ends those groups (SIGTERM, then SIGKILL) and nothing else.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parents[1]
SITE_CONF = ROOT / "deploy" / "nginx" / "switchboard.conf"
PYTHON = os.environ.get("PYTHON") or sys.executable
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def local_only(url: str) -> str:
    if urlsplit(url).hostname not in LOCAL_HOSTS:
        raise SystemExit(f"local-cluster uses local services only, not {url}")
    return url


def nginx_conf(*, site: str, port: int, nodes: list[int], prefix: Path) -> str:
    """The production site with this cluster's listen port and upstream servers, inside an nginx.conf
    that keeps every file nginx writes under ``prefix``."""
    servers = "".join(f"    server 127.0.0.1:{p} max_fails=1 fail_timeout=5s;\n" for p in nodes)
    site, n = re.subn(r"(?m)^    server 127\.0\.0\.1:\d+ [^\n]*\n", "", site)
    if n == 0:
        raise SystemExit(f"{SITE_CONF}: no upstream server lines to replace")
    site = site.replace("    least_conn;\n", "    least_conn;\n" + servers, 1)
    site = re.sub(r"(?m)^    listen \[::\]:80;\n", "", site)
    site = re.sub(r"(?m)^    listen 80;$", f"    listen 127.0.0.1:{port};", site)
    return f"""daemon off;
master_process on;
worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log {prefix}/access.log;
    client_body_temp_path {prefix}/client_body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
    # Which node answered: tests check that requests are spread.
    add_header X-Switchboard-Upstream $upstream_addr always;
{site}
}}
"""


class Cluster:
    def __init__(self, directory: Path) -> None:
        self.dir = directory
        self.state_path = directory / "state.json"

    def load(self) -> dict:
        if not self.state_path.exists():
            raise SystemExit(f"no cluster recorded in {self.dir} (start one first)")
        return json.loads(self.state_path.read_text())

    def save(self, state: dict) -> None:
        # It holds the cluster's SECRET_KEY: readable by its owner only.
        fd = os.open(self.state_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(json.dumps(state, indent=2))

    # ---- processes -----------------------------------------------------------------------------

    def spawn(self, state: dict, name: str, command: list[str]) -> None:
        log = (self.dir / f"{name}.log").open("ab")
        # Its own process group (start_new_session), which `stop` ends.
        process = subprocess.Popen(command, cwd=ROOT, env=state["env"],  # noqa: S603 - our own argv
                                   stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                   start_new_session=True)
        state["processes"][name] = {"pid": process.pid, "command": command}

    def wait_healthy(self, url: str, *, name: str, pid: int, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while True:
            if not alive(pid):
                raise SystemExit(f"{name} exited; its log: {self.dir / (name + '.log')}")
            try:
                with urllib.request.urlopen(url, timeout=2) as resp:  # noqa: S310 - a local http URL
                    if resp.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            if time.monotonic() > deadline:
                raise SystemExit(f"{name} did not answer {url} within {timeout:.0f} s")
            time.sleep(0.3)

    def start(self, *, nodes: int, workers: int, database_url: str, redis_url: str, prefix: str) -> dict:
        if self.state_path.exists() and any(alive(p["pid"]) for p in self.load()["processes"].values()):
            raise SystemExit(f"a cluster is already running from {self.dir}: stop it first")
        self.dir.mkdir(parents=True, exist_ok=True)
        self.dir.chmod(0o755)  # nginx's workers (nobody, when started as root) write its temp dirs
        port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "TEST_DATABASE"))}
        env.update(
            DATABASE_URL=local_only(database_url), REDIS_URL=local_only(redis_url), REDIS_PREFIX=prefix,
            SECRET_KEY=secrets.token_urlsafe(40), DEBUG="0", SECURE_SSL_REDIRECT="0",
            ALLOWED_HOSTS="127.0.0.1,localhost", SITE_URL=f"http://127.0.0.1:{port}",
            CSRF_TRUSTED_ORIGINS=f"http://127.0.0.1:{port}", FORWARDED_ALLOW_IPS="127.0.0.1",
            CELERY_EMBEDDED_WORKER="0", SWITCHBOARD_VAR_DIR=str(self.dir), MEDIA_ROOT=str(self.dir / "media"),
            PYTHONUNBUFFERED="1",
        )
        state: dict = {"port": port, "url": f"http://127.0.0.1:{port}", "env": env, "processes": {},
                       "nodes": [free_port() for _ in range(nodes)]}
        self.save(state)
        create_database(database_url)
        subprocess.run([PYTHON, "manage.py", "migrate", "--noinput", "-v", "0"],  # noqa: S603 - our argv
                       cwd=ROOT, env=env, check=True)
        try:
            for n, node_port in enumerate(state["nodes"], 1):
                self.spawn(state, f"web{n}", node_command(node_port))
            for n in range(1, workers + 1):
                self.spawn(state, f"worker{n}", [PYTHON, "-m", "celery", "-A", "config", "worker", "--pool",
                                                 "prefork", "--concurrency", "1", "-n", f"worker{n}@%h",
                                                 "--loglevel", "INFO"])
            self.spawn(state, "beat", [PYTHON, "-m", "celery", "-A", "config", "beat", "--loglevel", "INFO",
                                       "--schedule", str(self.dir / "celerybeat-schedule")])
            nginx_dir = self.dir / "nginx"
            nginx_dir.mkdir(exist_ok=True)
            conf = nginx_dir / "nginx.conf"
            conf.write_text(nginx_conf(site=SITE_CONF.read_text(), port=port, nodes=state["nodes"],
                                       prefix=nginx_dir))
            # -e: not even the start-up error log goes to the system's /var/log/nginx.
            nginx = [NGINX, "-p", str(nginx_dir), "-e", str(nginx_dir / "error.log"), "-c", str(conf)]
            subprocess.run([*nginx, "-t", "-q"], check=True)  # noqa: S603 - our argv
            self.spawn(state, "nginx", nginx)
            self.save(state)
            for n, node_port in enumerate(state["nodes"], 1):
                self.wait_healthy(f"http://127.0.0.1:{node_port}/healthz", name=f"web{n}",
                                  pid=state["processes"][f"web{n}"]["pid"])
            self.wait_healthy(f"{state['url']}/healthz", name="nginx", pid=state["processes"]["nginx"]["pid"])
        except BaseException:
            self.save(state)
            self.stop()
            raise
        return state

    def restart_node(self, state: dict, name: str) -> None:
        """One step of a rolling deploy: SIGTERM (the node drains), wait for it to exit, start it again."""
        info = state["processes"][name]
        end_group(info["pid"], grace=60)
        node_port = state["nodes"][int(name.removeprefix("web")) - 1]
        self.spawn(state, name, node_command(node_port))
        self.save(state)
        self.wait_healthy(f"http://127.0.0.1:{node_port}/healthz", name=name, pid=state["processes"][name]["pid"])

    def restart(self, state: dict, name: str) -> None:
        """Start one process again (after a crash, or to pick up new code): a web node as in a rolling
        deploy (drained, then ``/healthz``); a worker or beat ended gracefully and started again."""
        if name not in state["processes"] or name == "nginx":
            raise SystemExit(f"no process {name!r} to restart: one of "
                             f"{', '.join(n for n in state['processes'] if n != 'nginx')}")
        if name.startswith("web"):
            self.restart_node(state, name)
            return
        end_group(state["processes"][name]["pid"], grace=45)
        self.spawn(state, name, state["processes"][name]["command"])
        self.save(state)

    def kill(self, state: dict, name: str) -> None:
        """SIGKILL one process's group, as a crash would (no drain, no close frames): for fault drills."""
        if name not in state["processes"]:
            raise SystemExit(f"no process {name!r}: one of {', '.join(state['processes'])}")
        pid = state["processes"][name]["pid"]
        try:
            os.killpg(pid, signal.SIGKILL)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + 10
        while group_alive(pid) and time.monotonic() < deadline:
            try:
                os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                pass
            time.sleep(0.05)

    def stop(self) -> None:
        state = self.load()
        # nginx first (no new requests), then the nodes (they drain), then the workers and beat;
        # the processes of one tier end side by side.
        names = list(state["processes"])
        for tier in (["nginx"], [n for n in names if n.startswith("web")],
                     [n for n in names if n != "nginx" and not n.startswith("web")]):
            end_groups([state["processes"][n]["pid"] for n in tier if n in state["processes"]], grace=45)
        self.state_path.unlink()

    def status(self) -> int:
        state = self.load()
        print(f"nginx on {state['url']}")
        down = 0
        for name, info in state["processes"].items():
            up = alive(info["pid"])
            down += not up
            print(f"  {name:8} pid {info['pid']:>7}  {'up' if up else 'DOWN'}")
        return 1 if down else 0


def node_command(port: int) -> list[str]:
    return [PYTHON, "manage.py", "serve", "--host", "127.0.0.1", "--port", str(port)]


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A child of ours that exited is a zombie until reaped: not alive.
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def end_group(pid: int, *, grace: float) -> None:
    """SIGTERM the process group led by ``pid`` (each process here leads its own), then SIGKILL
    whatever is left after ``grace`` seconds."""
    end_groups([pid], grace=grace)


def end_groups(pids: list[int], *, grace: float) -> None:
    """``end_group`` for several groups at once: all are asked to stop, then waited for together."""
    left = []
    for pid in pids:
        try:
            os.killpg(pid, signal.SIGTERM)
            left.append(pid)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + grace
    while left and time.monotonic() < deadline:
        for pid in left:
            try:
                os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                pass
        left = [pid for pid in left if group_alive(pid)]
        if left:
            time.sleep(0.1)
    for pid in left:
        try:
            os.killpg(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def group_alive(pgid: int) -> bool:
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            return True
    return False


def create_database(url: str) -> None:
    import psycopg

    name = urlsplit(url).path.lstrip("/")
    parts = urlsplit(url)
    admin = urlunsplit((parts.scheme, parts.netloc, "/postgres", parts.query, ""))
    with psycopg.connect(admin, autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone() is None:
            conn.execute(f'CREATE DATABASE "{name}"')


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("action", choices=["start", "stop", "status", "rolling-restart", "restart", "kill"])
    parser.add_argument("name", nargs="?", help="restart, kill: the process (web1, worker2, beat, …)")
    parser.add_argument("--dir", type=Path, default=ROOT / "var" / "local-cluster",
                        help="where state, logs and nginx's files go (default var/local-cluster)")
    parser.add_argument("--nodes", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL")
                        or "postgres://postgres@127.0.0.1:5432/switchboard_cluster")
    parser.add_argument("--redis-url", default=os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0")
    parser.add_argument("--redis-prefix", default=os.environ.get("REDIS_PREFIX") or "sb_cluster")
    args = parser.parse_args(argv)
    cluster = Cluster(args.dir.resolve())
    if args.action == "start":
        state = cluster.start(nodes=args.nodes, workers=args.workers, database_url=args.database_url,
                              redis_url=args.redis_url, prefix=args.redis_prefix)
        print(f"cluster up: {state['url']} (nginx) -> nodes on ports {', '.join(map(str, state['nodes']))}; "
              f"logs and state in {cluster.dir}")
        return 0
    if args.action == "stop":
        cluster.stop()
        return 0
    if args.action in ("restart", "kill"):
        if not args.name:
            parser.error(f"{args.action} needs the name of a process (web1, worker1, beat, …)")
        state = cluster.load()
        getattr(cluster, args.action)(state, args.name)
        print(f"{args.name} {'restarted' if args.action == 'restart' else 'killed'}")
        return 0
    if args.action == "rolling-restart":
        state = cluster.load()
        for n in range(1, len(state["nodes"]) + 1):
            cluster.restart_node(state, f"web{n}")
            print(f"web{n} restarted")
        return 0
    return cluster.status()


if __name__ == "__main__":
    sys.exit(main())
