"""Terminal charts: textual-plotext plots that stay legible in the 16-colour themes."""

from __future__ import annotations

from textual_plotext import PlotextPlot


class Chart(PlotextPlot):
    """A PlotextPlot that uses the terminal's own colours under an ANSI theme.

    textual-plotext derives its "auto" plot theme from the app theme's RGB
    colours. The ANSI themes have none because they use the terminal's
    default colours, so the text turns black on black. Plotext's `clear`
    theme draws with the terminal's default colours instead.
    """

    def on_mount(self) -> None:
        self._match_theme()
        self.app.theme_changed_signal.subscribe(self, lambda _theme: self._match_theme())

    def _match_theme(self) -> None:
        self.theme = "clear" if self.app.current_theme.ansi else "auto"
        self.refresh()
