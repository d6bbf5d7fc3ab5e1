"""Platform detection and the machine record."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from vt_core import machine, platforms
from vt_core.records import PLATFORMS


def run_python(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=dict(os.environ), timeout=300)


def test_cpu_always_available():
    info = platforms.detect_platform("cpu")
    assert info["available"]
    assert info["reason"] is None
    assert info["devices"][0]["id"] == "cpu"
    assert info["devices"][0]["name"]
    assert info["devices"][0]["logical_cores"] == os.cpu_count()


def test_cuda_unavailable_with_reason():
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("this machine has a CUDA device")
    info = platforms.detect_platform("cuda")
    assert not info["available"]
    assert "CUDA" in info["reason"]
    assert info["devices"] == []


def test_rocm_and_mps_unavailable_here():
    torch = pytest.importorskip("torch")
    if getattr(torch.version, "hip", None) or sys.platform == "darwin":
        pytest.skip("this machine may have ROCm or MPS")
    assert "ROCm" in platforms.detect_platform("rocm")["reason"]
    assert "macOS" in platforms.detect_platform("mps")["reason"]


def test_openvino_lists_cpu_device():
    pytest.importorskip("openvino")
    info = platforms.detect_platform("openvino")
    assert info["available"]
    cpu = [device for device in info["devices"] if device["id"] == "CPU"]
    assert cpu
    assert cpu[0]["name"]
    assert info["versions"]["openvino"]


def test_unknown_platform_rejected():
    with pytest.raises(ValueError, match="unknown platform 'tpu'"):
        platforms.detect_platform("tpu")


def test_missing_torch_is_a_reason():
    code = (
        "import sys, json; sys.modules['torch'] = None\n"
        "from vt_core import platforms\n"
        "print(json.dumps([platforms.detect_platform(n) for n in ('cpu', 'cuda', 'rocm', 'mps')]))"
    )
    completed = run_python(code)
    assert completed.returncode == 0, completed.stderr
    entries = json.loads(completed.stdout.strip().splitlines()[-1])
    for entry in entries:
        assert not entry["available"]
        assert "torch is not installed" in entry["reason"]


def test_missing_browser_runner_is_a_reason():
    code = (
        "import sys, json; sys.modules['vt_core.runners.browser'] = None\n"
        "from vt_core import platforms\n"
        "print(json.dumps(platforms.detect_browser()))"
    )
    completed = run_python(code)
    assert completed.returncode == 0, completed.stderr
    entries = json.loads(completed.stdout.strip().splitlines()[-1])
    assert entries["webgpu"]["reason"] == "browser runner not installed"
    assert entries["webnn"]["reason"] == "browser runner not installed"


def test_subprocess_detection_keeps_parent_torch_free():
    code = (
        "import sys, json\n"
        "from vt_core import platforms\n"
        "entries = platforms.detect_in_subprocess(timeout=240, names=['cpu', 'cuda', 'openvino'])\n"
        "assert 'torch' not in sys.modules, 'parent imported torch'\n"
        "print(json.dumps(entries))"
    )
    completed = run_python(code)
    assert completed.returncode == 0, completed.stderr
    entries = json.loads(completed.stdout.strip().splitlines()[-1])
    assert [entry["name"] for entry in entries] == ["cpu", "cuda", "openvino"]
    assert entries[0]["available"]


def test_subprocess_detection_timeout_is_reported():
    entries = platforms.detect_in_subprocess(timeout=0.01, names=["cpu"])
    assert not entries[0]["available"]
    assert "timed out" in entries[0]["reason"]


def test_detect_all_in_matrix_order():
    entries = platforms.detect()
    assert [entry["name"] for entry in entries] == list(PLATFORMS)
    for entry in entries:
        assert set(entry) >= {"name", "available", "reason", "devices", "versions"}
        assert entry["available"] or entry["reason"]


def test_machine_record_fields():
    record = machine.collect()
    expected = {
        "hostname", "os", "cpu", "cpu_count", "memory_total_mb", "gpu_name", "gpu_driver", "python_version",
        "torch_version", "transformers_version", "openvino_version", "browser_version",
    }
    assert set(record) == expected
    assert record["cpu"]
    assert record["cpu_count"] == os.cpu_count()
    assert record["python_version"] == sys.version.split()[0]


def test_machine_record_imports_nothing_heavy():
    code = (
        "import sys; from vt_core import machine; machine.collect()\n"
        "heavy = [m for m in ('torch', 'transformers', 'openvino') if m in sys.modules]\n"
        "assert not heavy, heavy"
    )
    completed = run_python(code)
    assert completed.returncode == 0, completed.stderr
