"""No user-visible text in a template that is not marked for translation, and every marked
string translated into Chinese (rules in tests/i18n/template_scan.py; the TypeScript side is
frontend/test/i18n.test.ts)."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.conf import settings
from django.template import engines
from django.utils import translation

from tests.i18n.template_scan import NOT_OUR_UI, template_files, untranslated

ROOT = Path(settings.BASE_DIR)
PO = ROOT / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.po"


def test_every_template_marks_its_text_for_translation() -> None:
    found = [str(f) for path in template_files(ROOT) for f in untranslated(ROOT, path)]
    assert found == [], "mark these with {% translate %} / {% blocktranslate %}:\n" + "\n".join(found)


def test_the_allow_list_names_real_files() -> None:
    assert all((ROOT / rel).exists() for rel in NOT_OUR_UI)


def _entries() -> list[tuple[str, str]]:
    """(msgid, msgstr) of the Chinese catalog, multi-line strings joined."""
    text = PO.read_text()
    out = []
    for block in text.split("\n\n"):
        fields: dict[str, str] = {}
        key = None
        for line in block.splitlines():
            m = re.match(r'^(msgid|msgid_plural|msgstr(?:\[0\])?) "(.*)"$', line)
            if m:
                key = m.group(1).replace("[0]", "")
                fields[key] = m.group(2)
            elif line.startswith('"') and key:
                fields[key] += line[1:-1]
        if fields.get("msgid"):
            out.append((fields["msgid"], fields.get("msgstr", "")))
    return out


# Django's own strings we only borrow (their translation comes from Django's catalog).
FROM_DJANGO = {"Select this object for an action - {}"}


def test_every_marked_string_has_a_chinese_translation() -> None:
    missing = [msgid for msgid, msgstr in _entries() if not msgstr and msgid not in FROM_DJANGO]
    assert missing == [], "translate these in locale/zh_Hans/LC_MESSAGES/django.po:\n" + "\n".join(missing)


def test_the_catalog_is_up_to_date_with_the_templates() -> None:
    """Every {% translate %} literal of the templates is in the catalog (run `make messages-update`)."""
    known = {msgid for msgid, _ in _entries()}
    literal = re.compile(r'{%\s*(?:translate|trans)\s+"([^"]+)"(?:\s+context\s+"[^"]+")?\s*(?:as \w+\s*)?%}')
    absent = sorted({m for path in template_files(ROOT) for m in literal.findall(path.read_text())} - known)
    assert absent == []


@pytest.mark.parametrize("path", [p for p in template_files(ROOT) if p.suffix == ".html"], ids=lambda p: p.name)
def test_templates_compile(path: Path) -> None:
    engines["django"].from_string(path.read_text())  # the i18n tags are well formed


def test_a_marked_string_reads_chinese_under_zh_hans() -> None:
    with translation.override("zh-hans"):
        assert translation.gettext("Forgot your password?") == "忘记密码？"


# Names Chinese writes as English does.
SAME_IN_CHINESE = {"URL"}


def _admin_names() -> list[tuple[str, object]]:
    """(where, name) of every model the admin registers: its names and those of its fields."""
    from django.contrib import admin
    names: list[tuple[str, object]] = []
    for model in admin.site._registry:
        opts = model._meta
        names += [(f"{opts.label} verbose_name", opts.verbose_name),
                  (f"{opts.label} verbose_name_plural", opts.verbose_name_plural)]
        names += [(f"{opts.label}.{field.name}", field.verbose_name)
                  for field in opts.get_fields(include_hidden=False)
                  if field.concrete and not field.auto_created]
    return names


def test_every_admin_model_and_field_name_is_marked_and_translated() -> None:
    """Staff-only models too: a name Django derived from the attribute is a plain str (unmarked)."""
    from django.utils.functional import Promise
    unmarked = [where for where, name in _admin_names() if not isinstance(name, Promise)]
    assert unmarked == [], "give these a verbose_name=_(…) (gettext_lazy):\n" + "\n".join(unmarked)
    with translation.override("zh-hans"):
        english_left = [f"{where}: {name}" for where, name in _admin_names()
                        if re.search(r"[A-Za-z]{3}", str(name)) and not re.search(r"[\u4e00-\u9fff]", str(name))
                        and str(name) not in SAME_IN_CHINESE]
    assert english_left == [], "translate these in the Chinese catalog:\n" + "\n".join(english_left)
