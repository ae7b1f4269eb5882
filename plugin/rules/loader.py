"""Load a rules file; every error names the file, the line and the rule."""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import yaml
from marshmallow import ValidationError

from .schema import Rule, RulesFileSchema

Path_ = tuple[Any, ...]


class RulesError(Exception):
    """One or more problems in a rules file, each as `file:line: rule "name": what`."""

    def __init__(self, errors: list[str]):
        super().__init__("\n".join(errors))
        self.errors = errors


def _lines(node: yaml.Node, path: Path_ = ()) -> Iterator[tuple[Path_, int]]:
    yield path, node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            yield path + (key.value,), key.start_mark.line + 1
            for sub, line in _lines(value, path + (key.value,)):
                if sub != path + (key.value,):
                    yield sub, line
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            yield from _lines(item, path + (i,))


def _flatten(messages: Any, path: Path_ = ()) -> Iterator[tuple[Path_, str]]:
    if isinstance(messages, dict):
        for key, value in messages.items():
            yield from _flatten(value, path if key == "_schema" else path + (key,))
    elif isinstance(messages, list) and all(isinstance(m, str) for m in messages):
        for message in messages:
            yield path, message
    else:
        yield path, str(messages)


def _wording(message: str) -> str:
    return {
        "Unknown field.": "unknown key",
        "Missing data for required field.": "is required",
        "Not a valid integer.": "must be a whole number",
        "Not a valid number.": "must be a number",
        "Not a valid string.": "must be text",
        "Not a valid list.": "must be a list",
    }.get(message, message)


def load_rules(path: Path, shown_as: str | None = None) -> tuple[Rule, ...]:
    """Parse and validate a YAML or JSON rules file."""
    name = shown_as or str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise RulesError([f"{name}: cannot read the rules file: {exc.strerror}"]) from None
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark else 1
        problem = getattr(exc, "problem", None) or "cannot be parsed"
        raise RulesError([f"{name}:{line}: invalid YAML/JSON: {problem}"]) from None
    if not isinstance(data, dict):
        raise RulesError([f"{name}:1: the file must be a mapping with a 'rules' list"])
    lines = dict(_lines(root)) if root is not None else {}
    try:
        rules = RulesFileSchema().load(data)["rules"]
        return tuple(replace(r, line=lines.get(("rules", i), 1)) for i, r in enumerate(rules))
    except ValidationError as exc:
        errors = []
        for where, message in _flatten(exc.messages):
            line = next(lines[where[:n]] for n in range(len(where), -1, -1) if where[:n] in lines)
            prefix = f"{name}:{line}: "
            if len(where) >= 2 and where[0] == "rules" and isinstance(where[1], int):
                rule = data["rules"][where[1]]
                label = rule.get("name") if isinstance(rule, dict) else None
                prefix += f'rule "{label}": ' if label else f"rule #{where[1] + 1}: "
                field = ".".join(str(p) for p in where[2:])
            else:
                field = ".".join(str(p) for p in where)
            errors.append(prefix + (f"{field} " if field else "") + _wording(message))
        raise RulesError(errors) from None
