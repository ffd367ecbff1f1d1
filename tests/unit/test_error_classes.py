"""One class per error code, and problem+json bodies exactly as clients have always received them."""

from __future__ import annotations

import json

from fastapi import FastAPI
from fastapi.testclient import TestClient

import node.anchoring.cycle
import node.chain.owner
import node.keys.signers  # noqa: F401  (defines RotationRefused)
from node.api.limits import RequestGuard
from node.api.problems import error_body, install_problem_handlers
from node.core.errors import (
    AlreadyCountersigned,
    ChainContention,
    CheckpointOverlap,
    CheckpointRangeInvalid,
    Conflict,
    DatabaseUnavailable,
    EmptyRange,
    FieldError,
    InvalidInput,
    NotAnchored,
    NothingToCheckpoint,
    PacSpaceError,
    RangeNotVerified,
    ReferenceConflict,
)


def _all_subclasses(cls: type[PacSpaceError]) -> list[type[PacSpaceError]]:
    return [c for sub in cls.__subclasses__() for c in (sub, *_all_subclasses(sub))]


def test_every_code_has_exactly_one_class() -> None:
    owners: dict[str, list[str]] = {}
    for cls in _all_subclasses(PacSpaceError):
        if "code" in vars(cls):
            owners.setdefault(cls.code, []).append(cls.__qualname__)
    assert {code: names for code, names in owners.items() if len(names) > 1} == {}
    for code in ["reference_conflict", "not_anchored", "checkpoint_overlap", "chain_unavailable", "chain_reverted"]:
        assert code in owners, code


def _wire(exc: PacSpaceError) -> str:
    return json.dumps(error_body(exc))


def _expected(code: str, detail: str, status: int = 409, title: str = "Conflict", **extra: object) -> str:
    body: dict[str, object] = {
        "type": f"https://pacspace.dev/problems/{code}",
        "title": title,
        "status": status,
        "code": code,
        "detail": detail,
        "errors": [],
    }
    return json.dumps({**body, **extra})


def test_conflicts_render_as_before_with_the_id_they_are_about() -> None:
    assert _wire(ReferenceConflict("d", receipt_id="rcpt_1")) == _expected(
        "reference_conflict", "d", receiptId="rcpt_1"
    )
    assert _wire(NotAnchored("d", receipt_id="rcpt_2")) == _expected("not_anchored", "d", receiptId="rcpt_2")
    assert _wire(CheckpointOverlap("d", checkpoint_id="chk_1")) == _expected(
        "checkpoint_overlap", "d", checkpointId="chk_1"
    )
    assert _wire(AlreadyCountersigned("d", checkpoint_id="chk_2")) == _expected(
        "already_countersigned", "d", checkpointId="chk_2"
    )
    for cls, code in [
        (ChainContention, "chain_contention"),
        (EmptyRange, "empty_range"),
        (NothingToCheckpoint, "nothing_to_checkpoint"),
        (RangeNotVerified, "range_not_verified"),
        (CheckpointRangeInvalid, "checkpoint_range_invalid"),
    ]:
        error = cls("d")
        assert isinstance(error, Conflict)  # the dashboard catches the family
        assert _wire(error) == _expected(code, "d")


def test_other_errors_keep_their_status_title_and_field_errors() -> None:
    invalid = InvalidInput("bad", errors=[FieldError("delta", "must be an integer")])
    assert json.loads(_wire(invalid)) == {
        "type": "https://pacspace.dev/problems/invalid_request",
        "title": "Invalid request",
        "status": 422,
        "code": "invalid_request",
        "detail": "bad",
        "errors": [{"field": "delta", "message": "must be an integer"}],
    }
    assert _wire(DatabaseUnavailable("retry")) == _expected(
        "database_unavailable", "retry", status=503, title="Database unavailable"
    )


def test_framework_and_guard_errors_render_as_before() -> None:
    app = FastAPI()
    install_problem_handlers(app)

    @app.post("/echo")
    def echo() -> dict[str, str]:
        return {}

    app.add_middleware(RequestGuard, max_body_bytes=8)
    with TestClient(app) as client:
        missing = client.get("/nowhere")
        wrong_method = client.get("/echo")
        huge = client.post("/echo", content=b'{"a": "0123456789"}', headers={"content-type": "application/json"})
        wrong_type = client.post("/echo", content=b"a=1", headers={"content-type": "text/plain"})
    assert missing.status_code == 404
    assert list(missing.json().items()) == list(
        json.loads(_expected("not_found", "Not Found", 404, "Not found")).items()
    )
    assert wrong_method.status_code == 405
    assert wrong_method.json() == json.loads(
        _expected("method_not_allowed", "Method Not Allowed", 405, "Method not allowed")
    )
    # The guard writes its bodies itself: byte for byte what it always wrote.
    assert huge.status_code == 413
    assert (
        huge.content
        == _expected("payload_too_large", "the body is 19 bytes; the limit is 8", 413, "Payload too large").encode()
    )
    assert wrong_type.status_code == 415
    assert (
        wrong_type.content
        == _expected(
            "unsupported_media_type", "send the body as application/json", 415, "Unsupported media type"
        ).encode()
    )
