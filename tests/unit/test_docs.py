"""The documentation stays true to the code: every webhook event is in docs/WEBHOOKS.md's table, and no
document sends its reader to a file outside the repository or to a guide that does not exist yet."""

from __future__ import annotations

import re
from pathlib import Path

from node.core.webhooks import WebhookEvent

REPO = Path(__file__).resolve().parents[2]
DOCS = [REPO / "README.md", REPO / "verifier" / "README.md", *sorted((REPO / "docs").glob("*.md"))]


def test_every_webhook_event_is_in_the_event_table() -> None:
    text = (REPO / "docs" / "WEBHOOKS.md").read_text()
    table = text.split("## Events", 1)[1].split("\n## ", 1)[0]
    rows = {
        name
        for line in table.splitlines()
        if line.startswith("| `")
        for name in re.findall(r"`([a-z.]+)`", line.split("|")[1])
    }
    assert {e.value for e in WebhookEvent} <= rows, sorted({e.value for e in WebhookEvent} - rows)


def test_no_document_points_outside_the_repository() -> None:
    outside = re.compile(r"(/work/|/home/|/root/|/tmp/|DESIGN\.md|\bshared/)")
    found = [
        f"{doc.relative_to(REPO)}:{n}: {line.strip()}"
        for doc in DOCS
        for n, line in enumerate(doc.read_text().splitlines(), 1)
        if outside.search(line)
    ]
    assert found == []


def test_no_document_promises_a_guide_that_is_still_to_come() -> None:
    promises = re.compile(r"when it lands|coming soon|\bTODO\b|\bTBD\b", re.I)
    found = [
        f"{doc.relative_to(REPO)}:{n}"
        for doc in DOCS
        for n, line in enumerate(doc.read_text().splitlines(), 1)
        if promises.search(line)
    ]
    assert found == []


def test_every_relative_link_in_the_docs_resolves() -> None:
    broken = []
    for doc in DOCS:
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", doc.read_text()):
            if "://" not in target and not (doc.parent / target).exists():
                broken.append(f"{doc.relative_to(REPO)} -> {target}")
    assert broken == []
