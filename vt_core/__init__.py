"""vt_core: everything in vt-tui except the terminal screen.

This package never imports Textual, and its parent-process modules (launcher,
store, reports, cli) never import torch, transformers or openvino: those load
only in worker processes.
"""

__version__ = "0.1.0"
