"""Every module of support/ and config/ is in a layer of .importlinter: lint-imports checks only the
modules a contract names, so a new module left out would escape the layers unnoticed."""
from __future__ import annotations

import configparser
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# Not code of any layer: app configs and package markers, migrations, templates.
SKIPPED = {"__init__", "apps", "migrations", "templates"}


def layered_modules() -> set[str]:
    config = configparser.ConfigParser()
    config.read(ROOT / ".importlinter")
    lines = config["importlinter:contract:layers"]["layers"].splitlines()
    return {name.strip() for line in lines for name in line.replace("|", ":").split(":") if name.strip()}


def modules_of(package: str) -> list[str]:
    found = []
    for path in sorted((ROOT / package.replace(".", "/")).iterdir()):
        name = path.stem
        if name in SKIPPED or name.startswith((".", "_")) or not (path.suffix == ".py" or path.is_dir()):
            continue
        if path.is_dir() and not (path / "__init__.py").exists():
            continue
        found.append(f"{package}.{name}")
    return found


def test_every_module_of_support_and_config_is_in_a_layer():
    layered = layered_modules()

    def covered(module: str) -> bool:
        parts = module.split(".")
        return any(".".join(parts[:i]) in layered for i in range(1, len(parts) + 1))

    modules = modules_of("support") + modules_of("config") + modules_of("config.observability")
    missing = [m for m in modules if not covered(m) and m != "config.observability"]
    assert not missing, f"Add these modules to a layer in .importlinter: {missing}"
    # The check sees the layers: a module of the layers' own list is found.
    assert covered("support.events.outbox") and covered("config.observability.logs")
