"""Display forms of states, numbers and progress.

Each of the five states has a glyph, a short word and a colour, so a cell stays
readable in 16 colours, and without colour at all the glyph and word still
tell the states apart. Terminals whose fonts lack the Unicode glyphs (the Linux
console, TERM=linux) get an ASCII set.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

from rich.text import Text

from vt_core.records import FAIL, MISMATCH, PASS, UNAVAILABLE, UNTESTED


@dataclass(frozen=True)
class StateStyle:
    glyph: str
    ascii_glyph: str
    word: str
    style: str
    """A Rich style built from the 16 ANSI colours, so it survives a 16-colour terminal."""


STATE_STYLES: dict[str, StateStyle] = {
    PASS: StateStyle("✓", "+", "pass", "bold green"),
    MISMATCH: StateStyle("≠", "~", "diff", "bold yellow"),
    FAIL: StateStyle("✗", "x", "fail", "bold red"),
    UNAVAILABLE: StateStyle("–", "-", "n/a", "blue"),
    UNTESTED: StateStyle("·", ".", "", "dim"),
}

# Job states of the launcher that are not result states.
JOB_STYLES: dict[str, StateStyle] = {
    "queued": StateStyle("…", ".", "queued", "dim"),
    "running": StateStyle("▶", ">", "running", "bold cyan"),
    "cancelled": StateStyle("⊘", "/", "cancelled", "magenta"),
    **STATE_STYLES,
}


def use_ascii() -> bool:
    """Return True when the terminal's font probably lacks the Unicode glyphs.

    `VT_ASCII=1` forces the ASCII set and `VT_ASCII=0` forbids it; otherwise
    the Linux console (TERM=linux) gets ASCII.
    """
    forced = os.environ.get("VT_ASCII")
    if forced is not None:
        return forced not in ("", "0", "false", "no")
    return os.environ.get("TERM", "") == "linux"


ASCII = use_ascii()


def glyph(state: str) -> str:
    style = JOB_STYLES.get(state, STATE_STYLES[UNTESTED])
    return style.ascii_glyph if ASCII else style.glyph


def state_text(state: str, *, word: bool = True, full: bool = False) -> Text:
    """Return the glyph of a state in its colour, followed by its short word, or its full name with `full`."""
    style = JOB_STYLES.get(state, STATE_STYLES[UNTESTED])
    label = glyph(state)
    if full:
        label = f"{label} {state}"
    elif word and style.word:
        label = f"{label} {style.word}"
    return Text(label, style=style.style)


def result_state_text(state: str, flag: str | None, *, full: bool = False) -> Text:
    """Return `state_text` of a stored result, or its glyph and FLAG ("mock" or "simulated") when it was faked."""
    if flag is None:
        return state_text(state, full=full)
    if full:
        return Text(f"{glyph(state)} {state} ({flag})", style="magenta")
    return Text(f"{glyph(state)} {'sim' if flag == 'simulated' else flag}", style="magenta")


def legend() -> Text:
    """Return a one-line legend of the five states."""
    text = Text()
    for state in (PASS, MISMATCH, FAIL, UNAVAILABLE, UNTESTED):
        if text:
            text.append("  ")
        text.append(glyph(state), style=STATE_STYLES[state].style)
        text.append(f" {state}")
    return text


# -- numbers ---------------------------------------------------------------


def seconds(value: float | None) -> str:
    """Format a latency in seconds with a unit that keeps three significant digits."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    if value < 1e-3:
        return f"{value * 1e6:.0f} µs" if not ASCII else f"{value * 1e6:.0f} us"
    if value < 1:
        return f"{value * 1e3:.3g} ms"
    return f"{value:.3g} s"


def duration(value: float | None) -> str:
    """Format a wall-clock duration as m:ss (or h:mm:ss)."""
    if value is None or value < 0 or math.isnan(value):
        return "—"
    total = int(round(value))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}:{minutes:02d}:{secs:02d}"
    return f"{minutes}:{secs:02d}"


def megabytes(value: float | None) -> str:
    if value is None:
        return "—"
    if value >= 1024:
        return f"{value / 1024:.2f} GiB"
    return f"{value:.0f} MiB"


def count(value: int | None) -> str:
    """Format a parameter count as 151M or 1.2B."""
    if value is None:
        return "—"
    for limit, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if value >= limit:
            scaled = value / limit
            return f"{scaled:.3g}{suffix}"
    return str(value)


def number(value: float | None, digits: int = 3) -> str:
    if value is None:
        return "—"
    return f"{value:.{digits}g}"


def bar(fraction: float, width: int = 12) -> str:
    """Return a text progress bar of `width` cells for a fraction in [0, 1]."""
    fraction = min(max(fraction, 0.0), 1.0)
    filled = int(round(fraction * width))
    if ASCII:
        return "#" * filled + "-" * (width - filled)
    return "█" * filled + "░" * (width - filled)


def fit_model(model_id: str, width: int) -> str:
    """Return `model_id` shortened to `width` cells.

    The organisation goes first, then the start of the name: variants of one
    model differ at the end (`-base`, `-large`, `-patch16`), so the end stays.
    """
    if len(model_id) <= width:
        return model_id
    name = model_id.rstrip("/").rsplit("/", 1)[-1]
    if len(name) <= width:
        return name
    ellipsis = "." if ASCII else "…"
    return ellipsis + name[-max(width - 1, 1):]
