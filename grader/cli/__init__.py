"""The `grader` command: one entry point for students and instructors.

``grader.cli:main`` is the console script named in pyproject.toml (and ``python -m grader``
runs it), so this module's ``main`` is part of the package's contract. Problem-bank commands
live in :mod:`grader.cli.bank_commands`, code-exercise commands in
:mod:`grader.cli.code_commands`, the student kit's in :mod:`grader.cli.kit_commands`, terminal
rendering in :mod:`grader.cli.terminal`; this module only assembles the group.

Start-up is lazy: each command's module is imported only when that command runs, so
``grader check`` never loads the problem bank's machinery (pydantic, jinja2) and ``grader
lint`` never loads the sandbox. ``grader --help`` imports them all, to show every command's
summary.
"""

from __future__ import annotations

import importlib

import click

from grader import __version__

# Command name -> the module that defines it and the command's attribute there.
COMMANDS: dict[str, tuple[str, str]] = {
    "list": ("grader.cli.bank_commands", "list_command"),
    "schema": ("grader.cli.bank_commands", "schema_command"),
    "lint": ("grader.cli.bank_commands", "lint_command"),
    "preview": ("grader.cli.bank_commands", "preview_command"),
    "answer": ("grader.cli.bank_commands", "answer_command"),
    "practice": ("grader.cli.bank_commands", "practice_command"),
    "check": ("grader.cli.code_commands", "check_command"),
    "grade": ("grader.cli.code_commands", "grade_command"),
    "batch": ("grader.cli.code_commands", "batch_command"),
    "kit": ("grader.cli.kit_commands", "kit_command"),
}


class LazyGroup(click.Group):
    """A group whose commands are imported on first use (see :data:`COMMANDS`)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return [*COMMANDS, *super().list_commands(ctx)]

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in COMMANDS:
            module, attribute = COMMANDS[cmd_name]
            return getattr(importlib.import_module(module), attribute)
        return super().get_command(ctx, cmd_name)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="grader")
def main() -> None:
    """Stride: practise and grade the foundations of convolutional neural networks."""
