"""The shipped model folders: complete, and their checked-in exports up to date."""

import json
from pathlib import Path

import pytest

from agents.export.cli import export_model
from lunar_env.cli import SHIPPED_MODELS, shipped_model

MODELS = Path(__file__).resolve().parents[1] / "models"


@pytest.mark.parametrize("mode", sorted(SHIPPED_MODELS))
def test_shipped_model_folder_is_complete(mode):
    folder = shipped_model(mode)
    assert folder is not None, f"models/{SHIPPED_MODELS[mode]} is missing"
    for name in ("policy.npz", "normalization.npz", "metadata.json", "config.yaml", "MODEL_CARD.md",
                 "bench/nominal.json", "bench/faults.json", "export/export.json", "export/policy.onnx"):
        assert (folder / name).is_file(), f"{folder / name} is missing"


@pytest.mark.parametrize("mode", sorted(SHIPPED_MODELS))
def test_checked_in_exports_are_not_stale(mode, tmp_path):
    folder = shipped_model(mode)
    assert folder is not None
    shipped = json.loads((folder / "export" / "export.json").read_text())
    fresh = export_model(folder, tmp_path / "export", formats=("onnx", "c", "c-int8"), vectors_into_model=False)
    assert fresh.manifest["actor_fingerprint"] == shipped["actor_fingerprint"], (
        f"{folder}/export was generated from other weights: run lunar export {folder} --to onnx,c,c-int8")
    for name in shipped["files"]:
        if name.endswith(".onnx"):
            continue  # protobuf serialisation details may vary between onnx versions; parity is tested elsewhere
        checked_in = (folder / "export" / name).read_bytes()
        assert checked_in == (tmp_path / "export" / name).read_bytes(), (
            f"{folder / 'export' / name} is stale: regenerate it with lunar export {folder} --to onnx,c,c-int8")


def test_exported_c_policy_flies_like_the_torch_policy():
    from agents.export.c_policy import CPolicy
    from agents.model_folder import SB3Policy
    from lunar_env.benchmark.flight import wilson_interval
    from lunar_env.benchmark.suite import fly_scenario

    folder = shipped_model("3dof")
    assert folder is not None
    episodes = 200
    torch_run = fly_scenario(SB3Policy(folder), "nominal", episodes, seed=0, mode="3dof", progress=False)
    c_run = fly_scenario(CPolicy(folder / "export" / "c"), "nominal", episodes, seed=0, mode="3dof", progress=False)
    torch_landed = int(torch_run.metrics["is_success"].sum())
    c_landed = int(c_run.metrics["is_success"].sum())
    low, high = wilson_interval(torch_landed, episodes)
    assert low <= c_landed / episodes <= high
    # float32 C against the float32 torch network: the same outcome in nearly every episode
    assert (torch_run.metrics["outcome"] == c_run.metrics["outcome"]).mean() >= 0.95
