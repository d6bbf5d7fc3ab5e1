"""ONNX Runtime Web: where `vt-tui setup browser` installs it and how jobs find it.

The npm package `onnxruntime-web` is installed once into
`<data dir>/browser/node_modules`. Jobs copy (hard-link when possible) the few
files they need from its `dist/` folder into their own served folder. Nothing
is fetched while a job runs.

Lookup order: `VT_ORT_WEB_DIR` (an npm prefix holding node_modules/), the
current data directory, then the user's default data directory. The last step
lets a `VT_HOME` that isolates results (as the tests do) still use the runtime
that `vt-tui setup browser` installed for the user.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import platformdirs

from vt_core import paths

log = logging.getLogger(__name__)

PACKAGE = "onnxruntime-web"
DEFAULT_VERSION = "1.31.1"
"""The version the page and the tests were checked with; `vt-tui setup browser --ort-web-version` overrides it."""

SETUP_COMMAND = "vt-tui setup browser"

# Entry module per execution provider, as the package's exports map names them
# ("onnxruntime-web/webgpu" and "onnxruntime-web/all"). In 1.31 the webgpu
# bundle loads the asyncify WebAssembly build with the native WebGPU execution
# provider. The all bundle loads the JSEP build, which contains the WebNN provider.
ENTRY_MODULES: dict[str, str] = {
    "webgpu": "ort.webgpu.min.mjs",
    "webnn": "ort.all.min.mjs",
    "wasm": "ort.all.min.mjs",
}
ENTRY_MODULE = ENTRY_MODULES["webnn"]
"""The module whose presence marks a complete install."""
RUNTIME_FILE_PREFIX = "ort-wasm-simd-threaded"

NPM_TIMEOUT_S = 900


class OrtWebNotInstalled(Exception):
    """onnxruntime-web is missing from the data directory."""


class SetupFailed(Exception):
    """Installing onnxruntime-web failed; the message gives the cause and the fix."""


@dataclass(frozen=True)
class OrtWebInstall:
    version: str
    dist_dir: Path

    def runtime_files(self, provider: str) -> list[Path]:
        """Return the files a page needs for `provider`: its entry module and the WebAssembly builds it names."""
        if provider not in ENTRY_MODULES:
            raise ValueError(f"execution provider {provider!r} is invalid; use one of {', '.join(ENTRY_MODULES)}")
        entry = self.dist_dir / ENTRY_MODULES[provider]
        if not entry.is_file():
            raise OrtWebNotInstalled(f"{entry} is missing; reinstall with `{SETUP_COMMAND} --force`")
        text = entry.read_text(encoding="utf-8", errors="replace")
        loaders = sorted(set(re.findall(re.escape(RUNTIME_FILE_PREFIX) + r"[A-Za-z0-9_.-]*?\.mjs", text)))
        if not loaders:
            # A future layout may name its builds differently; take all of them.
            loaders = sorted(p.name for p in self.dist_dir.glob(f"{RUNTIME_FILE_PREFIX}*.mjs"))
        files = [entry]
        for loader in loaders:
            for path in (self.dist_dir / loader, self.dist_dir / (loader[: -len(".mjs")] + ".wasm")):
                if path.is_file():
                    files.append(path)
        return files

PREFIX_ENV = "VT_ORT_WEB_DIR"


def install_dir() -> Path:
    """Return the npm prefix that `install` writes: `VT_ORT_WEB_DIR`, else `<data dir>/browser`."""
    override = os.environ.get(PREFIX_ENV)
    if override:
        return Path(override).expanduser()
    return paths.data_dir() / "browser"


def package_dir(prefix: Path | None = None) -> Path:
    return (prefix or install_dir()) / "node_modules" / PACKAGE


def candidate_prefixes() -> list[Path]:
    """Return the npm prefixes searched for onnxruntime-web, in lookup order."""
    prefixes = [install_dir()]
    if not os.environ.get(PREFIX_ENV):
        user_default = Path(platformdirs.user_data_dir(paths.APP_NAME, appauthor=False)) / "browser"
        if user_default not in prefixes:
            prefixes.append(user_default)
    return prefixes


def _read_install(prefix: Path) -> OrtWebInstall | None:
    manifest = package_dir(prefix) / "package.json"
    try:
        version = str(json.loads(manifest.read_text())["version"])
    except (OSError, ValueError, KeyError):
        return None
    dist = package_dir(prefix) / "dist"
    if not (dist / ENTRY_MODULE).is_file():
        return None
    return OrtWebInstall(version=version, dist_dir=dist)


def find_install() -> OrtWebInstall | None:
    """Return the first complete onnxruntime-web install in `candidate_prefixes()`, or None."""
    for prefix in candidate_prefixes():
        found = _read_install(prefix)
        if found is not None:
            return found
    return None


def require_install() -> OrtWebInstall:
    """Return the installed onnxruntime-web or raise OrtWebNotInstalled naming the setup command."""
    found = find_install()
    if found is None:
        searched = ", ".join(str(prefix) for prefix in candidate_prefixes())
        raise OrtWebNotInstalled(
            f"ONNX Runtime Web ({PACKAGE}) is not installed (searched {searched}); run `{SETUP_COMMAND}` "
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
    target = install_dir()
    current = _read_install(target)
    if current is not None and current.version == version and not force:
        log.info("%s %s is already installed in %s", PACKAGE, version, install_dir())
        return current

    missing = missing_tools()
    if missing:
        raise SetupFailed(
            f"{' and '.join(missing)} not found on PATH; install Node.js and npm "
            "(Debian/Ubuntu: `apt-get install -y nodejs npm`) and run the setup again"
        )

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

    installed = _read_install(target)
    if installed is None:
        raise SetupFailed(
            f"npm finished but {package_dir() / 'dist' / ENTRY_MODULE} is missing; "
            f"{PACKAGE} {version} may lack the ONNX Runtime Web build this runner loads"
        )
    if installed.version != version:
        raise SetupFailed(f"npm installed {PACKAGE} {installed.version}, expected {version}")
    return installed
