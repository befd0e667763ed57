"""Writing files and folders so that a crash never leaves one half-written."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

FILE_MODE = 0o644  # written files: readable by all
FOLDER_MODE = 0o755  # written folders: readable by all, like their files (tempfile.mkdtemp makes 0700)


def write_atomic(path: str | Path, data: str | bytes) -> Path:
    """Write ``data`` to ``path`` through a temporary sibling and os.replace (never half-written)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data.encode() if isinstance(data, str) else data)
        os.chmod(tmp, FILE_MODE)  # mkstemp makes 0600; written files are meant to be shared
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


# ----------------------------------------------------------------------------- whole folders
def old_dir(target: Path) -> Path:
    """Where :func:`replace_dir` keeps the previous folder while it swaps a new one in."""
    return target.with_name(target.name + ".old")


def staging_dir(target: str | Path) -> Path:
    """A new empty folder beside ``target`` (``.NAME.*``) to build its replacement in.

    Staging folders left by writers that died are removed first: one writer per folder at a time.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    for stale in target.parent.glob(f".{target.name}.*"):
        # mkdtemp's names: the prefix and 8 characters without a dot (not another target's staging)
        if stale.is_dir() and len(stale.name) == len(target.name) + 10 and "." not in stale.name[-8:]:
            shutil.rmtree(stale, ignore_errors=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    os.chmod(staging, FOLDER_MODE)
    return staging


def replace_dir(staging: str | Path, target: str | Path) -> None:
    """Put a complete folder in place of another; a crash leaves either the old or the new one.

    The sequence is ``target -> target.old``, ``staging -> target``, remove ``target.old``; a reader
    that finds ``target`` missing takes ``target.old`` (:func:`existing_dir`).
    """
    staging, target = Path(staging), Path(target)
    old = old_dir(target)
    if target.exists():
        shutil.rmtree(old, ignore_errors=True)
        os.replace(target, old)
    os.replace(staging, target)
    shutil.rmtree(old, ignore_errors=True)


def existing_dir(target: str | Path) -> Path:
    """``target``, or ``target.old`` when a crash in :func:`replace_dir` left only the previous folder."""
    target = Path(target)
    if not target.is_dir() and old_dir(target).is_dir():
        return old_dir(target)
    return target
