"""axe-core (the npm package, frontend/node_modules/axe-core) run inside a page or frame of the real Chromium.

``serious_violations(target)`` injects axe into a Playwright ``Page`` or ``Frame`` and returns its
serious and critical violations as readable lines (empty: none). Contexts that use it need
``bypass_csp=True``: the product's Content-Security-Policy rightly refuses the injected script.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

AXE = Path(__file__).resolve().parents[2] / "frontend" / "node_modules" / "axe-core" / "axe.min.js"
BLOCKING = ("serious", "critical")


def serious_violations(target: Any, *, include: str | None = None) -> list[str]:
    """Serious/critical axe violations of ``target`` (a Page or Frame), ``include`` narrowing it to a selector."""
    if not AXE.exists():
        pytest.skip("axe-core is not installed (frontend/package.json devDependencies: `npm ci` in frontend/)")
    if not target.evaluate("() => typeof window.axe === 'object'"):
        target.add_script_tag(content=AXE.read_text())
    results = target.evaluate(
        """async (include) => {
            const context = include ? { include: [include] } : document;
            // Frames are checked on their own (each gets axe injected): not from the host page.
            return await window.axe.run(context, { iframes: false, resultTypes: ["violations"] });
        }""",
        include,
    )
    lines = []
    for violation in results["violations"]:
        if violation["impact"] not in BLOCKING:
            continue
        for node in violation["nodes"]:
            lines.append(f"{violation['impact']} {violation['id']}: {violation['help']} — {node['target']} "
                         f"{node.get('failureSummary', '').splitlines()[-1:]}")
    return lines
