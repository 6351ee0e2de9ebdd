"""``stride-kit check FILE``: the public tests on a ``.py`` or ``.ipynb`` file, in a terminal.

Exit codes, as ``grader check``: 0 when every attempted test passes, 1 when some test fails
(or nothing was attempted), 2 for bad arguments or an unreadable file.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="stride-kit", description="Check your Stride "
                                     "exercise functions with the public tests.")
    commands = parser.add_subparsers(dest="command", required=True)
    check = commands.add_parser("check", help="run the public tests on FILE")
    check.add_argument("file", type=Path)
    check.add_argument("--function", dest="functions", action="append", metavar="NAME",
                       help="check only this function (repeat for several)")
    check.add_argument("--exercise", default=None, help="which exercise the file solves "
                       "(default: guessed from its function names)")
    check.add_argument("--json", dest="as_json", action="store_true",
                       help="print the report as JSON")
    stubs = commands.add_parser("stubs", help="copy the exercise files to start from")
    stubs.add_argument("folder", type=Path, nargs="?", default=Path("."))
    return parser


def _stubs(folder: Path) -> int:
    source = Path(__file__).resolve().parent / "stubs"
    folder.mkdir(parents=True, exist_ok=True)
    for stub in sorted(source.glob("*.py")):
        target = folder / stub.name
        if target.exists():
            print(f"kept {target} (it exists)")
            continue
        target.write_bytes(stub.read_bytes())
        print(f"wrote {target}")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "stubs":
        return _stubs(args.folder)
    from ._core.errors import StudentCodeError
    from .local import grade
    from .render import print_report

    try:
        data = args.file.read_bytes()
        report = grade(data, args.exercise, args.functions, filename=args.file.name)
    except OSError as err:
        print(f"stride-kit: cannot read {args.file}: {err.strerror}", file=sys.stderr)
        return 2
    except (StudentCodeError, ValueError) as err:
        print(f"stride-kit: {args.file.name}: {err}", file=sys.stderr)
        return 2
    if args.as_json:
        print(json.dumps(report.to_json(), indent=2))
    else:
        print_report(report, f"{args.file.name}: public tests")
    return 0 if report.all_attempted_pass else 1


if __name__ == "__main__":
    sys.exit(main())
