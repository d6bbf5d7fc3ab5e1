"""Options of the app: command line, environment and settings file, in that order of precedence.

The settings file is `<data dir>/tui.json` (see `vt_core.paths.data_dir`):

    {"model_dirs": ["/models/clip-finetuned", "/srv/checkpoints"], "theme": "textual-light"}

`VT_MODEL_DIRS` (a list separated by the platform's path separator) adds
model directories; `VT_DB` chooses the database as it does for every command.
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from vt_core import paths

SETTINGS_FILE_NAME = "tui.json"

APP_OPTIONS = ("--db", "--model-dir", "--theme")
"""Options that open the app; any other first argument goes to the headless command line."""


class ConfigError(ValueError):
    """An invalid option value or settings file; the message names it and the fix."""


@dataclass
class AppConfig:
    """Options the app reads before its first screen."""

    db_path: Path
    """The results database (`--db`, else `VT_DB`, else the default under the data directory)."""
    model_dirs: list[Path] = field(default_factory=list)
    """Local folders searched for models besides the catalog and the Hugging Face cache."""
    theme: str | None = None
    """A Textual theme name; None picks dark, or the ANSI theme on a 16-colour terminal."""


def settings_path() -> Path:
    return paths.data_dir() / SETTINGS_FILE_NAME


def read_settings_file(path: Path) -> dict:
    """Return the settings file as a dict, {} when it does not exist."""
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as error:
        raise ConfigError(f"settings file {path} is invalid ({error}); fix or delete it") from error
    if not isinstance(data, dict):
        raise ConfigError(f"settings file {path} must hold a JSON object, got {type(data).__name__}")
    return data


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="vt-tui", description="Open the vt-tui terminal app.")
    parser.add_argument("--db", metavar="PATH", help="results database (default: VT_DB or the user data directory)")
    parser.add_argument(
        "--model-dir", metavar="DIR", action="append", default=[],
        help="a folder with a model (config.json) or with model folders; repeat for several",
    )
    parser.add_argument("--theme", metavar="NAME", help="Textual theme, for example textual-light or ansi-dark")
    return parser


def load_config(argv: Sequence[str] | None = None) -> AppConfig:
    """Return the app's configuration from `argv`, the environment and the settings file."""
    args = build_parser().parse_args(list(argv or []))
    settings = read_settings_file(settings_path())

    model_dirs: list[Path] = [Path(d).expanduser() for d in args.model_dir]
    env_dirs = os.environ.get("VT_MODEL_DIRS", "")
    model_dirs += [Path(d).expanduser() for d in env_dirs.split(os.pathsep) if d]
    file_dirs = settings.get("model_dirs", [])
    if not isinstance(file_dirs, list):
        raise ConfigError(f"model_dirs in {settings_path()} must be a list of folders, got {file_dirs!r}")
    model_dirs += [Path(str(d)).expanduser() for d in file_dirs]

    missing = [d for d in args.model_dir if not Path(d).expanduser().is_dir()]
    if missing:
        raise ConfigError(f"model directory {missing[0]} not found; pass an existing folder to --model-dir")

    return AppConfig(
        db_path=paths.resolve_db_path(args.db),
        model_dirs=list(dict.fromkeys(model_dirs)),
        theme=args.theme or settings.get("theme"),
    )
