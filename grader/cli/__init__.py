"""The `grader` command: one entry point for students and instructors.

``grader.cli:main`` is the console script named in pyproject.toml, so this module's ``main`` is
part of the package's contract. Problem-bank commands live in :mod:`grader.cli.bank_commands`,
code-exercise commands in :mod:`grader.cli.code_commands`, terminal rendering in
:mod:`grader.cli.terminal`; this module only assembles the group.
"""

from __future__ import annotations

import click

from grader import __version__
from grader.cli import bank_commands, code_commands


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="grader")
def main() -> None:
    """Stride: practise and grade the foundations of convolutional neural networks."""


for _command in (*bank_commands.COMMANDS, *code_commands.COMMANDS):
    main.add_command(_command)
