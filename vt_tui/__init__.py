"""vt_tui: the Textual app over vt_core."""
