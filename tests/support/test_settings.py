"""Settings: production variables pass `check --deploy`; bad values stop the process with a clear message."""
from __future__ import annotations

import os
import subprocess
import sys

from django.conf import settings


def run_manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL", "SECRET_KEY", "DEBUG"}}
    return subprocess.run([sys.executable, "manage.py", *args], cwd=settings.BASE_DIR, env={**clean, **env},
                          capture_output=True, text=True, timeout=120)


def test_production_settings_pass_check_deploy():
    result = run_manage("check", "--deploy", env={
        "SECRET_KEY": "x" * 20 + "a-long-random-production-secret-key-0123456789",
        "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/switchboard",
        "REDIS_URL": "redis://127.0.0.1:6379/0",
        "ALLOWED_HOSTS": "app.example.com",
    })
    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout


def test_bad_values_fail_loudly_at_start():
    result = run_manage("check", env={"DEBUG": "maybe"})
    assert result.returncode != 0
    assert "DEBUG must be a boolean" in result.stderr
    result = run_manage("check", env={"SECRET_KEY": "k" * 50, "DB_CONN_MAX_AGE": "-5",
                                      "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/switchboard"})
    assert result.returncode != 0
    assert "DB_CONN_MAX_AGE must be at least 0" in result.stderr


def test_production_refuses_missing_secret():
    result = run_manage("check", env={"DEBUG": "0"})
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def _database_settings(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return run_manage("shell", "-v", "0", "-c", "from django.conf import settings as s; d = s.DATABASES['default']; "
                      "print(d.get('OPTIONS', {}).get('pool'), d['CONN_MAX_AGE'])", env={"SECRET_KEY": "k" * 50, **env})


def test_postgresql_connections_come_from_a_pool_per_process():
    url = {"DATABASE_URL": "postgres://postgres@127.0.0.1:5432/switchboard"}
    result = _database_settings(url)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split("\n")[0] == "{'min_size': 2, 'max_size': 20, 'timeout': 10} 0"
    result = _database_settings({**url, "DB_POOL_MAX_SIZE": "5", "DB_POOL_MIN_SIZE": "9", "DB_POOL_TIMEOUT": "3"})
    assert result.stdout.split("\n")[0] == "{'min_size': 5, 'max_size': 5, 'timeout': 3} 0"
    result = _database_settings({**url, "DB_POOL_MAX_SIZE": "0", "DB_CONN_MAX_AGE": "60"})
    assert result.stdout.split("\n")[0] == "None 60"
    result = _database_settings({**url, "DB_CONN_MAX_AGE": "60"})
    assert result.returncode != 0
    assert "DB_CONN_MAX_AGE and the connection pool exclude each other" in result.stderr


def _fallbacks(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return run_manage("shell", "-v", "0", "-c", "from django.conf import settings as s; print(s.SECRET_KEY_FALLBACKS)",
                      env={"SECRET_KEY": "k" * 50, **env})


def test_secret_key_fallbacks_come_from_the_environment():
    """A rotated secret's predecessors (docs/operations.md, "Rotating SECRET_KEY"): comma-separated."""
    old = ["x" * 20 + "an-earlier-production-secret-key-0123456789", "y" * 20 + "an-older-secret-key-0123456"]
    result = _fallbacks({"SECRET_KEY_FALLBACKS": f"{old[0]}, {old[1]}"})
    assert result.returncode == 0, result.stderr
    assert result.stdout.split("\n")[0] == repr(old)
    assert _fallbacks({}).stdout.split("\n")[0] == "[]"
