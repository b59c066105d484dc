"""A real crash: kill -9 the queue's process mid-generation, restart it, lose nothing."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).parents[2]


def start(tmp_path: Path, model: Path, *extra: str) -> subprocess.Popen[str]:
    """Start the queue process on the test's database."""
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.pipeline.scheduler_process",
            "--db",
            str(tmp_path / "easel.db"),
            "--model",
            str(model),
            "--outputs",
            str(tmp_path / "outputs"),
            *extra,
        ],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT), "TRANSFORMERS_VERBOSITY": "error"},
        stdout=subprocess.PIPE,
        text=True,
    )


def read_until(process: subprocess.Popen[str], wanted: str, timeout: float) -> list[str]:
    """Read report lines until one starts with ``wanted``; fail after ``timeout`` seconds."""
    assert process.stdout is not None
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(
        target=lambda: [lines.put(line.strip()) for line in process.stdout or ()], daemon=True
    ).start()
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    while (left := deadline - time.monotonic()) > 0:
        try:
            line = lines.get(timeout=left)
        except queue.Empty:
            break
        seen.append(line)
        if line.startswith(wanted):
            return seen
    process.kill()
    raise AssertionError(f"no {wanted!r} line within {timeout} s; got {seen}")


def test_killed_mid_generation_then_restarted_every_accepted_job_is_delivered(
    tmp_path: Path, tiny_model_dir: Path
) -> None:
    """Deliver every job accepted before a kill -9, including the one being drawn."""
    first = start(tmp_path, tiny_model_dir, "--submit", "4", "--first-steps", "100")
    lines = read_until(first, "drawing", timeout=120)
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=30)
    accepted = {line.split()[1] for line in lines if line.startswith("accepted")}
    interrupted = next(line.split()[1] for line in lines if line.startswith("drawing"))
    assert len(accepted) == 4

    second = start(tmp_path, tiny_model_dir)
    try:
        output, _ = second.communicate(timeout=300)
    finally:
        second.kill()
    assert second.returncode == 0
    report = output.split("\n")
    assert {line.split()[1] for line in report if line.startswith("recovered")} == accepted
    assert {line.split()[1] for line in report if line.startswith("done")} == accepted
    for job_id in accepted:
        assert len(list((tmp_path / "outputs" / job_id).glob("*.png"))) == 4
    assert interrupted in accepted
