"""The committed generated code is what the committed .proto files generate with the pinned
tools, and every .proto has its generated code committed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PROTOS = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "proto").rglob("*.proto"))
GENERATED = [
    str(Path(p).relative_to("proto").with_name(Path(p).stem + suffix))
    for p in PROTOS
    for suffix in ("_pb2.py", "_pb2.pyi", *(("_pb2_grpc.py",) if "/api/" in p else ()))
]


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("proto")
    result = subprocess.run(
        [sys.executable, "-m", "grpc_tools.protoc", "-I", "proto",
         f"--python_out={out}", f"--pyi_out={out}", f"--grpc_python_out={out}", *PROTOS],
        cwd=ROOT, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 0, f"protoc failed:\n{result.stderr}"
    return out


def test_every_contract_is_found() -> None:
    assert "proto/proctor/events/v1/events.proto" in PROTOS
    assert "proto/proctor/classifier/v1/classifier.proto" in PROTOS
    assert "proto/proctor/api/v1/gateway.proto" in PROTOS


@pytest.mark.parametrize("name", GENERATED)
def test_generated_code_is_up_to_date(generated: Path, name: str) -> None:
    committed = ROOT / "libs" / name
    assert committed.exists(), f"libs/{name} is missing: run `make proto` and commit it."
    assert (generated / name).read_bytes() == committed.read_bytes(), (
        f"libs/{name} is stale: it differs from what its .proto generates. "
        "Run `make proto` and commit the result."
    )
