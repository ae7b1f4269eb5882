"""Reading certhook.yaml: where it is, its YAML, and ${NAME} taken from the environment."""
from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import yaml

_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


class SettingsError(Exception):
    """The settings file can't be used; the message says where and why."""


def config_path(explicit: str | os.PathLike[str] | None = None) -> Path:
    return Path(explicit or os.environ.get("CERTHOOK_CONFIG") or "certhook.yaml")


def read(path: Path) -> dict[str, Any]:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SettingsError(f"{path}: settings file not found") from None
    except yaml.YAMLError as exc:
        line = getattr(getattr(exc, "problem_mark", None), "line", -1) + 1
        raise SettingsError(f"{path}:{line}: invalid YAML") from None
    if not isinstance(raw, dict):
        raise SettingsError(f"{path}: the settings file must be a mapping")
    return raw


def expand(value: Any, path: str) -> Any:
    """Replace ${NAME} in every string with the environment variable NAME."""
    if isinstance(value, dict):
        return {k: expand(v, f"{path}.{k}" if path else str(k)) for k, v in value.items()}
    if isinstance(value, list):
        return [expand(v, f"{path}.{i}") for i, v in enumerate(value)]
    if isinstance(value, str):
        def sub(m: re.Match[str]) -> str:
            name = m.group(1)
            if name not in os.environ:
                raise SettingsError(f"{path}: environment variable {name} is not set")
            return os.environ[name]
        return _ENV_REF.sub(sub, value)
    return value
