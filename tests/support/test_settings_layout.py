"""config/settings.py is grouped by subject: each setting is defined in one place (one statement,
or the statements right after it that finish building it, all in one ``# --- subject`` section),
never bound twice, never mutated from another section, and no code outside the settings module
assigns a setting (issue 15)."""
from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SETTINGS = ROOT / "config" / "settings.py"
SETTING = re.compile(r"^[A-Z][A-Z0-9_]*$")
MUTATORS = {"append", "extend", "update", "setdefault", "insert", "pop", "remove", "clear"}


def _root(node: ast.expr) -> str | None:
    """The name at the root of ``X``, ``X[...]``, ``X[...][...]``, ``X.attr``."""
    while isinstance(node, ast.Subscript | ast.Attribute):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


def touches(statement: ast.stmt) -> tuple[set[str], set[str]]:
    """(settings this top-level statement binds by name, settings it changes in place)."""
    bound: set[str] = set()
    changed: set[str] = set()
    for node in ast.walk(statement):
        if isinstance(node, ast.Assign | ast.AnnAssign | ast.AugAssign):
            for target in node.targets if isinstance(node, ast.Assign) else [node.target]:
                name = _root(target)
                if name and SETTING.match(name):
                    plain = isinstance(target, ast.Name) and not isinstance(node, ast.AugAssign)
                    (bound if plain else changed).add(name)
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in MUTATORS:
            name = _root(node.func.value)
            if name and SETTING.match(name):
                changed.add(name)
    return bound, changed


def sections(text: str) -> list[int]:
    """Line numbers of the ``# --- subject`` headings."""
    return [number for number, line in enumerate(text.splitlines(), start=1) if line.startswith("# --- ")]


def layout_problems(text: str) -> list[str]:
    headings = sections(text)

    def section_of(line: int) -> int:
        return sum(1 for heading in headings if heading <= line)

    binders: dict[str, list[int]] = {}
    places: dict[str, set[int]] = {}
    for statement in ast.parse(text).body:
        bound, changed = touches(statement)
        for name in bound:
            binders.setdefault(name, []).append(statement.lineno)
        for name in bound | changed:
            places.setdefault(name, set()).add(section_of(statement.lineno))
    problems = [f"{name} is bound by {len(lines)} statements (lines {lines}): define it once"
                for name, lines in sorted(binders.items()) if len(lines) > 1]
    problems += [f"{name} is changed in place before it is defined" for name in sorted(set(places) - set(binders))]
    problems += [f"{name} is defined or changed in {len(found)} sections: keep it in the section of its subject"
                 for name, found in sorted(places.items()) if len(found) > 1]
    return problems


def test_the_check_finds_a_setting_defined_twice_or_changed_elsewhere():
    text = '''
# --- Celery
OPTIONS = {"a": 1}
if FLAG:
    OPTIONS["b"] = 2
LIMIT = 1
# --- Outbox
OPTIONS["c"] = 3
LIMIT = 2
EXTRA.update({})
'''
    assert layout_problems(text) == [
        "LIMIT is bound by 2 statements (lines [6, 9]): define it once",
        "EXTRA is changed in place before it is defined",
        "LIMIT is defined or changed in 2 sections: keep it in the section of its subject",
        "OPTIONS is defined or changed in 2 sections: keep it in the section of its subject",
    ]


def test_each_setting_is_defined_in_one_place():
    assert layout_problems(SETTINGS.read_text()) == []


def test_each_subject_has_one_section():
    """No two ``# --- `` headings open with the same word (one "Realtime", one "Celery", …)."""
    text = SETTINGS.read_text()
    firsts = [text.splitlines()[number - 1][len("# --- "):].split()[0].strip(":,").lower() for number in sections(text)]
    assert sorted(first for first in set(firsts) if firsts.count(first) > 1) == []


def test_no_code_assigns_a_setting():
    assignment = re.compile(r"\bsettings\.[A-Z][A-Z0-9_]*(\[[^\]]*\])*\s*(=[^=]|\+=)|\bsettings\.[A-Z][A-Z0-9_]*\."
                            r"(append|extend|update|setdefault|insert)\(")
    found = [f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
             for app in ("config", "support", "push", "billing", "frontend")
             for path in sorted((ROOT / app).rglob("*.py")) if "migrations" not in path.parts
             for number, line in enumerate(path.read_text().splitlines(), start=1) if assignment.search(line)]
    assert found == []
