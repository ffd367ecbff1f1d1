"""Configuration from ``PACSPACE_*`` environment variables (``DATABASE_URL`` also accepted).

Built by the CLI or by tests and passed to ``create_app``; never at import time.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

from pydantic import AliasChoices, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from node.core.fees import FeePolicy, gwei_to_wei
from node.core.finality import FinalityRule, default_rule

# Anvil's well-known development keys: refused unless the chain is a local dev chain.
_PUBLIC_DEV_KEYS = {
    "ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80",
    "59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
}
DEV_CHAIN_IDS = {31337, 1337}
DEFAULT_DATA_DIR = ".pacspace"
DEFAULT_DATABASE_FILE = "pacspace.db"
DEFAULT_DATABASE_URL = f"sqlite:///{DEFAULT_DATA_DIR}/{DEFAULT_DATABASE_FILE}"
DATABASE_URL_VARIABLES = ("PACSPACE_DATABASE_URL", "DATABASE_URL")


class SettingsError(ValueError):
    """The configuration cannot be used; the message names the environment variables to set or fix."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PACSPACE_", extra="ignore")

    database_url: str = Field(
        default=DEFAULT_DATABASE_URL,
        validation_alias=AliasChoices("PACSPACE_DATABASE_URL", "DATABASE_URL", "database_url"),
    )
    rpc_url: str = "http://127.0.0.1:8545"
    # Several providers (docs/DEPLOYMENT.md "The chain"): comma-separated, tried in this order; when set,
    # PACSPACE_RPC_URL is ignored (on its own it is a list of one).
    rpc_urls: SecretStr | None = None
    rpc_max_lag_blocks: int = Field(default=5, ge=0, description="a provider this far behind the best is skipped")
    rpc_timeout_seconds: float = Field(default=10.0, gt=0)
    rpc_quorum: int | None = Field(
        default=None, ge=1, description="providers that must confirm a batch's block; default 2 with several URLs"
    )
    finality: Literal["auto", "confirmations", "finalized"] = "auto"
    max_fee_gwei: Decimal | None = Field(default=None, gt=0, description="cap on maxFeePerGas")
    max_priority_fee_gwei: Decimal | None = Field(default=None, ge=0, description="cap on maxPriorityFeePerGas")
    daily_gas_budget_eth: Decimal | None = Field(
        default=None, gt=0, description="most the anchoring key may spend per UTC day, L1 data fees included"
    )
    chain_id: int
    contract_address: str
    # Two keys with separate jobs, each rotated on its own schedule (docs/KEYS.md): the receipt signer
    # signs every fingerprint and checkpoint; the anchoring key pays gas for anchor(). The legacy
    # PACSPACE_SIGNER_KEY / _KEYSTORE stands for both when the specific one is not set.
    receipt_signer_key: SecretStr | None = None
    receipt_signer_keystore: Path | None = None
    receipt_signer_keystore_password: SecretStr | None = None
    anchor_key: SecretStr | None = None
    anchor_keystore: Path | None = None
    anchor_keystore_password: SecretStr | None = None
    # Keys off the node (docs/KEYS.md): an external signer's JSON-RPC URL and the address it signs for.
    receipt_signer_url: SecretStr | None = None
    receipt_signer_address: str | None = None
    anchor_signer_url: SecretStr | None = None
    anchor_address: str | None = None
    signer_key: SecretStr | None = None
    signer_keystore: Path | None = None
    signer_keystore_password: SecretStr | None = None
    tenant: str = "default"
    host: str = "127.0.0.1"
    port: int = 8000
    anchor_interval_seconds: float = Field(default=2.0, gt=0)
    anchor_trigger_pending: int = Field(default=1000, ge=1)
    max_batch_size: int = Field(default=10_000, ge=1, le=2**32 - 1)
    confirmations: int = Field(default=1, ge=1, description="default: the chain's (node/core/finality.py), else 1")
    signer_check_seconds: float = Field(
        default=30.0,
        gt=0,
        description="how often the node asks the contract whether its receipt signer is still active",
    )
    receipt_timeout_seconds: float = Field(default=30.0, gt=0)
    explorer_url: str | None = None
    max_body_bytes: int = Field(default=64 * 1024, ge=1024)
    db_busy_timeout_ms: int = Field(
        default=10_000, ge=0, description="wait this long for a SQLite lock or a PostgreSQL pool connection, then 503"
    )
    db_pool_size: int = Field(default=10, ge=1, le=200, description="PostgreSQL connections kept per process")
    max_bulk_bytes: int = Field(
        default=4 * 1024 * 1024, ge=1024, description="body limit for POST /v1/balance/deltas (up to 1,000 deltas)"
    )
    max_compare_bytes: int = Field(default=256 * 1024 * 1024, ge=1024, description="JSON or CSV sent to compare")
    max_compare_items: int = Field(
        default=1_000_000, ge=1, le=10_000_000, description="theirDeltas items or CSV rows per comparison"
    )
    compare_concurrency: int = Field(
        default=2, ge=1, le=64, description="comparisons parsed and run at once per process; more get 503"
    )
    evidence_retention_days: float = Field(
        default=400, ge=0, description="after this, a comparison's evidence lists expire (0: never); rows stay"
    )
    forwarded_allow_ips: str = Field(
        default="",
        description="proxies whose X-Forwarded-For/-Proto are believed (comma-separated IPs or CIDRs, * for any); "
        "empty: none, the socket's peer is the client",
    )
    run_anchorer: bool = True
    contract_deployment_block: int = Field(
        default=0, ge=0, description="first block to read the contract's BatchAnchored events from (0: genesis)"
    )
    log_query_span_blocks: int = Field(
        default=10_000, ge=1, description="blocks per eth_getLogs when reading the batch history"
    )
    rate_limit_per_second: float = Field(default=50.0, gt=0)
    rate_limit_burst: int = Field(default=100, ge=1)
    auth_failure_per_second: float = Field(default=1.0, gt=0)
    auth_failure_burst: int = Field(default=20, ge=1)
    usage_flush_seconds: float = Field(default=5.0, gt=0)
    native_price: Decimal | None = Field(default=None, ge=0, description="fiat per whole native coin (ETH)")
    fiat_currency: str = "USD"
    webhook_allow_http_loopback: bool | None = Field(
        default=None, description="plain http to loopback URLs; default: only on a development chain"
    )
    webhook_allow_private_hosts: str = Field(
        default="",
        description="comma-separated host names or IP literals whose private, loopback or shared addresses may "
        "receive webhooks (empty: none)",
    )
    webhook_poll_seconds: float = Field(default=1.0, gt=0)
    webhook_concurrency: int = Field(default=8, ge=1, le=64)
    webhook_retry_base_seconds: float = Field(default=5.0, gt=0, description="first retry delay; doubles each time")

    @field_validator("contract_address")
    @classmethod
    def _address(cls, value: str) -> str:
        if not (value.startswith("0x") and len(value) == 42):
            raise ValueError("must be a 0x-prefixed 20-byte hex address")
        int(value[2:], 16)
        return value.lower()

    @field_validator("receipt_signer_address", "anchor_address")
    @classmethod
    def _signer_address(cls, value: str | None) -> str | None:
        if value is None:
            return None
        return cls._address(value)

    @model_validator(mode="after")
    def _one_key_per_role(self) -> Settings:
        if "confirmations" not in self.model_fields_set:
            self.confirmations = default_rule(self.chain_id).confirmations
        # A missing key is reported when a command needs it (audit and verify need none).
        for role in ("receipt_signer", "anchor"):
            _KeySource.of(self, role).check()
        if self.rpc_quorum is not None and self.rpc_quorum > len(self.rpc_endpoints()):
            raise ValueError(
                f"PACSPACE_RPC_QUORUM is {self.rpc_quorum} but only {len(self.rpc_endpoints())} RPC URL(s) are set"
            )
        return self

    def webhook_private_hosts(self) -> frozenset[str]:
        names = (h.strip().lower().strip("[]") for h in self.webhook_allow_private_hosts.split(","))
        return frozenset(name for name in names if name)

    def uvicorn_options(self) -> dict[str, Any]:
        """How uvicorn listens: forwarding headers are believed only from the configured proxies."""
        trusted = self.forwarded_allow_ips.strip()
        return {
            "host": self.host,
            "port": self.port,
            "proxy_headers": bool(trusted),
            "forwarded_allow_ips": trusted or None,
            "log_config": None,
            "access_log": False,
        }

    def rpc_endpoints(self) -> list[str]:
        """PACSPACE_RPC_URLS split on commas (and whitespace), else [PACSPACE_RPC_URL]."""
        if self.rpc_urls is None:
            return [self.rpc_url]
        urls = [u for u in self.rpc_urls.get_secret_value().replace(",", " ").split() if u]
        if not urls:
            raise ValueError("PACSPACE_RPC_URLS is set but names no URL")
        return urls

    def finality_rule(self) -> FinalityRule:
        """PACSPACE_FINALITY (``auto``: the chain's default) with PACSPACE_CONFIRMATIONS."""
        return default_rule(self.chain_id, mode=self.finality, confirmations=self.confirmations)

    def fee_policy(self) -> FeePolicy:
        return FeePolicy(
            max_fee=None if self.max_fee_gwei is None else gwei_to_wei(self.max_fee_gwei),
            max_priority_fee=None if self.max_priority_fee_gwei is None else gwei_to_wei(self.max_priority_fee_gwei),
            daily_budget=None if self.daily_gas_budget_eth is None else int(self.daily_gas_budget_eth * 10**18),
        )

    def quorum(self) -> int:
        """Providers that must confirm a batch's block before it is verified."""
        if self.rpc_quorum is not None:
            return self.rpc_quorum
        return min(2, len(self.rpc_endpoints()))

    def remote_signer(self, role: str) -> tuple[str, str] | None:
        """(URL, address) of the external signer of ``role`` ("receipt_signer" or "anchor"), if one is set."""
        url = getattr(self, f"{role}_signer_url" if role == "anchor" else f"{role}_url")
        address = getattr(self, f"{role}_address")
        return None if url is None else (url.get_secret_value(), address)

    def webhook_http_loopback_allowed(self) -> bool:
        if self.webhook_allow_http_loopback is not None:
            return self.webhook_allow_http_loopback
        return self.chain_id in DEV_CHAIN_IDS

    def receipt_signer_private_key(self) -> bytes:
        """The key that signs receipts and checkpoints: from the env, or decrypted from a keystore."""
        return self._private_key("receipt_signer")

    def anchor_private_key(self) -> bytes:
        """The gas-paying key that sends anchor() transactions."""
        return self._private_key("anchor")

    def _private_key(self, role: str) -> bytes:
        source = _KeySource.of(self, role).require()
        if source.key is not None:
            key = bytes.fromhex(source.key.get_secret_value().removeprefix("0x"))
        else:
            from eth_account import Account

            assert source.keystore is not None and source.password is not None
            key = bytes(Account.decrypt(source.keystore.read_text(), source.password.get_secret_value()))
        if key.hex() in _PUBLIC_DEV_KEYS and self.chain_id not in DEV_CHAIN_IDS:
            raise SettingsError(
                f"a publicly known development key cannot sign on chain {self.chain_id} (not a development chain)"
            )
        return key


@dataclass(frozen=True)
class _KeySource:
    """Where one role's key comes from: its own variables, else the legacy PACSPACE_SIGNER_* pair."""

    env: str
    key: SecretStr | None
    keystore: Path | None
    password: SecretStr | None

    remote: bool = False

    @classmethod
    def of(cls, settings: Settings, role: str) -> _KeySource:
        key = getattr(settings, f"{role}_key")
        keystore = getattr(settings, f"{role}_keystore")
        remote = settings.remote_signer(role)
        if remote is not None:
            url_env = "RECEIPT_SIGNER_URL" if role == "receipt_signer" else "ANCHOR_SIGNER_URL"
            address_env = "RECEIPT_SIGNER_ADDRESS" if role == "receipt_signer" else "ANCHOR_ADDRESS"
            if key is not None or keystore is not None:
                raise ValueError(f"set only one of PACSPACE_{url_env} or PACSPACE_{role.upper()}_KEY/_KEYSTORE")
            if remote[1] is None:
                raise ValueError(f"PACSPACE_{url_env} needs PACSPACE_{address_env}: the address the signer signs for")
            return cls(role.upper(), None, None, None, remote=True)
        if key is None and keystore is None:
            return cls("SIGNER", settings.signer_key, settings.signer_keystore, settings.signer_keystore_password)
        return cls(role.upper(), key, keystore, getattr(settings, f"{role}_keystore_password"))

    def require(self) -> _KeySource:
        if self.remote:
            raise ValueError(f"the {self.env.lower()} key is held by an external signer, not by the node")
        if self.key is None and self.keystore is None:
            raise SettingsError(
                "set PACSPACE_RECEIPT_SIGNER_KEY and PACSPACE_ANCHOR_KEY (or their _KEYSTORE forms), "
                "or PACSPACE_SIGNER_KEY for one key that does both"
            )
        return self.check()

    def check(self) -> _KeySource:
        if self.key is not None and self.keystore is not None:
            raise ValueError(f"set only one of PACSPACE_{self.env}_KEY or PACSPACE_{self.env}_KEYSTORE")
        if self.keystore is not None and self.password is None:
            raise ValueError(f"PACSPACE_{self.env}_KEYSTORE needs PACSPACE_{self.env}_KEYSTORE_PASSWORD")
        return self


# What a missing required variable is, for the message that asks for it.
_REQUIRED_HINTS = {
    "chain_id": "the chain id the node expects its RPC to answer (31337 for a local Anvil)",
    "contract_address": "the deployed PacSpaceAnchor contract (0x…; `pacspace-node deploy` prints it)",
}


def variable_name(field: str) -> str:
    """The environment variable that sets a Settings field (``chain_id`` -> ``PACSPACE_CHAIN_ID``)."""
    return "PACSPACE_" + field.upper()


def load_settings(**values: Any) -> Settings:
    """``Settings`` from the environment (and ``values``), or SettingsError naming each variable that is
    missing or wrong: what a person at a terminal can act on, instead of pydantic's field names."""
    try:
        return Settings(**values)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            field = str(error["loc"][0]) if error["loc"] else ""
            if not field:  # a rule over several fields (two key sources for one role)
                problems.append(str(error["msg"]).removeprefix("Value error, "))
                continue
            name = variable_name(field)
            if error["type"] == "missing":
                hint = _REQUIRED_HINTS.get(field)
                problems.append(f"{name} is not set" + (f": {hint}" if hint else ""))
            else:
                message = str(error["msg"]).removeprefix("Value error, ")
                problems.append(f"{name}={error.get('input')!r} is not valid: {message}")
        raise SettingsError("; ".join(problems)) from None


def find_default_database(start: Path | None = None) -> Path | None:
    """The nearest ``.pacspace/pacspace.db`` in ``start`` (default: the current directory) or a directory
    above it, as git finds ``.git``: a command run from a subdirectory of the project uses the node's
    database, not a new one beside it. None when there is none."""
    here = (start or Path.cwd()).resolve()
    for directory in (here, *here.parents):
        candidate = directory / DEFAULT_DATA_DIR / DEFAULT_DATABASE_FILE
        if candidate.is_file():
            return candidate
    return None


def configured_database_url() -> str | None:
    """PACSPACE_DATABASE_URL or DATABASE_URL from the environment, if either is set."""
    return next((os.environ[name] for name in DATABASE_URL_VARIABLES if os.environ.get(name)), None)


def resolve_database_url(explicit: str | None = None, *, create: bool = False) -> str:
    """The database a command works on: ``explicit`` (``--database-url``), else the environment, else the
    nearest ``.pacspace/pacspace.db`` (``find_default_database``).

    A SQLite file that does not exist is refused (SettingsError) unless ``create``: opening it would make a
    new, empty database, and a key issued into it is one the running node has never heard of. With
    ``create`` and no database anywhere, the default is made in the current directory's ``.pacspace/``.
    """
    url = explicit or configured_database_url()
    if url is None:
        found = find_default_database()
        if found is not None:
            return f"sqlite:///{found}"
        here = Path.cwd() / DEFAULT_DATA_DIR
        if create:
            here.mkdir(mode=0o700, exist_ok=True)
            return f"sqlite:///{here / DEFAULT_DATABASE_FILE}"
        raise SettingsError(
            f"no database found: PACSPACE_DATABASE_URL is not set and there is no {DEFAULT_DATA_DIR}/"
            f"{DEFAULT_DATABASE_FILE} in {Path.cwd()} or any directory above it (./scripts/run keeps the "
            "node's database there). Run the command inside the project directory, or pass --database-url "
            "or set PACSPACE_DATABASE_URL to the database the node uses."
        )
    path = sqlite_path(url)
    if path is not None and not create and not path.is_file():
        raise SettingsError(
            f"no database at {path} ({url}): refusing to create a new, empty one. Check the URL "
            "(a relative sqlite:/// path is read from the current directory), or create the database "
            "with `pacspace-node db upgrade`."
        )
    return url


def sqlite_path(url: str) -> Path | None:
    """The file of a ``sqlite:///`` URL, resolved against the current directory (None: not a SQLite file)."""
    if not url.startswith("sqlite:///"):
        return None
    raw = url.removeprefix("sqlite:///").split("?", 1)[0]
    if not raw or raw == ":memory:":
        return None
    return Path(raw).resolve()
