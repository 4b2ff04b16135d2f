"""Finds user-visible text in Django templates that is not marked for translation (docs/i18n.md).

A template is read with Django's own lexer: ``{% translate %}``, ``{% blocktranslate %}…{% endblocktranslate %}``
and comments count as marked, variables as data. What remains is read as HTML: every text node outside
``<style>``/``<script>`` and every attribute people read (``title``, ``alt``, ``placeholder``,
``aria-label``, a button's ``value``) must have no words left.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

from django.template.base import Lexer, TokenType

# Templates that are not our UI, each with its reason. Keep this short.
NOT_OUR_UI = {
    "frontend/templates/frontend/demo.html": "a made-up customer's web page that embeds the widget (/demo/)",
    "support/templates/api/redoc.html": "ReDoc's own page shell around the API reference",
}
# Words that are the same in every language (the logo is Switch<span>board</span>).
SAME_IN_EVERY_LANGUAGE = {"Switchboard", "Switch", "board", "UTC", "PDF", "API"}
TEXT_ATTRIBUTES = {"title", "alt", "placeholder", "aria-label", "aria-description", "label"}
MARK = "\x00"


@dataclass(frozen=True)
class Finding:
    path: str
    line: int
    text: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.text!r}"


def _words(text: str) -> str:
    text = re.sub(r"\s+", " ", text.replace(MARK, " ")).strip()
    rest = " ".join(word for word in text.split()
                    if word.strip(":,.;()") not in SAME_IN_EVERY_LANGUAGE
                    and not word.startswith(("/", "<", ">", "http")))  # paths and addresses are not words
    return text if re.search(r"[^\W\d_]{2,}", rest) else ""


def _unmarked_source(source: str) -> str:
    """The template with marked text and template syntax blanked out (newlines kept for line numbers)."""
    out: list[str] = []
    skip_until: str | None = None
    for token in Lexer(source).tokenize():
        raw = token.token_type
        text = token.contents
        if skip_until:
            if raw == TokenType.BLOCK and text.split()[:1] == [skip_until]:
                skip_until = None
            out.append("\n" * _raw_newlines(token))
            continue
        if raw == TokenType.TEXT:
            out.append(text)
            continue
        if raw == TokenType.BLOCK:
            name = text.split()[0] if text.split() else ""
            if name in {"blocktranslate", "blocktrans"}:
                skip_until = "endblocktranslate" if name == "blocktranslate" else "endblocktrans"
            elif name == "comment":
                skip_until = "endcomment"
            elif name == "verbatim":
                skip_until = "endverbatim"
            elif name == "block" and text.split()[1:2] and text.split()[1].endswith("class"):
                skip_until = "endblock"  # {% block main_class %}wide{% endblock %}: a CSS class
        out.append(MARK + "\n" * _raw_newlines(token))
    return "".join(out)


def _raw_newlines(token) -> int:
    return token.contents.count("\n")


class _TextFinder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[tuple[int, str]] = []
        self._raw_depth = 0  # inside <style>/<script>

    def handle_starttag(self, tag, attrs) -> None:
        if tag in {"style", "script"}:
            self._raw_depth += 1
        attrs_d = dict(attrs)
        for name, value in attrs:
            readable = name in TEXT_ATTRIBUTES or (
                name == "value" and tag == "input" and attrs_d.get("type") in {"submit", "button", "reset"})
            if readable and value and _words(value):
                self.found.append((self.getpos()[0], f"{name}={value}"))

    def handle_endtag(self, tag) -> None:
        if tag in {"style", "script"} and self._raw_depth:
            self._raw_depth -= 1

    def handle_data(self, data) -> None:
        if self._raw_depth:
            return
        words = _words(data)
        if words:
            self.found.append((self.getpos()[0] + data[: len(data) - len(data.lstrip())].count("\n"), words))


def untranslated(root: Path, path: Path) -> list[Finding]:
    rel = path.relative_to(root).as_posix()
    if rel in NOT_OUR_UI:
        return []
    finder = _TextFinder()
    source = _unmarked_source(path.read_text())
    if path.suffix == ".txt":
        source = source.replace("<", "&lt;")  # plain-text email: "<address>" is text, not a tag
    finder.feed(source)
    finder.close()
    return [Finding(rel, line, text) for line, text in finder.found]


def template_files(root: Path) -> list[Path]:
    """Every template of ours: pages (.html) and emails (.txt, .html)."""
    return sorted(p for app in ("support", "push", "billing", "frontend", "config")
                  for pattern in ("templates/**/*.html", "templates/**/*.txt") for p in (root / app).glob(pattern))
