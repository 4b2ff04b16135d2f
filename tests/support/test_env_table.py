"""Every environment variable the code reads is in the README's configuration table, and every
variable in the table is read somewhere (issues 10 and 15).

The scan reads the source, not the running settings: the typed readers of ``config/env.py``
(``env_str("NAME", …)`` and its siblings), ``os.environ`` in every form and ``os.getenv``, in the
code that runs the product (``config/``, ``support/``, ``push/``, ``billing/``, ``frontend/*.py``,
``manage.py``), the shell variables of the ``Procfile`` and of the systemd units
(``deploy/systemd/``), and the variables of the example environment file
(``deploy/switchboard.env.example``). A read whose name is not a literal cannot be checked, so it
fails too.
"""
from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
TABLE_HEADING = "## Configuration (environment variables)"
# The helpers that read the environment by a name they are given (and so are not reads themselves).
HELPERS = ROOT / "config" / "env.py"

NAME = r"""(?P<q>["'])(?P<name>[A-Z][A-Z0-9_]*)(?P=q)"""
LITERAL_READS = [
    re.compile(r"\benv(?:_[a-z]+)?\(\s*" + NAME),                                  # env_int("X", …)
    re.compile(r"\bos\.environ\.(?:get|setdefault|pop)\(\s*" + NAME),              # os.environ.get("X")
    re.compile(r"\bos\.environ\[\s*" + NAME + r"\s*\]"),                           # os.environ["X"]
    re.compile(r"\bos\.getenv\(\s*" + NAME),                                       # os.getenv("X")
    re.compile(NAME + r"\s+(?:not\s+)?in\s+os\.environ\b"),                        # "X" in os.environ
]
# Anything that touches the environment at all; each must be one of the literal reads above.
ANY_READ = re.compile(
    r"\benv(?:_[a-z]+)?\(|\bos\.environ\b|\bos\.getenv\b|\bfrom\s+os\s+import\b[^\n]*\b(?:environ|getenv)\b"
)


def code_files() -> list[Path]:
    files = [ROOT / "manage.py", *sorted((ROOT / "frontend").glob("*.py"))]
    for app in ("config", "support", "push", "billing"):
        files += sorted(p for p in (ROOT / app).rglob("*.py") if "migrations" not in p.parts)
    return [p for p in files if p != HELPERS]


def reads_in_code() -> tuple[dict[str, list[str]], list[str]]:
    """{variable: ["path:line", …]} and the reads the scan cannot name ("path:line: code")."""
    found: dict[str, list[str]] = {}
    unnamed: list[str] = []
    for path in code_files():
        text = path.read_text()
        for pattern in LITERAL_READS:
            for match in pattern.finditer(text):
                line = text.count("\n", 0, match.start()) + 1
                found.setdefault(match["name"], []).append(f"{path.relative_to(ROOT)}:{line}")
        for match in ANY_READ.finditer(text):
            line_start = text.rfind("\n", 0, match.start()) + 1
            line_end = text.find("\n", match.start())
            source = text[line_start:line_end].strip()
            if source.startswith(("#", "def ")) or _covered(match.start(), text):
                continue
            line = text.count("\n", 0, match.start()) + 1
            unnamed.append(f"{path.relative_to(ROOT)}:{line}: {source}")
    return found, unnamed


def _covered(position: int, text: str) -> bool:
    """Whether the environment access at ``position`` is part of a read that names its variable."""
    window = text[position:position + 200]
    if any(pattern.match(window) for pattern in LITERAL_READS):
        return True
    # `"X" in os.environ`: the literal comes before the access.
    before = text[max(0, position - 80):position + len("os.environ")]
    return bool(re.search(NAME + r"\s+(?:not\s+)?in\s+os\.environ$", before))


def reads_in_deployment() -> dict[str, list[str]]:
    """The shell variables of the Procfile and the systemd units, and the example env file's names."""
    found: dict[str, list[str]] = {}
    for path in [ROOT / "Procfile", *sorted((ROOT / "deploy" / "systemd").glob("*.service"))]:
        for number, line in enumerate(path.read_text().splitlines(), start=1):
            for name in re.findall(r"\$\{?([A-Z][A-Z0-9_]*)", line):
                found.setdefault(name, []).append(f"{path.relative_to(ROOT)}:{number}")
    example = ROOT / "deploy" / "switchboard.env.example"
    for number, line in enumerate(example.read_text().splitlines(), start=1):
        for name in re.findall(r"^#?\s*([A-Z][A-Z0-9_]*)=", line):
            found.setdefault(name, []).append(f"{example.relative_to(ROOT)}:{number}")
    return found


def variables_in_table() -> set[str]:
    text = README.read_text()
    assert TABLE_HEADING in text, f"README.md has no {TABLE_HEADING!r} section"
    section = text.split(TABLE_HEADING, 1)[1].split("\n## ", 1)[0]
    names: set[str] = set()
    for row in section.splitlines():
        if row.startswith("| `"):
            first_cell = row.split("|")[1]
            names.update(re.findall(r"`([A-Z][A-Z0-9_]*)`", first_cell))
    return names


def test_the_scan_finds_reads_in_every_form():
    sample = '''x = env_int(
        "A_NUMBER", 3)
y = os.environ.get('A_NAME')
z = os.environ["INDEXED"]
w = os.getenv("VIA_GETENV")
if "MEMBER" in os.environ: pass
os.environ.setdefault("DEFAULTED", "v")
v = os.environ.get(some_name)
'''
    names = {m["name"] for pattern in LITERAL_READS for m in pattern.finditer(sample)}
    assert names == {"A_NUMBER", "A_NAME", "INDEXED", "VIA_GETENV", "MEMBER", "DEFAULTED"}
    unnamed = [m for m in ANY_READ.finditer(sample) if not _covered(m.start(), sample)]
    assert [sample[m.start():m.start() + 30].split("\n")[0] for m in unnamed] == ["os.environ.get(some_name)"]


def test_every_variable_the_code_reads_is_in_the_readme_table():
    found, unnamed = reads_in_code()
    for name, places in reads_in_deployment().items():
        found.setdefault(name, []).extend(places)
    listed = variables_in_table()
    problems = []
    if unnamed:
        problems.append(
            "These read the environment without a literal variable name, so no one can find them in the "
            "table; read through config/env.py's helpers with the name written out, e.g. "
            'env_int("MY_SETTING", 10):\n  ' + "\n  ".join(unnamed)
        )
    missing = sorted(set(found) - listed)
    if missing:
        rows = "\n".join(f"  | `{name}` | <what it does> (default <…>). |   ← read at {', '.join(found[name])}"
                         for name in missing)
        problems.append(
            f"Read by the code but not in README.md's table under {TABLE_HEADING!r}; add a row for each "
            f"(next to the variables of the same subject):\n{rows}"
        )
    unused = sorted(listed - set(found))
    if unused:
        problems.append(
            f"Listed in README.md's table under {TABLE_HEADING!r} but read nowhere in "
            "config/, support/, push/, billing/, frontend/*.py, manage.py, the Procfile, deploy/systemd/ or "
            "deploy/switchboard.env.example; remove it from its row "
            "(or read it in the code): " + ", ".join(f"`{name}`" for name in unused)
        )
    assert not problems, "\n\n".join(problems)
