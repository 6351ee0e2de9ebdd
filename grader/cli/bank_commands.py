"""Commands of the `grader` CLI (filled in by their feature)."""

COMMANDS: list = []
