"""The Jinja2 environment of a face: its own templates first, then the shared ones (``_macros.html``),
autoescaped, with the filters the pages use and each asset's URL carrying a hash of its content (a
browser never keeps a stale copy after an upgrade)."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from node.pages import STATIC_DIR, TEMPLATES_DIR

ASSET_NAMES = ("dashboard.css", "dashboard.js", "favicon.svg")


def _ts(at: int | None) -> str:
    return "—" if at is None else datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    s = int(seconds)
    if s < 120:
        return f"{s} s"
    if s < 7200:
        return f"{s // 60} min"
    if s < 172_800:
        return f"{s // 3600} h {s % 3600 // 60} min"
    return f"{s // 86_400} days"


def _short(value: str | None, keep: int = 8) -> str:
    if value is None:
        return "—"
    return value if len(value) <= 2 * keep + 3 else f"{value[: keep + 2]}…{value[-keep:]}"


def format_wei(wei: int | str | None) -> str:
    """Wei as a person reads it: wei, gwei or ETH."""
    if wei is None:
        return "—"
    amount = int(wei)
    if amount < 1_000_000:
        return f"{amount:,} wei"
    if amount < 10**12:
        return f"{amount / 10**9:,.3f} gwei"
    if amount < 10**15:
        return f"{amount / 10**9:,.0f} gwei"
    return f"{amount / 10**18:,.6f} ETH"


def _amount(value: int | str) -> str:
    number = int(value)
    return f"{number:+,}" if number else "0"


def _asset_version(name: str) -> str:
    return hashlib.sha256((STATIC_DIR / name).read_bytes()).hexdigest()[:12]


def environment(templates: Path, *, prefix: str) -> Environment:
    """The environment of the face mounted at ``prefix`` (its static files at ``prefix + "/static"``)."""
    assets = {name: f"{prefix}/static/{name}?v={_asset_version(name)}" for name in ASSET_NAMES}
    env = Environment(
        loader=FileSystemLoader([templates, TEMPLATES_DIR]),
        autoescape=select_autoescape(default=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        ts=_ts, duration=_duration, short=_short, wei=format_wei, amount=_amount, q=lambda s: quote(s, safe="")
    )
    env.globals.update(asset=assets.__getitem__, prefix=prefix)
    return env


class Explorer:
    """Links to the block explorer of ``PACSPACE_EXPLORER_URL``; None when it is not set."""

    def __init__(self, base: str | None) -> None:
        self.base = base.rstrip("/") if base else None

    def tx(self, tx_hash: str | None) -> str | None:
        return f"{self.base}/tx/{tx_hash}" if self.base and tx_hash else None

    def block(self, number: int | None) -> str | None:
        return f"{self.base}/block/{number}" if self.base and number is not None else None

    def address(self, address: str | None) -> str | None:
        return f"{self.base}/address/{address}" if self.base and address else None
