"""Every option and argument of ``pacspace-node`` and ``pacspace-verify`` says what it is in ``--help``,
and the verifier's help names the docs/PROTOCOL.md section each mode checks."""

from __future__ import annotations

import argparse
import re

from node.cli import build_parser
from pacspace_verify import cli as verifier_cli
from pacspace_verify import cli_evidence
from tests.support import PROTOCOL_DOC


def _undocumented(parser: argparse.ArgumentParser, path: str) -> list[str]:
    missing: list[str] = []
    for action in parser._actions:
        if isinstance(action, argparse._HelpAction):
            continue
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                if child.add_help:  # bench hands every argument to the benchmark's own parser
                    missing += _undocumented(child, f"{path} {name}")
            continue
        if not action.help:
            missing.append(f"{path} {'/'.join(action.option_strings) or action.dest}")
    return missing


def test_every_pacspace_node_option_has_help() -> None:
    assert _undocumented(build_parser(), "pacspace-node") == []


def test_every_verifier_option_has_help() -> None:
    parsers = {
        "pacspace-verify": verifier_cli.build_parser(),
        "derive": verifier_cli.build_derive_parser(),
        "checkpoint": verifier_cli.build_checkpoint_parser(),
        "evidence": cli_evidence.build_evidence_parser(),
    }
    assert [m for name, p in parsers.items() for m in _undocumented(p, name)] == []


def test_verifier_help_names_the_protocol_sections_it_checks() -> None:
    sections = dict(re.findall(r"^## (\d+)\. (.+)$", PROTOCOL_DOC.read_text(), re.M))
    texts = [
        verifier_cli.build_parser().format_help(),
        verifier_cli.build_derive_parser().format_help(),
        verifier_cli.build_checkpoint_parser().format_help(),
    ]
    cited = {m for text in texts for m in re.findall(r"docs/PROTOCOL\.md,\s+section (\d): ([A-Z][a-z]+)", text)}
    assert cited, "the help cites no section of docs/PROTOCOL.md"
    for number, title in cited:
        assert sections[number].startswith(title), f"section {number} is {sections[number]!r}, the help says {title!r}"
    assert not any(re.search(r"section \d of", text) for text in texts)  # "section 4" alone, without the document
