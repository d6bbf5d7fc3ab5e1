"""Command palette provider: every action of the current screen and of the app."""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial

from textual.app import App
from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.screen import Screen


class ScreenActionsProvider(Provider):
    """Offer each described binding of the current screen and the app as a command.

    Commands come from the bindings themselves, so the palette, the footer and
    the help screen never disagree about what a screen can do.
    """

    def _commands(self) -> Iterator[tuple[str, str, object]]:
        screen = self.screen
        seen: set[str] = set()
        active = list(screen.active_bindings.values())
        # Screen actions first, then the app's; bindings of focused widgets (cursor keys) are left out.
        active.sort(key=lambda item: 0 if item.node is screen else 1)
        for node, binding, _enabled, _tooltip in active:
            if not isinstance(node, (Screen, App)) or not binding.description:
                continue
            if binding.action in seen:
                continue
            seen.add(binding.action)
            scope = getattr(screen, "SCREEN_NAME", "screen") if node is screen else "everywhere"
            key = self.app.get_key_display(binding)
            help_text = f"{binding.tooltip or binding.description} · key {key} · {scope}"
            yield binding.description, help_text, partial(_run, node, binding.action)

    async def discover(self) -> Hits:
        for name, help_text, callback in self._commands():
            yield DiscoveryHit(name, callback, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for name, help_text, callback in self._commands():
            score = max(matcher.match(name), matcher.match(help_text) * 0.5)
            if score > 0:
                yield Hit(score, matcher.highlight(name), callback, help=help_text)


async def _run(node: App | Screen, action: str) -> None:
    await node.run_action(action)
