"""The wheel's build hook (pyproject.toml, [tool.hatch.build.targets.wheel.hooks.custom]).

It compiles the native Merkle library with node/native/build.py (the release flags) into a scratch
folder and ships it as node/native/_build/libpacspace_merkle.so, beside merkle.c and keccak_x4.h, which
node/native/loader.py hashes to check that the library is current. The wheel is then a platform wheel
(``pure_python`` False, its tag inferred from this interpreter and machine). node/native/_build/ itself
is gitignored and never copied, so neither a developer's library nor the sanitized one goes in.

Without a C compiler it warns and the wheel stays pure Python: the node then builds its trees in
Python (the same roots, slower), as it does wherever the library is missing. An editable install
(``uv sync``) is left alone: it imports node/ from the checkout, where scripts/bootstrap builds it.
"""

from __future__ import annotations

import importlib.util
import shutil
import tempfile
from pathlib import Path
from types import ModuleType
from typing import Any

from hatchling.builders.config import BuilderConfig
from hatchling.builders.hooks.plugin.interface import BuildHookInterface

LIBRARY_IN_WHEEL = "node/native/_build/libpacspace_merkle.so"


def _native_build(root: Path) -> ModuleType:
    """node/native/build.py of the tree being built (standard library only, so no import of the package)."""
    spec = importlib.util.spec_from_file_location("_pacspace_native_build", root / "node" / "native" / "build.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class NativeLibraryHook(BuildHookInterface[BuilderConfig]):
    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        self._scratch: str | None = None
        if self.target_name != "wheel" or version == "editable":
            return
        native = _native_build(Path(self.root))
        if native.find_compiler() is None:
            self.app.display_warning(
                "no C compiler (cc, gcc or clang; or set CC): the wheel is built without the native Merkle library"
            )
            return
        self._scratch = tempfile.mkdtemp(prefix="pacspace-native-")
        library = Path(self._scratch) / "libpacspace_merkle.so"
        if native.build(library, force=True) != 0 or not library.is_file():
            raise RuntimeError(f"building the native Merkle library failed ({library})")
        build_data["force_include"][str(library)] = LIBRARY_IN_WHEEL
        build_data["pure_python"] = False
        build_data["infer_tag"] = True

    def finalize(self, version: str, build_data: dict[str, Any], artifact_path: str) -> None:
        if getattr(self, "_scratch", None):
            shutil.rmtree(str(self._scratch), ignore_errors=True)
