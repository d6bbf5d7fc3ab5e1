"""Colours and themes shared by every figure.

Each platform keeps one colour in every figure, from the Okabe-Ito palette, which
stays distinct with colour-vision deficiencies. States also carry a glyph and a
word, so no figure depends on colour alone.
"""

from __future__ import annotations

from vt_core.records import FAIL, MISMATCH, PASS, STATES, UNAVAILABLE, UNTESTED

PLATFORM_COLORS: dict[str, str] = {
    "cpu": "#0072B2",
    "cuda": "#009E73",
    "rocm": "#D55E00",
    "mps": "#7F7F7F",
    "openvino": "#CC79A7",
    "webgpu": "#E69F00",
    "webnn": "#56B4E9",
}
OTHER_PLATFORM_COLOR = "#333333"

STATE_COLORS: dict[str, dict[str, str]] = {
    "light": {PASS: "#2E9D57", MISMATCH: "#E6A700", FAIL: "#D1372E", UNAVAILABLE: "#9A9A9A", UNTESTED: "#E4E4E4"},
    "dark": {PASS: "#2E9D57", MISMATCH: "#C98F00", FAIL: "#C0392B", UNAVAILABLE: "#6E6E6E", UNTESTED: "#2F2F2F"},
}

THEMES = ("light", "dark")
TEMPLATES = {"light": "plotly_white", "dark": "plotly_dark"}
PAGE_COLORS = {
    "light": {"background": "#ffffff", "text": "#222222", "muted": "#666666", "panel": "#f4f4f4"},
    "dark": {"background": "#111111", "text": "#e8e8e8", "muted": "#9a9a9a", "panel": "#1e1e1e"},
}

STATIC_WIDTH_PX = 1200
"""Width of PNG, SVG and PDF exports; the height comes from each figure's layout."""


def platform_color(platform: str) -> str:
    return PLATFORM_COLORS.get(platform, OTHER_PLATFORM_COLOR)


def state_code(state: str) -> int:
    """Return the heatmap value of a state: its index in `records.STATES`."""
    return STATES.index(state) if state in STATES else STATES.index(UNTESTED)


def state_colorscale(theme: str) -> list[list]:
    """Return a stepped colorscale with one flat band per state, for z from -0.5 to len(STATES) - 0.5."""
    colors = STATE_COLORS[theme]
    band = 1.0 / len(STATES)
    scale: list[list] = []
    for index, state in enumerate(STATES):
        scale.append([index * band, colors[state]])
        scale.append([(index + 1) * band, colors[state]])
    return scale


def check_theme(theme: str) -> str:
    if theme not in THEMES:
        raise ValueError(f"theme {theme!r} is invalid; use one of {', '.join(THEMES)}")
    return theme
