"""The OpenAPI document a client generator can use, and the interactive docs, served by the node itself.

``install_docs(app)`` replaces FastAPI's CDN-loaded /docs with a page whose Swagger UI files come from the
``fastapi-offline`` package (served under /docs/assets: nothing from another host; ReDoc is left out, as its
bundle fetches a logo from its vendor's host), and
builds the document once with: the bearer security scheme on every operation that needs a key, a
description and examples for every operation (``OPERATIONS``; a test fails for an operation missing from
it), a typed schema for every success answer (node.api.responses) and problem+json for every error, and
int256 amounts as ``format: int256`` integers without the ±2^255 bounds (which JSON tools print as floats).

The table keys operations by method and path, so a route's code stays as it is; changing a route's answer
means changing its line here, and the test says so when it is missed.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import fastapi_offline
from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel

from node.api import examples, responses
from node.api.event_mappings import IngestSettings, Mapping, Mappings
from node.api.schemas import ApiKey, ApiKeyCreated, CompareBody, Problem, Receipt

ASSETS = Path(fastapi_offline.__file__).resolve().parent / "static"
ASSETS_PATH = "/docs/assets"
BEARER = "bearerAuth"
PUBLIC = {("get", "/healthz")}  # every other operation needs a key
JSON_LIMIT = 2**53  # bounds beyond this lose precision in JSON tools: shown as format int256 instead


@dataclass(frozen=True)
class Doc:
    description: str | None  # None: the route's own docstring says it
    answers: dict[str, type[BaseModel] | str] = field(default_factory=dict)  # status -> model, or media type
    request: dict[str, Any] | None = None  # a request body example


_R = responses
OPERATIONS: dict[tuple[str, str], Doc] = {
    ("post", "/v1/balance/delta"): Doc(
        "Validates the delta, chains it to the customer's previous one, fingerprints it (EIP-712), signs the "
        "fingerprint and stores it durably before answering. A retry with the same referenceId and payload "
        "answers 200 with the first receipt; another payload is 409 reference_conflict. Needs the write scope.",
        {"201": Receipt, "200": Receipt},
        examples.DELTA_REQUEST,
    ),
    ("post", "/v1/balance/deltas"): Doc(
        "Up to 1,000 deltas, each validated, signed and recorded on its own with its own result, in order. "
        "The answer is 200 whenever the request is well formed; each item's status says what happened to it.",
        {"200": _R.DeltaBatchOutcome},
        {"deltas": [examples.DELTA_REQUEST]},
    ),
    ("get", "/v1/receipts/{receipt_id}"): Doc(
        "The receipt with its status (pending, anchored, verified), log index, batch, transaction and "
        "confirmations. A customer-scoped key sees its own customer's receipts only.",
        {"200": Receipt},
    ),
    ("get", "/v1/receipts/{receipt_id}/proof"): Doc(
        "Everything needed to verify the receipt without the node: the typed data, fingerprint, signature, "
        "log index, leaf, Merkle proof and batch. 409 not_anchored until its batch is mined. Check it with "
        "pacspace-verify.",
        {"200": _R.ProofBundle},
    ),
    ("get", "/v1/me"): Doc("The calling key's id, tenant, scopes and customer; any valid key may ask.", {"200": _R.Me}),
    ("get", "/v1/balance/derive"): Doc(
        "The balance from verified deltas, with the pending part apart. verify=true also replays the "
        "customer's chain against the contract and checks the log's completeness (slower).",
        {"200": _R.Balance},
    ),
    ("get", "/v1/balance/export"): Doc(
        "JSON Lines, one proof bundle per verified delta in customer-index order, streamed in constant memory: "
        "what pacspace-verify derive reads.",
        {"200": "application/x-ndjson"},
    ),
    ("post", "/v1/checkpoints"): Doc(
        "Signs a checkpoint over a verified range: by customer index (default: after the previous checkpoint "
        "up to the latest verified delta) or by recording time. Needs the write scope.",
        {"201": _R.Checkpoint},
        {"customerId": "cust_12345"},
    ),
    ("get", "/v1/checkpoints"): Doc("The tenant's checkpoints, or one customer's.", {"200": _R.CheckpointList}),
    ("get", "/v1/checkpoints/{checkpoint_id}"): Doc("One checkpoint with its token.", {"200": _R.Checkpoint}),
    ("post", "/v1/checkpoints/{checkpoint_id}/countersign"): Doc(
        "The customer's own EIP-712 signature over the checkpoint's typedData: the node recovers and stores the "
        "countersigner and answers the checkpoint with a token carrying both signatures. 409 if already "
        "countersigned.",
        {"200": _R.Checkpoint},
        {"signature": examples.SIGNATURE},
    ),
    ("post", "/v1/keys"): Doc(
        "A new API key; the secret is in this answer only (a salted hash is stored). customerId makes a "
        "customer-scoped read key. Needs the admin scope.",
        {"201": ApiKeyCreated},
        {"name": "billing service", "scopes": ["write"]},
    ),
    ("get", "/v1/keys"): Doc("The tenant's API keys with status and last use; never a secret.", {"200": _R.ApiKeyList}),
    ("get", "/v1/keys/{key_id}"): Doc("One API key of the tenant.", {"200": ApiKey}),
    ("delete", "/v1/keys/{key_id}"): Doc("Revokes the key at once; revoking twice is harmless.", {"200": ApiKey}),
    ("post", "/v1/keys/{key_id}/rotate"): Doc(
        "A new key with the old one's name, scopes and customer; the old one ends now or after graceSeconds.",
        {"201": ApiKeyCreated},
        {"graceSeconds": 3600},
    ),
    ("get", "/v1/usage"): Doc(
        "Per UTC day: API requests by key, route and status class, deltas recorded and verified, batches, gas "
        "and cost per verified delta (wei as decimal strings).",
        {"200": _R.UsageReport},
    ),
    ("post", "/v1/webhooks"): Doc(
        "A webhook endpoint for the chosen events; the signing secret is in this answer only (docs/WEBHOOKS.md).",
        {"201": _R.WebhookEndpointWithSecret},
        {"url": "https://billing.example.com/pacspace", "events": ["delta.verified"]},
    ),
    ("get", "/v1/webhooks"): Doc("The tenant's webhook endpoints (never their secrets).", {"200": _R.WebhookList}),
    ("get", "/v1/webhooks/{endpoint_id}"): Doc("One webhook endpoint.", {"200": _R.WebhookEndpoint}),
    ("patch", "/v1/webhooks/{endpoint_id}"): Doc(
        "Changes the URL, events or aggregation, or disables and enables the endpoint.",
        {"200": _R.WebhookEndpoint},
        {"enabled": False},
    ),
    ("delete", "/v1/webhooks/{endpoint_id}"): Doc("Deletes the endpoint and its delivery log.", {"204": ""}),
    ("post", "/v1/webhooks/{endpoint_id}/rotate-secret"): Doc(
        "A new signing secret (in this answer only); the old one keeps signing alongside for graceSeconds.",
        {"200": _R.WebhookEndpointWithSecret},
        {"graceSeconds": 86400},
    ),
    ("post", "/v1/webhooks/{endpoint_id}/test"): Doc(
        "Queues a webhook.test event to this endpoint, whatever events it subscribes to.", {"202": _R.DeliveryQueued}
    ),
    ("get", "/v1/webhooks/{endpoint_id}/deliveries"): Doc(
        "The delivery log, newest first, with every attempt's status code, latency and error.",
        {"200": _R.DeliveryList},
    ),
    ("post", "/v1/webhooks/{endpoint_id}/deliveries/{delivery_id}/redeliver"): Doc(
        "Sends a delivery again now.", {"202": _R.Redelivery}
    ),
    ("post", "/v1/balance/compare"): Doc(
        "Matches the counterparty's balance and/or deltas with the record by referenceId. The customer is "
        "?customerId= for JSON (CompareBody) and text/csv (rows referenceId,delta) alike; scope, customer and "
        "a free slot are checked before the body is read, which is parsed as a stream off the event loop "
        "(at most PACSPACE_MAX_COMPARE_ITEMS items). Deltas not yet verified never count as variance; the "
        "tenant's tolerance decides match, auto_settled (a write-scope key settles, once per variance and "
        "record head: asking again answers 200 with the first), within_tolerance (read and customer keys "
        "record nothing) or needs_evidence.",
        {"200": _R.Comparison, "201": _R.Comparison},
        {"theirDeltas": [{"referenceId": "req_abc123", "delta": -1000}]},
    ),
    ("get", "/v1/comparisons/{comparison_id}"): Doc(
        "A comparison and its differences (each list cut to 1,000).", {"200": _R.Comparison}
    ),
    ("get", "/v1/comparisons/{comparison_id}/evidence"): Doc(
        "Every difference with the proof bundle of each disputed record item (pacspace-verify evidence checks "
        "it); format=html is a one-page summary for a finance reader.",
        {"200": _R.EvidencePack},
    ),
    ("get", "/v1/settings"): Doc("The tenant's comparison tolerance.", {"200": _R.TenantSettingsView}),
    ("put", "/v1/settings"): Doc(
        "Sets the tenant's comparison tolerance; both limits must hold when both are set.",
        {"200": _R.TenantSettingsView},
        {"tolerance": {"absolute": 100, "basisPoints": 5}},
    ),
    # CloudEvents ingest: its routes describe their bodies and answers themselves (docstrings, openapi_extra).
    ("post", "/v1/events"): Doc(None),
    ("post", "/api/v1/events"): Doc(None),
    ("get", "/v1/events/mappings"): Doc(None, {"200": Mappings}),
    ("put", "/v1/events/mappings/{event_type}"): Doc(
        None,
        {"200": Mapping, "201": Mapping},
        {"quantityField": "tokens", "multiplier": "-2", "reasonTemplate": "{data.model} tokens"},
    ),
    ("delete", "/v1/events/mappings/{event_type}"): Doc(None, {"204": ""}),
    ("get", "/v1/events/settings"): Doc(None, {"200": IngestSettings}),
    ("put", "/v1/events/settings"): Doc(None, {"200": IngestSettings}, {"referenceIdMode": "id"}),
    ("get", "/healthz"): Doc(
        "Liveness and anchoring state: chain, contract, keys, protocol version, head block, deltas waiting, the "
        "last anchoring error. No key needed.",
        {"200": _R.Health},
    ),
}
# Models a route names by $ref without FastAPI seeing them (compare reads its body itself: openapi_extra).
_EXTRA_MODELS: tuple[type[BaseModel], ...] = (CompareBody, Problem)


def _schemas(models: list[type[BaseModel]]) -> dict[str, Any]:
    """The component schemas of ``models`` and every model they use."""
    found: dict[str, Any] = {}
    for model in models:
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}", mode="serialization")
        found.update(schema.pop("$defs", {}))
        found[model.__name__] = schema
    return found


def _int256(node: Any) -> None:
    """Integer bounds beyond 2^53 become ``format: int256`` (JSON tools print such bounds as floats)."""
    if isinstance(node, dict):
        bounds = [node.get(k) for k in ("minimum", "maximum")]
        if any(isinstance(b, int | float) and abs(b) > JSON_LIMIT for b in bounds):
            node.pop("minimum", None)
            node.pop("maximum", None)
            node["format"] = "int256"
            node.setdefault("description", responses.INT256_NOTE)
        for value in node.values():
            _int256(value)
    elif isinstance(node, list):
        for value in node:
            _int256(value)


def build_openapi(app: FastAPI) -> dict[str, Any]:
    spec = get_openapi(title=app.title, version=app.version, summary=app.summary, routes=app.routes)
    models = [m for d in OPERATIONS.values() for m in d.answers.values() if not isinstance(m, str)]
    components = spec.setdefault("components", {})
    components.setdefault("schemas", {}).update(_schemas([*models, *_EXTRA_MODELS]))
    components["securitySchemes"] = {
        BEARER: {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "API key",
            "description": "Authorization: Bearer sk_test_… (or sk_live_…): an API key of your tenant",
        }
    }
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            doc = OPERATIONS.get((method, path))
            if doc is None:
                continue  # the OpenAPI test names it
            if doc.description is not None:
                operation["description"] = doc.description
            if (method, path) not in PUBLIC:
                operation["security"] = [{BEARER: []}]
            if doc.request is not None and "requestBody" in operation:
                # A copy: a route's openapi_extra is its own constant, not this document's to change.
                operation["requestBody"] = copy.deepcopy(operation["requestBody"])
                body = operation["requestBody"].get("content", {}).get("application/json")
                if body is not None:
                    body["example"] = doc.request
            for status, answer in doc.answers.items():
                _answer(operation, status, answer)
            for status, entry in operation["responses"].items():
                if status.startswith(("4", "5")):
                    entry["content"] = {
                        "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}
                    }
    _int256(spec)
    return spec


def _answer(operation: dict[str, Any], status: str, answer: type[BaseModel] | str) -> None:
    entry = operation["responses"].setdefault(status, {"description": "Successful Response"})
    if answer == "":
        entry.pop("content", None)
        return
    if isinstance(answer, str):
        schema = {"type": "string", "description": "one JSON proof bundle per line (ProofBundle)"}
        entry["content"] = {answer: {"schema": schema, "example": '{"version":"pacspace.proof.v2",…}\n'}}
        return
    content = {
        "schema": {"$ref": f"#/components/schemas/{answer.__name__}"},
        "example": examples.ANSWERS[answer.__name__],
    }
    media = entry.get("content") or {"application/json": {}}
    entry["content"] = {media_type: dict(content) for media_type in media if media_type != "text/html"}
    if "text/html" in media:
        entry["content"]["text/html"] = {"schema": {"type": "string"}}


class NodeAPI(FastAPI):
    """The node's FastAPI app: its /openapi.json is ``build_openapi``'s (built once), and FastAPI's own /docs
    and /redoc, which load their files from a CDN, are off (``install_docs`` serves /docs)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(docs_url=None, redoc_url=None, **kwargs)

    def openapi(self) -> dict[str, Any]:
        if self.openapi_schema is None:
            self.openapi_schema = build_openapi(self)
        return self.openapi_schema


def install_docs(app: FastAPI) -> None:
    """/docs (Swagger UI), from files the node serves itself under /docs/assets."""
    app.mount(ASSETS_PATH, StaticFiles(directory=ASSETS), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url="/openapi.json",
            title=f"{app.title}: API",
            swagger_js_url=f"{ASSETS_PATH}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS_PATH}/swagger-ui.css",
            swagger_favicon_url=f"{ASSETS_PATH}/favicon.png",
            swagger_ui_parameters={"persistAuthorization": False, "tryItOutEnabled": True},
        )
