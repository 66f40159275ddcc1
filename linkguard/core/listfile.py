"""Reading the reviewable data files admins keep in git: YAML and plain line lists.

Every problem is reported as ``file:line: message`` so ``linkguard lists validate`` can point an
admin at the exact line, and all problems of a file are collected before giving up (an admin
fixing a file wants the whole list, not one error per run). Parsing is pure: the caller reads
the file and passes its text and name.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import yaml


@dataclass(frozen=True, slots=True)
class Problem:
    source: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.source}:{self.line}: {self.message}"


class ListFileError(ValueError):
    """One or more problems in a data file; ``problems`` has them all, in file order."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


def compose_yaml(text: str, source: str) -> yaml.Node | None:
    """Parse YAML into nodes (which keep line numbers) with the safe loader's rules."""
    try:
        return yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else 1
        raise ListFileError([Problem(source, line, f"not valid YAML: {exc.problem}")]) from None
    except yaml.YAMLError as exc:
        raise ListFileError([Problem(source, 1, f"not valid YAML: {exc}")]) from None


def line_of(node: yaml.Node) -> int:
    return node.start_mark.line + 1


def scalar(node: yaml.Node) -> str | None:
    """The text of a scalar node, or None for a mapping/sequence."""
    if isinstance(node, yaml.ScalarNode):
        return str(node.value)
    return None


def mapping_items(node: yaml.Node) -> Iterator[tuple[str, yaml.Node, yaml.Node]]:
    """(key text, key node, value node) of a mapping node."""
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            yield str(key_node.value), key_node, value_node


def sequence_items(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def iter_lines(text: str) -> Iterator[tuple[int, str]]:
    """Non-empty lines of a plain list file, ``#`` comments removed, with line numbers."""
    for number, line in enumerate(text.lstrip("\ufeff").splitlines(), start=1):
        body = line.split("#", 1)[0].strip()
        if body:
            yield number, body
