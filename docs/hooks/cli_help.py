"""MkDocs hook: replace ``<!-- scalefit-cli-help -->`` in a page with the ``--help`` text of the
``scalefit`` command and of every subcommand, read from the parser at build time (never stale)."""

from __future__ import annotations

import argparse
import os

MARKER = "<!-- scalefit-cli-help -->"


def _subcommands(parser: argparse.ArgumentParser) -> list[tuple[str, argparse.ArgumentParser]]:
    found = []
    for action in parser._actions:  # argparse keeps subparsers here; there is no public accessor
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found.append((name, sub))
    return found


def _walk(parser: argparse.ArgumentParser, prefix: str) -> list[tuple[str, argparse.ArgumentParser]]:
    pages = [(prefix, parser)]
    for name, sub in _subcommands(parser):
        pages += _walk(sub, f"{prefix} {name}")
    return pages


def cli_help_markdown() -> str:
    from scalefit.cli.main import build_parser

    old = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = "100"  # argparse wraps to the terminal width: fix it for a stable page
    try:
        blocks = []
        for command, parser in _walk(build_parser(), "scalefit"):
            level = "##" if command == "scalefit" else "###"
            blocks.append(f"{level} `{command}`\n\n```text\n{parser.format_help().rstrip()}\n```\n")
        return "\n".join(blocks)
    finally:
        if old is None:
            os.environ.pop("COLUMNS", None)
        else:
            os.environ["COLUMNS"] = old


def on_page_markdown(markdown: str, **kwargs) -> str:
    if MARKER in markdown:
        markdown = markdown.replace(MARKER, cli_help_markdown())
    return markdown
