"""Where things are in a YAML file: the one home of mapping a problem id, a field or a pydantic
error path to the line it is written on, so findings can say "file:line"."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import yaml


def compose(text: str) -> yaml.Node | None:
    """The YAML node tree of ``text`` (None when it is not valid YAML)."""
    try:
        return yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return None


def _child(node: yaml.Node, key: Any) -> yaml.Node | None:
    if isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            if isinstance(k, yaml.ScalarNode) and k.value == str(key):
                return v
    elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and 0 <= key < len(
            node.value):
        return node.value[key]
    return None


def _key_line(node: yaml.Node, key: Any) -> int | None:
    if isinstance(node, yaml.MappingNode):
        for k, _v in node.value:
            if isinstance(k, yaml.ScalarNode) and k.value == str(key):
                return k.start_mark.line + 1
    return None


def line_of(root: yaml.Node | None, path: Sequence[Any]) -> int | None:
    """The 1-based line of the deepest node along ``path`` (mapping keys and list indices): the
    key's own line for a mapping entry. None when the root is missing."""
    if root is None:
        return None
    node, line = root, root.start_mark.line + 1
    for key in path:
        key_line = _key_line(node, key)
        child = _child(node, key)
        if child is None:
            break
        line = key_line or child.start_mark.line + 1
        node = child
    return line


def line_node(root: yaml.Node | None, path: Sequence[Any]) -> yaml.Node | None:
    """The node at ``path`` under ``root`` (None when it is not there)."""
    node = root
    for key in path:
        if node is None:
            return None
        node = _child(node, key)
    return node


def problem_nodes(root: yaml.Node | None) -> dict[str, tuple[yaml.Node, tuple[Any, ...]]]:
    """Problem id -> (its mapping node, its path from the root) for a problem file holding one
    problem or ``problems: [...]``."""
    if not isinstance(root, yaml.MappingNode):
        return {}
    listed = _child(root, "problems")
    found: dict[str, tuple[yaml.Node, tuple[Any, ...]]] = {}
    if isinstance(listed, yaml.SequenceNode) and _child(root, "id") is None:
        for i, node in enumerate(listed.value):
            pid = _child(node, "id")
            if isinstance(pid, yaml.ScalarNode):
                found.setdefault(pid.value, (node, ("problems", i)))
        return found
    pid = _child(root, "id")
    if isinstance(pid, yaml.ScalarNode):
        found[pid.value] = (root, ())
    return found


def problem_line(text: str, problem_id: str, field: str | None = None) -> int | None:
    """The line of problem ``problem_id`` in a file's text (of its ``field`` when given and
    written), or None."""
    root = compose(text)
    node, _path = problem_nodes(root).get(problem_id, (None, ()))
    if node is None:
        return None
    if field:
        parts = [int(p) if p.isdigit() else p for p in field.split(".")]
        return line_of(node, parts)
    return node.start_mark.line + 1
