"""YAML loading that remembers where every value came from.

:func:`load_yaml` parses once (compose, then construct from the same node tree) and returns the
plain data plus a :class:`Positions` map from a value's path (``("shots", 3, "duration")``) to its
1-based ``(line, col)``. Syntax errors and duplicate keys come back as problems, never tracebacks.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

from .errors import Problem

Path_ = tuple  # ("shots", 3, "duration")


@dataclass
class Positions:
    """Where each value (and each mapping key) sits in the source, 1-based."""

    values: dict[tuple, tuple[int, int]] = field(default_factory=dict)
    keys: dict[tuple, tuple[int, int]] = field(default_factory=dict)

    def of_value(self, path: tuple) -> tuple[int | None, int | None]:
        """Position of the value at ``path``, or of its nearest existing ancestor."""
        return self._nearest(self.values, path)

    def of_key(self, path: tuple) -> tuple[int | None, int | None]:
        """Position of the key naming ``path`` (falls back to the value / ancestor)."""
        if path in self.keys:
            return self.keys[path]
        return self._nearest(self.values, path)

    @staticmethod
    def _nearest(table: dict, path: tuple) -> tuple[int | None, int | None]:
        p = tuple(path)
        while p:
            if p in table:
                return table[p]
            p = p[:-1]
        return table.get((), (None, None))


def format_path(path: tuple) -> str:
    """``("shots", 3, "duration")`` -> ``shots[3].duration``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


def _mark(node: yaml.Node) -> tuple[int, int]:
    return node.start_mark.line + 1, node.start_mark.column + 1


def _walk(node: yaml.Node, path: tuple, pos: Positions, problems: list[Problem], file: str,
          seen: set[int]) -> None:
    pos.values.setdefault(path, _mark(node))
    if id(node) in seen:  # YAML aliases can make cycles
        return
    seen.add(id(node))
    if isinstance(node, yaml.MappingNode):
        first: dict[Any, int] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                continue
            key = key_node.value
            if key == "<<":  # merge key: positions of merged values stay with their anchor
                continue
            if key in first:
                line, col = _mark(key_node)
                problems.append(Problem(file, line, col, format_path(path + (key,)),
                                        f"duplicate key '{key}' (first given on line {first[key]})"))
                continue
            first[key] = _mark(key_node)[0]
            pos.keys[path + (key,)] = _mark(key_node)
            _walk(value_node, path + (key,), pos, problems, file, seen)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _walk(item, path + (i,), pos, problems, file, seen)


def load_yaml(text: str, file: str) -> tuple[Any, Positions, list[Problem]]:
    """Parse ``text``; return ``(data, positions, problems)``. On a syntax error ``data`` is None
    and ``problems`` holds one line with the parser's position."""
    pos = Positions()
    problems: list[Problem] = []
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None, pos, problems
        _walk(node, (), pos, problems, file, set())
        data = loader.construct_document(node)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        col = mark.column + 1 if mark else None
        what = " ".join(x for x in (exc.context, exc.problem) if x) or "invalid YAML"
        problems.append(Problem(file, line, col, "", f"YAML syntax error: {what}"))
        return None, pos, problems
    except yaml.YAMLError as exc:  # pragma: no cover - unmarked errors are rare
        problems.append(Problem(file, None, None, "", f"YAML error: {exc}"))
        return None, pos, problems
    finally:
        loader.dispose()
    return data, pos, problems
