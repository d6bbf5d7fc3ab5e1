"""`vt-tui setup browser`: install ONNX Runtime Web for the webgpu and webnn platforms.

Installs the npm package onnxruntime-web into the data directory, checks that
Chromium is there, and probes WebGPU and WebNN once so the user sees at setup
time what jobs on these platforms will get.
"""

from __future__ import annotations

import argparse
import sys


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "setup", help="install optional runtimes (browser: ONNX Runtime Web for webgpu and webnn)",
        description="Install what an optional platform needs. `browser` installs the npm package "
        "onnxruntime-web into the vt-tui data directory (needs Node.js and npm) and checks the "
        "system Chromium (VT_CHROMIUM, else /usr/bin/chromium). Nothing is downloaded at run time.",
    )
    parser.add_argument("target", choices=["browser"], help="what to set up")
    parser.add_argument("--ort-web-version", default=None, metavar="VERSION",
                        help="onnxruntime-web version to install (default: the tested version)")
    parser.add_argument("--force", action="store_true", help="reinstall even if that version is already installed")
    parser.add_argument("--no-probe", action="store_true", help="skip launching Chromium to probe WebGPU and WebNN")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from vt_core.runners.browser import ortweb
    from vt_core.runners.browser.chromium import ChromiumNotFound, chromium_executable

    version = args.ort_web_version or ortweb.DEFAULT_VERSION
    status = 0

    try:
        executable = chromium_executable()
        print(f"chromium: {executable}", file=sys.stderr)
    except ChromiumNotFound as error:
        print(f"vt-tui: error: {error}", file=sys.stderr)
        executable = None
        status = 1

    print(f"installing {ortweb.PACKAGE} {version} into {ortweb.install_dir()} ...", file=sys.stderr)
    try:
        install = ortweb.install(version, force=args.force)
    except ortweb.SetupFailed as error:
        print(f"vt-tui: error: {error}", file=sys.stderr)
        return 1
    print(f"{ortweb.PACKAGE} {install.version}: {install.dist_dir}")

    if executable is None or args.no_probe:
        return status

    from vt_core.runners.browser.probe import detect

    for platform in detect():
        if platform["available"]:
            devices = ", ".join(device["name"] for device in platform["devices"]) or "no device listed"
            print(f"{platform['name']}: available ({devices})")
        else:
            print(f"{platform['name']}: unavailable: {platform['reason']}")
    return status
