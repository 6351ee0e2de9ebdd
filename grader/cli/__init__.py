"""The `grader` command: one entry point for students and instructors.

Problem-bank commands live in :mod:`grader.cli.bank_commands`, code-exercise commands in
:mod:`grader.cli.code_commands`; this module only assembles the group.
"""

from __future__ import annotations

import click

from grader import __version__


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="grader")
def main() -> None:
    """Stride: practise and grade the foundations of convolutional neural networks."""


def _register() -> None:
    from grader.cli import bank_commands, code_commands

    for module in (bank_commands, code_commands):
        for command in module.COMMANDS:
            main.add_command(command)


_register()
