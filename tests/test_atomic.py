"""Atomic writes: a writer killed by SIGKILL mid-write leaves a temporary that the next writer of
the same target removes (before: 7.4 MB .tmp files piled up beside every checkpoint)."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from rmt_idinit.atomic import atomic_write, atomic_write_bytes, clean_stale_temporaries

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs POSIX signals")


def _temps(folder, name):
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(f".{name}.") and p.name.endswith(".tmp"))


def test_sigkill_mid_write_leaves_a_temporary_that_the_next_writer_removes(tmp_path):
    target = tmp_path / "ckpt.pt"
    started = tmp_path / "started"
    code = textwrap.dedent(f"""
        import pathlib, time
        from rmt_idinit.atomic import atomic_write
        def write(tmp):
            with open(tmp, "wb") as fh:
                fh.write(b"x" * 1_000_000)
                fh.flush()
                pathlib.Path({str(started)!r}).write_text("1")
                time.sleep(60)  # killed here, mid-write
        atomic_write({str(target)!r}, write)
    """)
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=os.getcwd())
    try:
        t0 = time.time()
        while not started.exists():
            assert proc.poll() is None and time.time() - t0 < 60, "writer did not start"
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    left = _temps(tmp_path, "ckpt.pt")
    assert len(left) == 1 and f".{proc.pid}." in left[0]  # recognisable: target name and pid
    assert not target.exists()
    atomic_write_bytes(target, b"done")
    assert target.read_bytes() == b"done"
    assert _temps(tmp_path, "ckpt.pt") == []


def test_live_writers_and_other_targets_are_left_alone(tmp_path):
    target = tmp_path / "a.json"
    mine = tmp_path / f".a.json.{os.getpid()}.abc123.tmp"
    other_target = tmp_path / ".b.json.1.abc123.tmp"
    alive = tmp_path / f".a.json.{os.getppid()}.zzz999.tmp"  # the parent process is alive
    for p in (mine, other_target, alive):
        p.write_bytes(b"partial")
    assert clean_stale_temporaries(target) == []
    assert mine.exists() and other_target.exists() and alive.exists()


def test_failed_write_removes_its_temporary(tmp_path):
    def boom(tmp):
        open(tmp, "wb").write(b"half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        atomic_write(tmp_path / "x.txt", boom)
    assert list(tmp_path.iterdir()) == []
