"""The local cluster (deploy/local-cluster) for the tests that drive it through nginx."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import psycopg
import pytest

from bench.realtime.harness import _with_db
from deploy.local_cluster import NGINX
from tests.conftest import skip_without_service

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def cluster_env() -> dict[str, str]:
    """Extra environment of every process of the cluster; a test module overrides this fixture."""
    return {}


@pytest.fixture
def cluster(request, require_postgres, redis_url, tmp_path, cluster_env):
    """`deploy/local-cluster start` on a database of its own, seeded with the demo
    (tests/multiprocess/cluster_seed.py); stopped, and the database dropped, after the test.
    The state it yields: ``url`` (nginx), ``nodes`` (ports), ``processes``, ``env``, and the seed's
    ``widget_key``, ``session_cookie`` and ``agent_sessions``."""
    if not Path(NGINX).exists():
        skip_without_service(request.node, service="nginx",
                             reason="needs Debian's nginx: `make nginx` (apt-get install nginx)")
    name = f"sb_lc_{uuid.uuid4().hex[:10]}"
    database_url = _with_db(os.environ["DATABASE_URL"], name)
    env = {**os.environ, "PYTHON": sys.executable, **cluster_env}
    command = [str(ROOT / "deploy/local-cluster"), "--dir", str(tmp_path / "cluster"), "--database-url", database_url,
               "--redis-url", redis_url, "--redis-prefix", name]
    started = subprocess.run([command[0], "start", *command[1:]], env=env, capture_output=True, text=True,
                             timeout=300)
    state_path = tmp_path / "cluster/state.json"
    state = json.loads(state_path.read_text()) if state_path.exists() else None
    try:
        assert started.returncode == 0, started.stderr[-3000:]
        assert state is not None
        seeded = subprocess.run([sys.executable, "-m", "tests.multiprocess.cluster_seed"], cwd=ROOT, env=state["env"],
                                check=True, capture_output=True, text=True, timeout=300)
        state.update(json.loads(seeded.stdout.strip().splitlines()[-1]))
        state["database_url"] = database_url
        state["command"] = command
        state["env_for_script"] = env
        yield state
    finally:
        if state_path.exists():
            subprocess.run([command[0], "stop", *command[1:]], env=env, timeout=300)
        with psycopg.connect(_with_db(os.environ["DATABASE_URL"], "postgres"), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        shutil.rmtree(tmp_path / "cluster", ignore_errors=True)


def script(cluster: dict, action: str, *names: str) -> subprocess.CompletedProcess:
    """``deploy/local-cluster ACTION [NAME]`` on the test's cluster."""
    command = cluster["command"]
    return subprocess.run([command[0], action, *names, *command[1:]], env=cluster["env_for_script"],
                          capture_output=True, text=True, timeout=300)


def processes(cluster: dict) -> dict[str, dict]:
    """The processes the script has recorded now (restarts change their pids)."""
    return json.loads((Path(cluster["command"][2]) / "state.json").read_text())["processes"]
