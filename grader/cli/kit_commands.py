"""The student kit's command of the `grader` CLI: ``grader kit`` (for instructors).

Exit codes: 0 when the wheel is written, 2 for bad arguments, 1 when the kit cannot be built
(the message says which part of the grader it could not copy, or which spec does not load).
"""

from __future__ import annotations

from pathlib import Path

import click


@click.command("kit")
@click.option("--exercise", "exercises", multiple=True, metavar="NAME",
              help="Put this exercise in the kit (repeat for several; default: all of them).")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path),
              default=Path("dist"), show_default=True, help="Folder to write the wheel into.")
def kit_command(exercises: tuple[str, ...], out_dir: Path) -> None:
    """Build the student kit: a wheel with the stubs and the public tests, without solutions.

    Students install it with `pip install <wheel>` and check their work offline, in a notebook
    (`from stride_kit import check; check("conv_forward")`) or a terminal (`stride-kit check
    FILE`), with the same verdicts and hints as the server's public tests. The kit holds no
    reference code, no hidden test and no quiz.
    """
    from grader.code import EXERCISES
    from grader.errors import GraderError
    from grader.kit.build import DISTRIBUTION, build_kit

    unknown = [e for e in exercises if e not in EXERCISES]
    if unknown:
        raise click.UsageError(f"unknown exercise {unknown[0]!r}; choose from "
                               f"{', '.join(EXERCISES)}")
    chosen = exercises or EXERCISES
    try:
        path = build_kit(chosen, out_dir)
    except GraderError as err:
        raise click.ClickException(f"the kit cannot be built: {err}") from None
    except OSError as err:
        raise click.ClickException(f"cannot write into {out_dir}: {err.strerror}") from None
    click.echo(f"{DISTRIBUTION}: {', '.join(chosen)} -> {path}")
    click.echo(f"students install it with: pip install {path}")
