"""Where numba keeps the compiled physics core: a folder named by a hash of the package's sources.

numba checks a cached function against its own source file only. The kernels inline helpers and
constants from many other files (reward, sensors, dynamics, state columns), so an edit to one of
those would leave the cached kernels running the old code. Naming the cache folder by a hash of
every source file of ``lunar_env`` and ``agents`` makes any edit select a new, empty folder.

Imported first by ``lunar_env/__init__.py``, before any compiled module. A ``NUMBA_CACHE_DIR`` set
by the user is left alone (they then own its freshness). The setting applies to the whole
process, as numba's cache directory is one global.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sys
from pathlib import Path

CACHE_ENV = "NUMBA_CACHE_DIR"
HASH_CHARS = 16  # of the sha256 hex digest: 64 bits, no accidental collision between versions
KEEP_FOLDERS = 4  # older hash folders beyond these are removed (each holds a few tens of MB)
PACKAGES = ("lunar_env", "agents")  # every package with @njit(cache=True) code


def source_fingerprint(roots: list[Path]) -> str:
    """sha256 over the relative paths and bytes of every .py file below ``roots``, in sorted order."""
    digest = hashlib.sha256()
    for root in roots:
        for path in sorted(root.rglob("*.py")):
            digest.update(str(path.relative_to(root.parent)).encode())
            digest.update(b"\0")
            digest.update(path.read_bytes())
            digest.update(b"\0")
    return digest.hexdigest()[:HASH_CHARS]


def _package_roots() -> list[Path]:
    here = Path(__file__).resolve().parent
    roots = [here]
    for name in PACKAGES[1:]:
        sibling = here.parent / name
        if sibling.is_dir():
            roots.append(sibling)
    return roots


def cache_base() -> Path:
    """$XDG_CACHE_HOME/lunar-env/numba (default ~/.cache/lunar-env/numba)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "lunar-env" / "numba"


def _prune(base: Path, keep: Path) -> None:
    try:
        folders = sorted((p for p in base.iterdir() if p.is_dir() and p != keep), key=lambda p: p.stat().st_mtime)
    except OSError:
        return
    for old in folders[: max(0, len(folders) - (KEEP_FOLDERS - 1))]:
        shutil.rmtree(old, ignore_errors=True)


def configure() -> str | None:
    """Point numba's cache at the folder of this source tree; returns it (None when the user set one)."""
    if os.environ.get(CACHE_ENV):
        return None
    base = cache_base()
    folder = base / source_fingerprint(_package_roots())
    try:
        folder.mkdir(parents=True, exist_ok=True)
        os.utime(folder)  # most recently used: kept by the pruning of the others
        _prune(base, folder)
    except OSError:
        return None  # no writable cache home: numba falls back to __pycache__ beside the sources
    os.environ[CACHE_ENV] = str(folder)  # read by numba at its import, and by worker processes (Ray)
    config = sys.modules.get("numba.core.config")
    if config is not None:  # numba was imported before lunar_env: its setting is read per decorated function
        config.CACHE_DIR = str(folder)
    return str(folder)
