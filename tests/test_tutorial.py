"""docs/tutorial.md, run as written: each shell command of its steps, in order, in a fresh folder.
`pip install .` is what this suite runs under; the tutorial's port 8000 is a free port here."""
from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import sys
from pathlib import Path

from .helpers import free_port, healthy, wait_for

DOC = Path(__file__).resolve().parents[1] / "docs" / "tutorial.md"


def commands() -> list[str]:
    blocks = re.findall(r"```sh\n(.*?)```", DOC.read_text(), re.S)
    return [line.split("  #")[0].strip() for block in blocks for line in block.splitlines() if line.strip()]


def certhook(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "certhook", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=120)


def test_the_tutorial_runs_as_written(tmp_path: Path):
    port = free_port()
    steps = [c.replace("127.0.0.1:8000", f"127.0.0.1:{port}") for c in commands()]
    assert steps[0] == "pip install ." and steps[1] == "mkdir myshop && cd myshop", steps
    folder = tmp_path / "myshop"
    folder.mkdir()
    server, outputs = None, {}
    try:
        for step in steps[2:]:
            args = shlex.split(step)
            assert args[0] == "certhook", step
            if args[1] == "serve":
                with open(folder / "serve.log", "wb") as log:
                    server = subprocess.Popen([sys.executable, "-m", "certhook", *args[1:], "--bind",
                                               f"127.0.0.1:{port}"], cwd=folder, stdout=log, stderr=log,
                                              start_new_session=True)
                wait_for(lambda: healthy(f"http://127.0.0.1:{port}"), 30)
                continue
            done = certhook(args[1:], folder)
            assert done.returncode == 0, (step, done.stdout, done.stderr)
            outputs[args[1]] = done.stdout + done.stderr
    finally:
        if server is not None:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(30)
    assert [s.split()[1] for s in steps[2:]] == ["init", "check", "serve", "demo"]
    assert "ok" in outputs["check"] and "is not https" in outputs["check"]
    assert outputs["demo"].count("skipped: shadow mode: would issue") == 3
    assert "CERTHOOK_ADMIN_TOKEN in" in (folder / "serve.log").read_text()
