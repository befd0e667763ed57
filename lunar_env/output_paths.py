"""Output paths checked before work starts, so that a run is never lost at its end.

An output folder or file that cannot be written (a file where a folder is expected, a read-only
folder, a parent that cannot be created) is refused at once with an :class:`OutputPathError`, a
ValueError the ``lunar`` command prints as one line (exit code 2), before any episode is flown
or any step trained.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


class OutputPathError(ValueError):
    """An output path a command cannot write."""


def _existing_ancestor(path: Path) -> Path:
    """The nearest ancestor of ``path`` (or ``path`` itself) that exists."""
    for candidate in (path, *path.parents):
        if os.path.lexists(candidate):
            return candidate
    return Path(".")


def _probe(folder: Path, option: str, path: Path) -> None:
    """Create and remove a file in ``folder``: the only test that also sees read-only mounts and ACLs."""
    try:
        with tempfile.TemporaryFile(dir=folder, prefix=".lunar-write-check-"):
            pass
    except OSError as error:
        reason = error.strerror or type(error).__name__
        where = "" if folder == path else f" ({folder} cannot be written)"
        raise OutputPathError(f"{option} {path}: cannot write there: {reason}{where}") from None


def check_output_dir(path: str | os.PathLike, option: str = "--out") -> Path:
    """``path`` as a Path if it is, or can be made, a writable folder; OutputPathError otherwise.

    Nothing is created: a missing folder is only checked to be creatable in its nearest
    existing ancestor.
    """
    path = Path(path)
    existing = _existing_ancestor(path)
    if not existing.is_dir():
        what = "is a file, not a folder" if existing == path else f"cannot be created: {existing} is a file"
        raise OutputPathError(f"{option} {path}: {what}")
    _probe(existing, option, path)
    return path


def check_output_file(path: str | os.PathLike, option: str = "--out") -> Path:
    """``path`` as a Path if a file can be written there (its folder exists or can be made)."""
    path = Path(path)
    if path.is_dir():
        raise OutputPathError(f"{option} {path}: is a folder; give a file name")
    existing = _existing_ancestor(path.parent)
    if not existing.is_dir():
        raise OutputPathError(f"{option} {path}: its folder cannot be created: {existing} is a file")
    _probe(existing, option, path)
    return path
