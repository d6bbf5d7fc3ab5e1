"""DataTable variants whose Enter key shows its action in the footer."""

from __future__ import annotations

from textual.binding import Binding
from textual.widgets import DataTable


class DetailsTable(DataTable):
    """A DataTable where Enter opens details of the row or cell under the cursor."""

    BINDINGS = [Binding("enter", "select_cursor", "Details", tooltip="Open the details under the cursor")]
