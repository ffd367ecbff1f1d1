"""One JSON object per log line, with the ``extra`` fields a call passes and the request id.

API keys never belong in a log line; as a second line of defence anything shaped like one is
masked before the line is written.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import time
from contextvars import ContextVar

request_id_var: ContextVar[str | None] = ContextVar("pacspace_request_id", default=None)

_STANDARD = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message", "asctime"}
_API_KEY = re.compile(r"(sk_(?:live|test)_[0-9a-f]{16}_)[0-9A-Za-z_-]{20,}")


def mask_secrets(text: str) -> str:
    return _API_KEY.sub(r"\1[redacted]", text)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        body: dict[str, object] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        request_id = request_id_var.get()
        if request_id is not None:
            body["request_id"] = request_id
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_"):
                body[key] = value
        if record.exc_info:
            body["exc"] = self.formatException(record.exc_info)
        return mask_secrets(json.dumps(body, default=str))


def configure_logging(level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # APScheduler warns each time an interval job is still running when its next run is due
    # ("skipped: maximum number of running instances"): by design here, and one line a second
    # under load. Our jobs log their own failures.
    logging.getLogger("apscheduler").setLevel(logging.ERROR)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("web3").setLevel(logging.WARNING)
    logging.getLogger("urllib3").setLevel(logging.WARNING)
    # Alembic logs a "setup plugin …" line per plugin at INFO when first imported: noise on every command.
    logging.getLogger("alembic").setLevel(logging.WARNING)
