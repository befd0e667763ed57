"""Where numba keeps the compiled physics core: a folder named by a hash of the package's sources.

numba checks a cached function against its own source file only. The kernels inline helpers and
constants from many other files (reward, sensors, dynamics, state columns), so an edit to one of
those would leave the cached kernels running the old code. Naming the cache folder by a hash of
every source file of ``lunar_env`` (and of the numba modules of ``agents``) makes any such edit
select a new, empty folder.

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


def _compiled_sources(root: Path) -> list[Path]:
    """The files whose code or constants can end up in compiled functions: all of ``lunar_env``
    (its kernels read constants from modules without numba code), and of the other packages the
    files that use numba (editing agents' Python-only modules then keeps the cache)."""
    files = sorted(root.rglob("*.py"))
    if root.name == PACKAGES[0]:
        return files
    return [path for path in files if b"numba" in path.read_bytes()]


def source_fingerprint(roots: list[Path]) -> str:
    """sha256 over the relative paths and bytes of the compiled sources below ``roots``, in sorted order."""
    digest = hashlib.sha256()
    for root in roots:
        for path in _compiled_sources(root):
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


COLD_COMPILE_NOTE = ("lunar-env: compiling the physics core with numba. This happens once for this version of "
                     "the code (about 2-3 min on 2 cores); later starts load it from {folder}")
_announced = False


def kernels_cached() -> bool:
    """True when the cache already holds this source tree's compiled step kernel (a warm start).

    Checkouts with identical sources share a hash folder, each in its own subfolder (numba's rule);
    only this tree's subfolder counts.
    """
    kernels = Path(__file__).resolve().parent / "kernels.py"
    folder = os.environ.get(CACHE_ENV)
    root = kernels.parent / "__pycache__"
    if folder:
        try:
            from numba.core.caching import _CacheLocator  # numba's own rule for a source file's subfolder

            root = Path(folder) / _CacheLocator.get_suitable_cache_subpath(str(kernels))
        except (ImportError, AttributeError):  # another numba: any compiled step kernel under the folder
            return any(Path(folder).rglob("kernels.step_kernel-*.nbi"))
    try:
        return any(root.glob("kernels.step_kernel-*.nbi"))
    except OSError:
        return False


def announce_cold_compile() -> None:
    """Say once per process, on standard error, that the first step will wait for compilation."""
    global _announced
    if _announced:
        return
    _announced = True
    if not kernels_cached():
        folder = os.environ.get(CACHE_ENV) or "__pycache__ beside the sources"
        print(COLD_COMPILE_NOTE.format(folder=folder), file=sys.stderr, flush=True)
