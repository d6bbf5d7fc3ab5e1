"""ONNX Runtime Web: where `vt-tui setup browser` installs it and how jobs find it.

The npm package `onnxruntime-web` is installed once into
`<data dir>/browser/node_modules`. Jobs copy (hard-link when possible) the few
files they need from its `dist/` folder into their own served folder. Nothing
is fetched while a job runs.
"""

from __future__ import annotations

import json
import logging
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from vt_core import paths

log = logging.getLogger(__name__)

PACKAGE = "onnxruntime-web"
DEFAULT_VERSION = "1.31.1"
"""The version the page and the tests were checked with; `vt-tui setup browser --ort-web-version` overrides it."""

SETUP_COMMAND = "vt-tui setup browser"

# ort.all.min.mjs carries the webgpu, webnn and wasm execution providers and
# loads the JSEP (webnn) or asyncify (webgpu) WebAssembly build at run time.
ENTRY_MODULE = "ort.all.min.mjs"
RUNTIME_FILE_PREFIX = "ort-wasm-simd-threaded"

NPM_TIMEOUT_S = 900


class OrtWebNotInstalled(Exception):
    """onnxruntime-web is missing from the data directory."""


class SetupFailed(Exception):
    """Installing onnxruntime-web failed; the message says why and what to do."""


@dataclass(frozen=True)
class OrtWebInstall:
    version: str
    dist_dir: Path

    def runtime_files(self) -> list[Path]:
        """Return the files a page needs: the entry module and every WebAssembly build with its loader."""
        files = [self.dist_dir / ENTRY_MODULE]
        files += sorted(
            path
            for path in self.dist_dir.iterdir()
            if path.name.startswith(RUNTIME_FILE_PREFIX) and path.suffix in (".wasm", ".mjs")
        )
        return files


def install_dir() -> Path:
    """Return the npm prefix that holds onnxruntime-web."""
    return paths.data_dir() / "browser"


def package_dir() -> Path:
    return install_dir() / "node_modules" / PACKAGE


def find_install() -> OrtWebInstall | None:
    """Return the installed onnxruntime-web, or None when it is missing or incomplete."""
    manifest = package_dir() / "package.json"
    try:
        version = str(json.loads(manifest.read_text())["version"])
    except (OSError, ValueError, KeyError):
        return None
    dist = package_dir() / "dist"
    if not (dist / ENTRY_MODULE).is_file():
        return None
    return OrtWebInstall(version=version, dist_dir=dist)


def require_install() -> OrtWebInstall:
    """Return the installed onnxruntime-web or raise OrtWebNotInstalled naming the setup command."""
    found = find_install()
    if found is None:
        raise OrtWebNotInstalled(
            f"ONNX Runtime Web ({PACKAGE}) is not installed in {install_dir()}; run `{SETUP_COMMAND}` "
            "(it needs Node.js and npm)"
        )
    return found


def missing_tools() -> list[str]:
    """Return the names of the tools `install` needs that are not on PATH."""
    return [tool for tool in ("node", "npm") if shutil.which(tool) is None]


def install(version: str = DEFAULT_VERSION, *, force: bool = False) -> OrtWebInstall:
    """Install onnxruntime-web `version` with npm into `install_dir()` and return it.

    Skips npm when that exact version is already there, unless `force`.
    Raises SetupFailed when Node.js or npm is missing or npm fails.
    """
    current = find_install()
    if current is not None and current.version == version and not force:
        log.info("%s %s is already installed in %s", PACKAGE, version, install_dir())
        return current

    missing = missing_tools()
    if missing:
        raise SetupFailed(
            f"{' and '.join(missing)} not found on PATH; install Node.js and npm "
            "(Debian/Ubuntu: `apt-get install -y nodejs npm`) and run the setup again"
        )

    target = install_dir()
    target.mkdir(parents=True, exist_ok=True)
    # A private package.json pins the exact version, so `npm install` is repeatable.
    manifest = {"name": "vt-tui-browser-runtime", "private": True, "dependencies": {PACKAGE: version}}
    (target / "package.json").write_text(json.dumps(manifest, indent=2) + "\n")
    command = ["npm", "install", "--no-audit", "--no-fund", "--ignore-scripts", "--save-exact"]
    log.info("running %s in %s", " ".join(command), target)
    try:
        completed = subprocess.run(
            command, cwd=target, capture_output=True, text=True, timeout=NPM_TIMEOUT_S, check=False
        )
    except subprocess.TimeoutExpired as error:
        raise SetupFailed(
            f"`npm install {PACKAGE}@{version}` timed out after {NPM_TIMEOUT_S} s; check access to the npm registry"
        ) from error
    if completed.returncode != 0:
        tail = "\n".join((completed.stderr or completed.stdout).strip().splitlines()[-15:])
        raise SetupFailed(
            f"`npm install {PACKAGE}@{version}` failed with exit status {completed.returncode}; check the "
            f"version exists and the npm registry is reachable. npm output:\n{tail}"
        )

    installed = find_install()
    if installed is None:
        raise SetupFailed(
            f"npm finished but {package_dir() / 'dist' / ENTRY_MODULE} is missing; "
            f"{PACKAGE} {version} may lack the ONNX Runtime Web build this runner loads"
        )
    if installed.version != version:
        raise SetupFailed(f"npm installed {PACKAGE} {installed.version}, expected {version}")
    return installed
