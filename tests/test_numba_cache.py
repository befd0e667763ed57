"""The compiled core's cache is keyed to the package's sources, so an edit never runs stale code."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numba.core.config
from numba.core.caching import _CacheLocator

from lunar_env import numba_cache

ROOT = Path(__file__).resolve().parents[1]


def _copy_tree(tmp_path: Path) -> list[Path]:
    roots = []
    for name in numba_cache.PACKAGES:
        target = tmp_path / "src" / name
        shutil.copytree(ROOT / name, target, ignore=shutil.ignore_patterns("__pycache__"))
        roots.append(target)
    return roots


def test_an_edit_below_the_kernels_selects_another_cache(tmp_path):
    roots = _copy_tree(tmp_path)
    before = numba_cache.source_fingerprint(roots)
    assert before == numba_cache.source_fingerprint(roots)  # deterministic
    reward = roots[0] / "reward.py"
    original = reward.read_text()
    reward.write_text(original + "\nSOME_CONSTANT = 2.0\n")  # a module constant the kernels could inline
    assert numba_cache.source_fingerprint(roots) != before
    reward.write_text(original)
    assert numba_cache.source_fingerprint(roots) == before
    (roots[0] / "extra_module.py").write_text("X = 1\n")  # a new file counts too
    changed = numba_cache.source_fingerprint(roots)
    assert changed != before
    (roots[1] / "python_only.py").write_text("Y = 2\n")  # agents' modules without numba do not
    assert numba_cache.source_fingerprint(roots) == changed
    (roots[1] / "compiled.py").write_text("from numba import njit\n")
    assert numba_cache.source_fingerprint(roots) != changed


def _cache_dir_in_fresh_process(env: dict) -> str:
    code = "import lunar_env, numba; print(numba.config.CACHE_DIR)"
    out = subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True, text=True, check=True)
    return out.stdout.strip()


def test_importing_lunar_env_points_numba_at_the_hashed_folder(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != numba_cache.CACHE_ENV}
    env["XDG_CACHE_HOME"] = str(tmp_path)
    expected = tmp_path / "lunar-env" / "numba" / numba_cache.source_fingerprint(numba_cache._package_roots())
    assert _cache_dir_in_fresh_process(env) == str(expected)
    assert expected.is_dir()
    env[numba_cache.CACHE_ENV] = str(tmp_path / "mine")  # the user's own choice is kept
    assert _cache_dir_in_fresh_process(env) == str(tmp_path / "mine")


def test_old_cache_folders_are_pruned(tmp_path, monkeypatch):
    base = tmp_path / "lunar-env" / "numba"
    for k in range(6):
        (base / f"old{k}").mkdir(parents=True)
        os.utime(base / f"old{k}", (1000 + k, 1000 + k))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.delenv(numba_cache.CACHE_ENV, raising=False)
    monkeypatch.setattr(numba.core.config, "CACHE_DIR", numba.core.config.CACHE_DIR)  # restored afterwards
    folder = Path(numba_cache.configure())
    kept = {p.name for p in base.iterdir()}
    assert len(kept) == numba_cache.KEEP_FOLDERS
    assert kept - {folder.name} == {"old3", "old4", "old5"}  # the most recently used stay


def test_a_cold_cache_is_announced_once(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv(numba_cache.CACHE_ENV, str(tmp_path))
    monkeypatch.setattr(numba_cache, "_announced", False)
    numba_cache.announce_cold_compile()
    numba_cache.announce_cold_compile()
    err = capsys.readouterr().err
    assert err.count("compiling the physics core") == 1 and str(tmp_path) in err
    (tmp_path / "lunar_env_of_another_checkout").mkdir()  # same sources elsewhere: still cold here
    (tmp_path / "lunar_env_of_another_checkout" / "kernels.step_kernel-262.py311.nbi").write_bytes(b"")
    monkeypatch.setattr(numba_cache, "_announced", False)
    numba_cache.announce_cold_compile()
    assert capsys.readouterr().err.count("compiling the physics core") == 1
    kernels = Path(numba_cache.__file__).resolve().parent / "kernels.py"
    own = tmp_path / _CacheLocator.get_suitable_cache_subpath(str(kernels))  # where numba caches this tree
    own.mkdir()
    (own / "kernels.step_kernel-262.py311.nbi").write_bytes(b"")
    monkeypatch.setattr(numba_cache, "_announced", False)
    numba_cache.announce_cold_compile()
    assert capsys.readouterr().err == ""  # warm: nothing to say
