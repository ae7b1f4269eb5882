"""Reading certhook.yaml: where it is, its YAML, and ${NAME} taken from the environment, else
from a `.env` file beside it (python-dotenv reads it; the environment wins)."""
from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import yaml
from dotenv import dotenv_values

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


def variables(settings: Path) -> dict[str, str]:
    """What ${NAME} may name: the environment, over the `.env` beside the settings file."""
    dotenv = settings.parent / ".env"
    found = {k: v for k, v in dotenv_values(dotenv).items() if v is not None} if dotenv.is_file() else {}
    return {**found, **os.environ}


def source(settings: Path, key: str) -> str:
    """Where a top-level setting's value comes from, to say so (never the value itself)."""
    written = str(read(settings).get(key, ""))
    ref = _ENV_REF.search(written)
    if ref is None:
        return str(settings)
    if ref.group(1) in os.environ:
        return f"the environment variable {ref.group(1)}"
    return f"{ref.group(1)} in {settings.parent / '.env'}"


def expand(value: Any, path: str, env: dict[str, str]) -> Any:
    """Replace ${NAME} in every string with the variable NAME of `env`."""
    if isinstance(value, dict):
        return {k: expand(v, f"{path}.{k}" if path else str(k), env) for k, v in value.items()}
    if isinstance(value, list):
        return [expand(v, f"{path}.{i}", env) for i, v in enumerate(value)]
    if isinstance(value, str):
        def sub(m: re.Match[str]) -> str:
            name = m.group(1)
            if name not in env:
                raise SettingsError(f"{path}: environment variable {name} is not set (nor in .env "
                                    "beside the settings file)")
            return env[name]
        return _ENV_REF.sub(sub, value)
    return value
