"""Small text the issue measured below WCAG AA (4.5:1): the widget's "Powered by" line and the inbox
tab counts. Read from the stylesheets, so a later colour change that breaks the ratio fails here."""
from __future__ import annotations

import colorsys
import re
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "frontend" / "src"


def _luminance(hex_colour: str) -> float:
    channels = [int(hex_colour[i:i + 2], 16) / 255 for i in (1, 3, 5)]
    lin = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]


def contrast(fg: str, bg: str) -> float:
    a, b = sorted((_luminance(fg), _luminance(bg)), reverse=True)
    return (a + 0.05) / (b + 0.05)


def _rule(css: str, selector: str) -> str:
    match = re.search(re.escape(selector) + r"\s*\{([^}]*)\}", css)
    assert match, selector
    return match.group(1)


def _colour(rule: str, prop: str) -> str:
    match = re.search(rf"(?:^|[;\s]){prop}\s*:\s*(#[0-9a-fA-F]{{6}})", rule)
    assert match, (prop, rule)
    return match.group(1)


@pytest.mark.parametrize(("sheet", "selector", "background"), [
    ("widget/style.css", ".powered", "#ffffff"),  # inside the white composer
    ("dashboard/styles.css", ".tab-count", None),  # its own pill background
])
def test_small_text_meets_aa(sheet: str, selector: str, background: str | None) -> None:
    rule = _rule((SRC / sheet).read_text(), selector)
    fg = _colour(rule, "color")
    bg = background or _colour(rule, "background")
    assert contrast(fg, bg) >= 4.5, f"{selector}: {fg} on {bg} is {contrast(fg, bg):.2f}:1"


def test_widget_avatar_colours_carry_white_initials() -> None:
    """The widget's avatars are white initials on one of a few colours: every one at least 4.5:1."""
    source = (SRC / "widget/components/avatar.ts").read_text()
    match = re.search(r"const AVATAR_COLORS = \[([^\]]*)\]", source)
    assert match
    colours = re.findall(r"#[0-9a-fA-F]{6}", match.group(1))
    assert len(colours) >= 5
    for colour in colours:
        assert contrast("#ffffff", colour) >= 4.5, f"white on {colour} is {contrast('#ffffff', colour):.2f}:1"


@pytest.mark.parametrize("background", ["#ffffff", "#f6f7f9", "#eef2ff", "#eef0f4", "#f1f3f6"])
def test_dashboard_muted_text_on_every_surface_it_sits_on(background: str) -> None:
    """--muted: previews on a selected row (#eef2ff), event pills (#eef0f4), chips, the page, panels."""
    root = _rule((SRC / "dashboard/styles.css").read_text(), ":root")
    fg = _colour(root, "--muted")
    assert contrast(fg, background) >= 4.5, f"--muted {fg} on {background} is {contrast(fg, background):.2f}:1"


def _hsl(hue: int, saturation: float, lightness: float) -> str:
    r, g, b = colorsys.hls_to_rgb(hue / 360, lightness, saturation)
    return "#" + "".join(f"{round(c * 255):02x}" for c in (r, g, b))


def test_dashboard_avatar_initials_at_every_hue() -> None:
    """Inbox and contact avatars take a hue from the contact's id: initials and disc are the same hue at
    two lightnesses, readable at every one (at hue 60 a 32 % lightness was 4.43:1, found by axe-core)."""
    rule = _rule((SRC / "dashboard/styles.css").read_text(), ".avatar")
    bg = re.search(r"background:\s*hsl\(var\(--hue\)\s+(\d+)%\s+(\d+)%\)", rule)
    fg = re.search(r"(?:^|[;\s])color:\s*hsl\(var\(--hue\)\s+(\d+)%\s+(\d+)%\)", rule)
    assert bg and fg, rule
    for hue in range(360):
        background = _hsl(hue, int(bg.group(1)) / 100, int(bg.group(2)) / 100)
        initials = _hsl(hue, int(fg.group(1)) / 100, int(fg.group(2)) / 100)
        assert contrast(initials, background) >= 4.5, f"hue {hue}: {initials} on {background}"
