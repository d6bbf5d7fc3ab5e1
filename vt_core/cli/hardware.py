"""`vt-tui hardware`: list the seven platforms, their devices, versions, and why any is absent."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "hardware", help="list the platforms and devices found on this machine",
        description="Detect cpu, cuda, rocm, mps, openvino, webgpu and webnn in a separate process "
        "and print each with its devices and library versions, or the reason it is unavailable.",
    )
    parser.add_argument("--json", action="store_true", help="print the detection result as JSON")
    parser.add_argument("--timeout", type=float, default=120.0, metavar="SECONDS",
                        help="time limit of the detection process (default: 120)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from vt_core import platforms

    print("detecting platforms...", file=sys.stderr)
    detected = platforms.detect_in_subprocess(timeout=args.timeout)
    if args.json:
        json.dump(detected, sys.stdout, indent=2, default=str)
        print()
        return 0
    print(format_platforms(detected))
    return 0


def format_platforms(detected: list[dict[str, Any]]) -> str:
    """Render detection results as a plain-text table, one platform per block."""
    lines: list[str] = []
    for info in detected:
        mark = "available" if info.get("available") else "unavailable"
        lines.append(f"{info.get('name', '?'):<9} {mark}")
        if not info.get("available") and info.get("reason"):
            lines.append(f"          reason: {info['reason']}")
        for device in info.get("devices") or []:
            name = device.get("name") or ""
            device_id = device.get("id") or ""
            details = {k: v for k, v in device.items() if k not in ("id", "name") and v not in (None, "")}
            detail_text = ", ".join(f"{k}={v}" for k, v in details.items())
            lines.append(f"          device {device_id}: {name}" + (f" ({detail_text})" if detail_text else ""))
        versions = {k: v for k, v in (info.get("versions") or {}).items() if v}
        if versions:
            lines.append("          versions: " + ", ".join(f"{k} {v}" for k, v in versions.items()))
    return "\n".join(lines)
