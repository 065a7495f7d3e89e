"""Atomic file writes: a temporary file beside the target, then ``os.replace``.

A reader, or a run killed mid-write, never sees half a file. Used by the report job, the CLI
and the validation scripts.

A process killed by SIGKILL between creating its temporary file and the rename cannot clean up.
The temporary names are therefore recognisable, ``.<name>.<pid>.<random>.tmp``, and every writer
of the same target first removes the temporaries of processes that no longer exist (or, for a
name without a live pid, that are older than the writer's own process).
"""
from __future__ import annotations

import io
import os
import re
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

__all__ = ["atomic_write", "atomic_write_bytes", "atomic_write_text", "atomic_save_png", "clean_stale_temporaries"]


def atomic_write(path: str | os.PathLike, write: Callable[[str], Any]) -> None:
    """Call ``write(tmp_path)`` on a temporary file next to ``path``, then move it into place.

    The folder is created if needed; the file ends up mode 0644 (``mkstemp`` makes 0600, and
    reports are meant to be read by others). On any error the temporary file is removed.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    clean_stale_temporaries(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.{os.getpid()}.", suffix=".tmp")
    os.close(fd)
    try:
        write(tmp)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


_PROCESS_START = time.time()
_LIVE_PID_GRACE_S = 3600.0


def _pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    except OSError:
        return True
    return True


def clean_stale_temporaries(path: str | os.PathLike) -> list[Path]:
    """Remove temporaries of ``path`` left by writers that were killed; return what was removed.

    A temporary ``.<name>.<pid>.<random>.tmp`` is stale when no process ``pid`` exists; one whose
    pid is alive (a live writer, or a reused pid) is kept unless untouched for an hour. Names
    without a pid (``.<name>.<random>.tmp``, from older versions) are removed when older than
    this process.
    """
    path = Path(path)
    pat = re.compile(rf"^\.{re.escape(path.name)}\.(?:(\d+)\.)?[^.]+\.tmp$")
    removed = []
    try:
        entries = list(os.scandir(path.parent))
    except OSError:
        return removed
    for entry in entries:
        m = pat.match(entry.name)
        if not m or not entry.is_file(follow_symlinks=False):
            continue
        pid = int(m.group(1)) if m.group(1) else None
        if pid == os.getpid():
            continue  # our own writer (another thread) is using it
        try:
            mtime = entry.stat(follow_symlinks=False).st_mtime
        except OSError:
            continue
        if pid is None:
            stale = mtime < _PROCESS_START
        else:
            stale = not _pid_alive(pid) or mtime < time.time() - _LIVE_PID_GRACE_S
        if stale:
            try:
                os.unlink(entry.path)
                removed.append(Path(entry.path))
            except OSError:  # another writer removed it first
                pass
    return removed


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (flushed to disk before the rename)."""

    def write(tmp: str) -> None:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())

    atomic_write(path, write)


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    """Write UTF-8 ``text`` to ``path`` atomically."""
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_save_png(fig: Any, path: str | os.PathLike, dpi: int = 120) -> None:
    """Save a matplotlib figure as PNG atomically (the figure is left open)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    atomic_write_bytes(path, buf.getvalue())
