"""`pip install .` gives the import package `certhook` (from the folder plugin/), nothing named plugin."""
from __future__ import annotations

import ast
import importlib.metadata
import re
import shutil
import site as sitelib
import subprocess
import sys
import tomllib
import venv
from pathlib import Path

from click.testing import CliRunner

from certhook.cli import main

ROOT = Path(__file__).resolve().parents[1]


def test_a_fresh_venv_imports_certhook_and_has_no_plugin_package(tmp_path: Path):
    # certhook is installed from a clean copy of this folder (a build/ left by an earlier install
    # would add its stale files); what it needs comes from the environment running the tests (a
    # virtualenv's, or the system's), after the new venv's own packages.
    source = tmp_path / "source"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(
        ".git", "build", "*.egg-info", "__pycache__", ".venv", "tests", "*.db*"))
    venv.EnvBuilder(with_pip=False).create(tmp_path / "venv")
    python = tmp_path / "venv" / "bin" / "python"
    where = "import sysconfig; print(sysconfig.get_paths()['purelib'])"
    site = Path(subprocess.run([str(python), "-c", where], check=True, capture_output=True,
                               text=True).stdout.strip())
    (site / "outer.pth").write_text("import site; " + "; ".join(
        f"site.addsitedir({path!r})" for path in sitelib.getsitepackages()) + "\n")
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps",
                    "--quiet", str(source)], check=True, capture_output=True)
    assert (site / "certhook" / "__init__.py").exists()
    assert not (site / "plugin").exists()
    installed = {p.relative_to(site / "certhook") for p in (site / "certhook").rglob("*.py")}
    modules = {p.relative_to(ROOT / "plugin") for p in (ROOT / "plugin").rglob("*.py")}
    assert installed == modules  # every module and migration, and nothing else
    assert (site / "certhook" / "web" / "templates" / "order.html").exists()
    done = subprocess.run([str(python), "-c", "import certhook, certhook.cli; print(certhook.__file__)"],
                          cwd=tmp_path, check=True, capture_output=True, text=True)
    assert done.stdout.strip() == str(site / "certhook" / "__init__.py")
    missing = subprocess.run([str(python), "-c", "import plugin"], cwd=tmp_path, capture_output=True)
    assert missing.returncode != 0


def test_version():
    result = CliRunner().invoke(main, ["--version"])
    assert result.exit_code == 0 and result.output.startswith("certhook ")


def test_every_package_the_product_imports_is_declared():
    """What plugin/ imports from outside the standard library is in pyproject's dependencies
    (psycopg in its postgres extra); what only the tests import is not needed to run it."""
    root = Path(__file__).resolve().parents[1]
    project = tomllib.loads((root / "pyproject.toml").read_text())["project"]
    declared = {_name(re.split(r"[<>=\[ ]", d)[0])
                for d in project["dependencies"] + project["optional-dependencies"]["postgres"]}
    imported = set()
    for source in (root / "plugin").rglob("*.py"):
        for node in ast.walk(ast.parse(source.read_text())):
            if isinstance(node, ast.Import):
                imported |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                imported.add(node.module.split(".")[0])
    outside = imported - set(sys.stdlib_module_names) - {"certhook", "__future__"}
    distributions = importlib.metadata.packages_distributions()
    undeclared = {m for m in outside if not {_name(d) for d in distributions.get(m, [m])} & declared}
    assert undeclared == set()


def _name(distribution: str) -> str:
    """A distribution's name as PEP 503 compares them."""
    return re.sub(r"[-_.]+", "-", distribution).lower()


BASE = {"settings", "settings_schema", "settings_file", "db", "writers", "models", "statuses", "orders",
        "http", "limits", "redaction"}


def test_the_shared_base_imports_nothing_of_the_rest():
    """docs/architecture.md: the base modules import each other only, never a step of the flow."""
    for name in BASE:
        tree = ast.parse((ROOT / "plugin" / f"{name}.py").read_text())
        mine = {node.module.split(".")[0] for node in ast.walk(tree)
                if isinstance(node, ast.ImportFrom) and node.level == 1 and node.module}
        assert mine <= BASE, (name, mine - BASE)
