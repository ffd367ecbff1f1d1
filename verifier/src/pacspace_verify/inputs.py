"""Reading the verifier's inputs: a bundle file, a proofToken, an export streamed a line at a time.

Whatever cannot be read at all (a missing file, text that is not JSON, JSON that is no bundle or
pack at all, an export with no bundle) raises ``UnusableInput``, which the CLI turns into exit
status 2.
"""

from __future__ import annotations

import json
import os
import re
import stat
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO, TextIO

from pacspace_verify.bundle import bundle_index, parse_bundle
from pacspace_verify.derive import ExportChecker
from pacspace_verify.progress import ProgressBar
from pacspace_verify.protocol import describe


class UnusableInput(Exception):
    """The input cannot be read at all (missing file, not JSON, not shaped like one): exit status 2."""


# The top-level members of a proof bundle (section 4) and of an evidence pack: JSON with none of
# them is not a damaged bundle (whose checks fail) but something else (exit status 2).
BUNDLE_MEMBERS = frozenset(
    {
        "version",
        "receiptId",
        "chainId",
        "contract",
        "typedData",
        "metadata",
        "fingerprint",
        "signature",
        "signer",
        "logIndex",
        "leaf",
        "proof",
        "batch",
    }
)
PACK_MEMBERS = frozenset({"version", "comparison", "evidence", "bundles"})


def require_shape(data: object, members: frozenset[str], what: str, source: str) -> None:
    """Raise UnusableInput unless ``data`` is a JSON object with at least one of ``members``."""
    if not isinstance(data, dict):
        raise UnusableInput(f"{source} is not {what} (a JSON object): got {describe(data)}")
    if not members & set(data):
        raise UnusableInput(f"{source} is not {what}: it has none of its members ({', '.join(sorted(members))})")


def _duplicate_recorder(found: list[str]) -> Callable[[list[tuple[str, Any]]], dict[str, Any]]:
    def hook(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        out = dict(pairs)  # the last value wins, as in json.loads
        if len(out) != len(pairs):
            seen: set[str] = set()
            for key, _ in pairs:
                if key in seen:
                    found.append(key)
                seen.add(key)
        return out

    return hook


def load_bundle(source: str) -> tuple[object, list[str]]:
    """Read and decode the bundle (``-`` = stdin); raises UnusableInput. Returns duplicates too."""
    try:
        text = sys.stdin.read() if source == "-" else Path(source).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UnusableInput(f"cannot read {source}: {exc}") from exc
    duplicates: list[str] = []
    try:
        data = json.loads(text, object_pairs_hook=_duplicate_recorder(duplicates))
    except (ValueError, RecursionError) as exc:
        raise UnusableInput(f"{source} is not JSON: {exc}") from exc
    return data, duplicates


def read_token(argument: str) -> bytes:
    """The proofToken bytes from ``0x…`` or ``@file``; raises UnusableInput."""
    text = argument
    if argument.startswith("@"):
        try:
            text = Path(argument[1:]).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise UnusableInput(f"cannot read {argument[1:]}: {exc}") from exc
    text = text.strip()
    if not re.fullmatch(r"0x(?:[0-9a-fA-F]{2})+", text):
        raise UnusableInput(f"the token is not 0x-prefixed hex bytes: {describe(text)}")
    return bytes.fromhex(text[2:])


def _decode_line(raw: bytes) -> tuple[dict[str, Any], list[str]] | str:
    """The bundle on one export line, or why the line is not one."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return f"not UTF-8: {exc}"
    duplicates: list[str] = []
    try:
        data = json.loads(text, object_pairs_hook=_duplicate_recorder(duplicates))
    except (ValueError, RecursionError) as exc:
        return f"not JSON: {exc}"
    if not isinstance(data, dict):
        return f"expected a proof bundle (a JSON object), got {describe(data)}"
    return data, duplicates


def _open_export(source: str) -> BinaryIO:
    if source == "-":
        return sys.stdin.buffer
    try:
        return open(source, "rb")
    except OSError as exc:
        raise UnusableInput(f"cannot read {source}: {exc}") from exc


def _file_size(handle: BinaryIO) -> int | None:
    """The size of a regular file (for the progress bar), None for a pipe or a terminal."""
    try:
        info = os.fstat(handle.fileno())
    except (OSError, ValueError, AttributeError):
        return None
    return info.st_size if stat.S_ISREG(info.st_mode) else None


def scan_export(
    source: str,
    checker: ExportChecker,
    *,
    progress: TextIO | None = None,
    stop_after: int | None = None,
) -> None:
    """Stream the JSON Lines export through ``checker``, a line at a time.

    ``stop_after``: stop at the first bundle whose customerIndex is beyond it (checkpoints).
    Raises UnusableInput when the file cannot be read, holds no bundle, or its first line is
    not a JSON object with a bundle's members (so it is no JSON Lines export, e.g. a
    pretty-printed single bundle).
    ``progress``: where to draw the progress bar (``ProgressBar``: only if it is a terminal).
    """
    handle = _open_export(source)
    bar = ProgressBar.on(progress, _file_size(handle))
    done = 0
    seen_any = False
    try:
        for line_no, raw in enumerate(handle, start=1):
            done += len(raw)
            if not raw.strip():
                continue
            decoded = _decode_line(raw)
            if isinstance(decoded, str):
                if not seen_any:
                    raise UnusableInput(f"{source} line {line_no} is {decoded}; expected JSON Lines (a bundle a line)")
                checker.add_unreadable(line_no, decoded)
            else:
                if not seen_any:
                    require_shape(decoded[0], BUNDLE_MEMBERS, "a proof bundle", f"{source} line {line_no}")
                b = parse_bundle(*decoded)
                if stop_after is not None:
                    index = bundle_index(b)
                    if index is not None and index > stop_after:
                        break
                checker.add(line_no, b)
            seen_any = True
            if bar is not None:
                bar.update(checker.count, done)
    except OSError as exc:
        raise UnusableInput(f"cannot read {source}: {exc}") from exc
    finally:
        if bar is not None:
            bar.finish(checker.count, done)
        if handle is not sys.stdin.buffer:
            handle.close()
    if not seen_any:
        raise UnusableInput(f"{source} holds no bundle")
