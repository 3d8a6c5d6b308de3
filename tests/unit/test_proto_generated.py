"""The committed generated code is what the committed .proto generates with the pinned tools."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PROTO = "proto/proctor/events/v1/events.proto"
COMMITTED = ROOT / "libs" / "proctor" / "events" / "v1"


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("proto")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "grpc_tools.protoc",
            "-I",
            "proto",
            f"--python_out={out}",
            f"--pyi_out={out}",
            PROTO,
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, f"protoc failed:\n{result.stderr}"
    return out / "proctor" / "events" / "v1"


@pytest.mark.parametrize("name", ["events_pb2.py", "events_pb2.pyi"])
def test_generated_code_is_up_to_date(generated: Path, name: str) -> None:
    fresh = (generated / name).read_bytes()
    committed = (COMMITTED / name).read_bytes()
    assert fresh == committed, (
        f"libs/proctor/events/v1/{name} is stale: it differs from what {PROTO} generates. "
        "Run `make proto` and commit the result."
    )
