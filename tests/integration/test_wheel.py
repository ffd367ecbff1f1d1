"""The node's wheel ships the native Merkle library (hatch_build.py) and is tagged for this platform.

The wheel is built the way ``pip wheel --no-build-isolation .`` builds it: the PEP 517 hook of the
build backend (hatchling, a dev dependency) called in this interpreter, in the checkout.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from node.native.loader import NativeMerkle

REPO = Path(__file__).resolve().parents[2]
LIBRARY_IN_WHEEL = "node/native/_build/libpacspace_merkle.so"


def _build_wheel(out: Path, **env: str) -> tuple[Path, str]:
    """Builds the wheel into ``out``; its path and what the build printed."""
    if importlib.util.find_spec("hatchling") is None:
        pytest.fail("hatchling is not installed: it is a dev dependency (uv.lock), scripts/bootstrap installs it")
    result = subprocess.run(
        [sys.executable, "-c", "import sys, hatchling.build as b; print(b.build_wheel(sys.argv[1]))", str(out)],
        cwd=REPO,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return out / result.stdout.strip().splitlines()[-1], result.stderr


def _wheel_metadata(wheel: zipfile.ZipFile) -> dict[str, str]:
    (name,) = [n for n in wheel.namelist() if n.endswith(".dist-info/WHEEL")]
    lines = wheel.read(name).decode().splitlines()
    return dict(line.split(": ", 1) for line in lines if ": " in line)


def test_the_wheel_ships_the_native_library_and_has_this_platforms_tag(tmp_path: Path) -> None:
    path, _ = _build_wheel(tmp_path / "dist")
    platform = sysconfig.get_platform().replace("-", "_").replace(".", "_")
    python = f"cp{sys.version_info.major}{sys.version_info.minor}"
    assert path.name == f"pacspace_node-0.1.0-{python}-{python}-{platform}.whl"
    with zipfile.ZipFile(path) as wheel:
        names = wheel.namelist()
        metadata = _wheel_metadata(wheel)
        assert LIBRARY_IN_WHEEL in names
        # the sources the loader hashes to check the library is current, and no other library
        assert {"node/native/merkle.c", "node/native/keccak_x4.h", "node/native/loader.py"} <= set(names)
        assert [n for n in names if n.endswith(".so")] == [LIBRARY_IN_WHEEL]
        library = tmp_path / "libpacspace_merkle.so"
        library.write_bytes(wheel.read(LIBRARY_IN_WHEEL))
    assert metadata["Root-Is-Purelib"] == "false"
    assert metadata["Tag"] == f"{python}-{python}-{platform}"
    # built from these sources with the release flags: the loader takes it as current
    native = NativeMerkle(library)
    assert native.keccak256(b"abc").hex() == "4e03657aea45a94fc7d47ba826c8d667c0d1e6e33a64a036ec44f58fa12d6c45"


def test_without_a_c_compiler_the_wheel_is_pure_python_and_says_so(tmp_path: Path) -> None:
    path, printed = _build_wheel(tmp_path / "dist", CC=str(tmp_path / "no-such-cc"))
    assert path.name == "pacspace_node-0.1.0-py3-none-any.whl"
    assert "without the native Merkle library" in printed
    with zipfile.ZipFile(path) as wheel:
        assert not [n for n in wheel.namelist() if n.endswith(".so")]
        assert _wheel_metadata(wheel)["Root-Is-Purelib"] == "true"
