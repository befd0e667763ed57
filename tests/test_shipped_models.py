"""The shipped model folders: complete, and their checked-in exports up to date."""

import dataclasses
import json
import os
import re
import shutil
from pathlib import Path, PureWindowsPath

import numpy as np
import pytest
from helpers import json_strings

from agents.export.actor import load_actor
from agents.export.cli import export_model, write_export
from agents.export.staleness import COMPUTED_ATOL, COMPUTED_RTOL, compare_exports
from agents.export.test_vectors import TestVectors, read_test_vectors, write_test_vectors
from agents.shipped import SHIPPED_MODELS, shipped_model

ROOT = Path(__file__).resolve().parents[1]
MODELS = ROOT / "models"
#: Folders of files the project writes and ships: the model folders and the benchmark records.
WRITTEN = (MODELS, ROOT / "benchmarks" / "results")
#: Files the project writes as text there (the model and array files are binary).
TEXT_SUFFIXES = {".json", ".csv", ".md", ".yaml", ".yml", ".txt", ".c", ".h"}
#: A POSIX path from the root of a machine (not part of a URL or a relative path), or a Windows drive path.
ABSOLUTE_PATH = re.compile(r"(?<![\w.:/])/(?:work|tmp|root|home|Users|usr|var|opt|mnt|private)/\S*|\b[A-Za-z]:\\\S+")


@pytest.mark.parametrize("mode", sorted(SHIPPED_MODELS))
def test_shipped_model_folder_is_complete(mode):
    folder = shipped_model(mode)
    assert folder is not None, f"models/{SHIPPED_MODELS[mode]} is missing"
    for name in ("policy.npz", "normalization.npz", "metadata.json", "config.yaml", "MODEL_CARD.md",
                 "bench/nominal.json", "bench/faults.json", "export/export.json", "export/policy.onnx"):
        assert (folder / name).is_file(), f"{folder / name} is missing"


@pytest.fixture(scope="module")
def regenerated(tmp_path_factory):
    """{mode: a fresh export of the shipped model, made as `lunar export MODEL_DIR` makes it}, on demand.

    The model folder is copied (without its export) under its own name, so that the fresh export
    records the same relative paths and provenance as the checked-in one.
    """
    made = {}

    def export(mode: str) -> tuple[Path, Path]:
        folder = shipped_model(mode)
        assert folder is not None, f"models/{SHIPPED_MODELS[mode]} is missing"
        if mode not in made:
            copy = tmp_path_factory.mktemp(f"regenerated_{mode}") / folder.name
            shutil.copytree(folder, copy, ignore=shutil.ignore_patterns("export"))
            export_model(copy, formats=("onnx", "c", "c-int8"))
            made[mode] = copy / "export"
        return folder / "export", made[mode]

    return export


@pytest.mark.parametrize("mode", sorted(SHIPPED_MODELS))
def test_checked_in_exports_are_not_stale(mode, regenerated):
    checked_in, fresh = regenerated(mode)
    shipped = json.loads((checked_in / "export.json").read_text())
    assert json.loads((fresh / "export.json").read_text())["actor_fingerprint"] == shipped["actor_fingerprint"], (
        f"{checked_in} was generated from other weights: run lunar export {checked_in.parent} --to onnx,c,c-int8")
    problems = compare_exports(checked_in, fresh)
    assert not problems, (f"{checked_in} is stale: regenerate it with lunar export {checked_in.parent} "
                          f"--to onnx,c,c-int8\n" + "\n".join(problems))


def _nudge_ulps(path: Path, ulps: int) -> None:
    """Move every reference action of a test-vector file by ``ulps`` units in the last place."""
    vectors = read_test_vectors(path)
    expected = vectors.expected.copy()
    for _ in range(ulps):
        expected = np.nextafter(expected, np.inf)
    write_test_vectors(TestVectors(vectors.kinds, vectors.obs, expected, vectors.status), path)


def _nudge_budget(path: Path, key: str, ulps: int) -> None:
    manifest = json.loads(path.read_text())
    budget = manifest[key]
    for name in ("measured_max", "measured_rms", "bound_max", "tanh_lut_error"):
        for _ in range(ulps):
            budget[name] = float(np.nextafter(budget[name], np.inf))
    path.write_text(json.dumps(manifest, indent=2) + "\n")


def test_staleness_check_ignores_last_digits_and_catches_a_real_change(regenerated, tmp_path):
    """What another CPU changes (a few ulp of BLAS and tanh results) passes; a weight moved by 1e-6 fails."""
    _, fresh = regenerated("3dof")
    other_cpu = tmp_path / "other_cpu"
    shutil.copytree(fresh, other_cpu)
    _nudge_ulps(other_cpu / "test_vectors.csv", 4)
    _nudge_budget(other_cpu / "export.json", "int8_error_budget", 4)
    _nudge_budget(other_cpu / "c-int8" / "policy_q8.json", "error_budget", 4)
    assert (other_cpu / "test_vectors.csv").read_bytes() != (fresh / "test_vectors.csv").read_bytes()
    assert compare_exports(other_cpu, fresh) == []

    actor = load_actor(fresh.parent)
    weights = [w.copy() for w in actor.weights]
    weights[1][3, 5] += 1e-6
    changed = tmp_path / "changed"
    write_export(dataclasses.replace(actor, weights=tuple(weights)), changed, model_dir=fresh.parent)
    problems = compare_exports(fresh, changed)
    assert any(p.startswith("test_vectors.csv:") and "reference actions differ" in p for p in problems), problems
    assert any(p.startswith("c/policy.c:") for p in problems), problems
    assert any(p.startswith("export.json: actor_fingerprint") for p in problems), problems
    # the reference actions alone show the change, far beyond the tolerance
    moved = np.abs(read_test_vectors(changed / "test_vectors.csv").expected
                   - read_test_vectors(fresh / "test_vectors.csv").expected).max()
    assert moved > 10 * (COMPUTED_ATOL + COMPUTED_RTOL * 1.0)   # |reference action| <= 1; measured 8e-8


def test_staleness_check_compares_observations_and_c_sources_exactly(regenerated, tmp_path):
    _, fresh = regenerated("3dof")
    changed = tmp_path / "changed"
    shutil.copytree(fresh, changed)
    vectors = read_test_vectors(changed / "test_vectors.csv")
    obs = vectors.obs.copy()
    obs[7, 2] = np.nextafter(obs[7, 2], np.float32(np.inf))   # one float32 ulp
    write_test_vectors(TestVectors(vectors.kinds, obs, vectors.expected, vectors.status), changed / "test_vectors.csv")
    source = changed / "c" / "policy.c"
    source.write_text(source.read_text().replace("acc += k_w0[i][j] * x[j];", "acc += x[j] * k_w0[i][j];"))
    problems = compare_exports(changed, fresh)
    assert any("1 observations differ" in p and "row 8, obs_2" in p for p in problems), problems
    assert any(p.startswith("c/policy.c: differs") for p in problems), problems


def test_no_written_file_records_an_absolute_path():
    offenders, scanned = [], 0
    for path in sorted(p for folder in WRITTEN for p in folder.rglob("*")):
        if path.is_file() and path.suffix.lower() in TEXT_SUFFIXES:
            scanned += 1
            name, text = path.relative_to(ROOT), path.read_text(errors="replace")
            offenders += [f"{name}: {m.group(0)!r}" for m in ABSOLUTE_PATH.finditer(text)]
            if path.suffix == ".json":
                offenders += [f"{name}: {v!r}" for v in json_strings(json.loads(text))
                              if os.path.isabs(v) or PureWindowsPath(v).drive]
    assert scanned > 20   # the manifests, vectors, sources, cards and records are all there
    assert not offenders, offenders


def test_the_absolute_path_scan_finds_what_it_looks_for():
    found = [m.group(0) for m in ABSOLUTE_PATH.finditer(
        '"/work/main/models/x.csv" see https://example.org/tmp/page, ../tmp/y, C:\\Users\\me\\f.json /tmp/z')]
    assert found == ['/work/main/models/x.csv"', "C:\\Users\\me\\f.json", "/tmp/z"]



def test_no_model_folder_keeps_a_second_copy_of_the_test_vectors():
    for mode in SHIPPED_MODELS:
        folder = shipped_model(mode)
        assert folder is not None
        assert not (folder / "test_vectors.csv").exists(), "the test vectors live in export/ only"
        assert (folder / "export" / "test_vectors.csv").is_file()


def test_exported_c_policy_flies_like_the_torch_policy():
    from agents.export.c_policy import CPolicy
    from agents.model_folder import SB3Policy
    from lunar_env.evaluation.stats import wilson_interval
    from lunar_env.evaluation.suite import fly_scenario

    folder = shipped_model("3dof")
    assert folder is not None
    episodes = 200
    torch_run = fly_scenario(SB3Policy(folder), "nominal", episodes, seed=0, mode="3dof", progress=False)
    c_run = fly_scenario(CPolicy(folder / "export" / "c"), "nominal", episodes, seed=0, mode="3dof", progress=False)
    torch_landed = int(torch_run.metrics["is_success"].sum())
    c_landed = int(c_run.metrics["is_success"].sum())
    # Torch's float32 kernels differ between CPUs in the last bits, which can change single chaotic
    # flights; both checks are statistical, with margins far beyond what that changes.
    low, high = wilson_interval(torch_landed, episodes)
    assert low <= c_landed / episodes <= high
    # float32 C against the float32 torch network: the same outcome in nearly every episode
    assert (torch_run.metrics["outcome"] == c_run.metrics["outcome"]).mean() >= 0.95


# ------------------------------------------------------------------------- installed from a wheel
WHEEL_SOURCES = ("pyproject.toml", "README.md", "lunar_env", "agents", "training", "models")
WHEEL_DATA_MODELS = "share/lunar-env/models"  # under <name>-<version>.data/data/, i.e. under the install prefix


def test_shipped_model_is_found_in_an_installed_data_folder_after_the_checkout(tmp_path):
    """The lookup tries the checkout's models/ first, then an installed copy; None when neither has it."""
    from agents.shipped import INSTALLED_MODELS_DIR, model_dirs

    installed = tmp_path / "prefix" / INSTALLED_MODELS_DIR
    shutil.copytree(shipped_model("3dof"), installed / SHIPPED_MODELS["3dof"])
    empty_checkout = tmp_path / "checkout" / "models"
    empty_checkout.mkdir(parents=True)
    assert shipped_model("3dof", search=[empty_checkout, installed]) == installed / SHIPPED_MODELS["3dof"]
    assert shipped_model("6dof", search=[empty_checkout, installed]) is None
    assert shipped_model("3dof", search=[MODELS, installed]) == MODELS / SHIPPED_MODELS["3dof"]  # checkout first
    dirs = model_dirs()
    assert dirs[0] == MODELS and any(d.parts[-3:] == INSTALLED_MODELS_DIR.parts for d in dirs[1:])
    with pytest.raises(ValueError, match="mode must be one of"):
        shipped_model("2dof")


def test_the_wheel_carries_the_shipped_models_where_the_lookup_finds_them(tmp_path):
    """Build a wheel from a clean copy of the sources (a few seconds) and check that every file of
    models/ is in it as data under share/lunar-env/models, byte for byte, and found there."""
    import subprocess
    import sys
    import zipfile

    pytest.importorskip("setuptools", minversion="70.1")  # builds wheels by itself from 70.1 (dev extra)
    source = tmp_path / "src"  # a copy, so that no build/ or egg-info of the checkout gets in
    source.mkdir()
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info", "build")
    for name in WHEEL_SOURCES:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, source / name, ignore=ignore)
        else:
            shutil.copy2(ROOT / name, source / name)
    out = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                          "-w", str(tmp_path / "wheel"), str(source)], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-2000:]
    (wheel,) = (tmp_path / "wheel").glob("lunar_env-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        (data_dir,) = {n.split("/")[0] for n in names if n.split("/")[0].endswith(".data")}
        shipped = sorted(p.relative_to(MODELS).as_posix() for p in MODELS.rglob("*") if p.is_file())
        assert shipped, "models/ is empty"
        missing = [f for f in shipped if f"{data_dir}/data/{WHEEL_DATA_MODELS}/{f}" not in names]
        assert not missing, f"the wheel lacks these shipped model files: {missing}"
        for f in shipped:
            assert archive.read(f"{data_dir}/data/{WHEEL_DATA_MODELS}/{f}") == (MODELS / f).read_bytes(), f
        assert "lunar_env/evaluation/bench_schema.json" in names and "agents/shipped.py" in names
        entry_points = archive.read(next(n for n in names if n.endswith(".dist-info/entry_points.txt"))).decode()
        assert "lunar = training.commands.main:main" in entry_points
        archive.extractall(tmp_path / "unpacked", [n for n in names if n.startswith(f"{data_dir}/data/")])
    installed = tmp_path / "unpacked" / data_dir / "data" / WHEEL_DATA_MODELS  # what <prefix>/share/... receives
    for mode, name in SHIPPED_MODELS.items():
        assert shipped_model(mode, search=[tmp_path / "no_checkout", installed]) == installed / name
