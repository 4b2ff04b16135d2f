"""A mosquitto of a test (or bench run) of its own: a free port of 127.0.0.1, the dynamic-security
plugin with a generated admin password, stopped by its PID. Never the machine's shared broker."""
from __future__ import annotations

import getpass
import secrets
import shutil
import socket
import subprocess
import time
from pathlib import Path

from bench.realtime.harness import free_port

MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
MOSQUITTO_CTRL = shutil.which("mosquitto_ctrl") or "/usr/bin/mosquitto_ctrl"
DYNSEC_PLUGINS = (
    "/usr/lib/x86_64-linux-gnu/mosquitto_dynamic_security.so",
    "/usr/lib/aarch64-linux-gnu/mosquitto_dynamic_security.so",
    "/usr/lib/mosquitto_dynamic_security.so",
)
# Large enough for one RT_FRAME_MAX_BYTES frame (64 KiB by default) plus MQTT headers; bigger
# packets make the broker drop the connection before anyone parses them.
MAX_PACKET_BYTES = 96 * 1024


def dynsec_plugin() -> str | None:
    return next((p for p in DYNSEC_PLUGINS if Path(p).exists()), None)


def missing() -> str | None:
    """Why no private broker can be started here, or None."""
    if not Path(MOSQUITTO).exists():
        return "needs mosquitto (Debian package `mosquitto`)"
    if not Path(MOSQUITTO_CTRL).exists():
        return "needs mosquitto_ctrl (Debian package `mosquitto-clients`)"
    if dynsec_plugin() is None:
        return "needs Mosquitto's dynamic-security plugin (mosquitto_dynamic_security.so)"
    return None


class OwnMosquitto:
    """``mosquitto`` with dynsec on 127.0.0.1:``port``; ``url`` is the admin's MQTT_URL."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.port = free_port()
        self.admin_password = secrets.token_urlsafe(16)
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"mqtt://sb-admin:{self.admin_password}@127.0.0.1:{self.port}"

    def start(self) -> None:
        plugin = dynsec_plugin()
        dynsec = self.workdir / "dynamic-security.json"
        if not dynsec.exists():
            subprocess.run([MOSQUITTO_CTRL, "dynsec", "init", str(dynsec), "sb-admin", self.admin_password],
                           check=True, capture_output=True)
        config = self.workdir / "mosquitto.conf"
        config.write_text(
            # As root mosquitto would switch to the `mosquitto` user, who cannot read this directory.
            f"user {getpass.getuser()}\n"
            f"listener {self.port} 127.0.0.1\n"
            "allow_anonymous false\n"
            f"plugin {plugin}\n"
            f"plugin_opt_config_file {dynsec}\n"
            f"max_packet_size {MAX_PACKET_BYTES}\n"
            "persistence false\n"
            f"log_dest file {self.workdir / 'mosquitto.log'}\n"
            "log_type error\nlog_type warning\nlog_type notice\n"
        )
        self.process = subprocess.Popen(
            [MOSQUITTO, "-c", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        for _ in range(200):
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                assert self.process.poll() is None, self.log()
                time.sleep(0.05)
        raise AssertionError(f"mosquitto did not listen: {self.log()}")

    def log(self) -> str:
        path = self.workdir / "mosquitto.log"
        return path.read_text() if path.exists() else ""

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()  # this PID only
            self.process.wait(timeout=10)
        self.process = None
