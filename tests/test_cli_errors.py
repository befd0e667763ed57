"""The ``lunar`` commands: unwritable output paths refused before any work, errors in one line
with exit code 2, the env mode read from a model folder, metadata fields checked by name."""

import json
import os
import shutil
import stat
from pathlib import Path

import pytest

import lunar_env.render.episode as render_episode_module
from agents import bench_runner
from agents.model_folder import METADATA_FILE, ModelFolderError, check_metadata_fields
from agents.shipped import shipped_model
from lunar_env.output_paths import OutputPathError, check_output_dir, check_output_file
from training.commands.main import DEBUG_ENV, main

IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


def _one_line_error(capsys, command: str) -> str:
    """The command's stderr, asserted to be exactly one error line naming the command."""
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"lunar {command}: error: "), err
    return err


def _no_flight(monkeypatch):
    """Make flying an episode fail the test: the refusals must come before any flight."""
    def refuse(*args, **kwargs):
        pytest.fail("an episode was flown before the output path was checked")

    monkeypatch.setattr(bench_runner, "run_bench", refuse)
    monkeypatch.setattr(render_episode_module, "render_episode", refuse)


def _read_only_dir(tmp_path: Path) -> Path:
    """A folder this process cannot write; as root a 0555 folder is still writable, so root gets
    /sys (read-only to root too), or the test is skipped."""
    if not IS_ROOT:
        folder = tmp_path / "read_only"
        folder.mkdir()
        folder.chmod(stat.S_IRUSR | stat.S_IXUSR)
        return folder
    folder = Path("/sys")
    try:
        check_output_dir(folder)
    except OutputPathError:
        return folder
    pytest.skip("running as root and /sys is writable: no read-only folder to test with")


# ----------------------------------------------------------------------------- lunar bench
def test_bench_out_that_is_a_file_fails_before_any_episode(tmp_path, monkeypatch, capsys):
    _no_flight(monkeypatch)
    target = tmp_path / "results.txt"
    target.write_text("keep me\n")
    assert main(["bench", "--policy", "zemzev", "--episodes", "2", "--out", str(target)]) == 2
    err = _one_line_error(capsys, "bench")
    assert str(target) in err and "is a file, not a folder" in err
    assert target.read_text() == "keep me\n"


def test_bench_out_in_a_read_only_folder_fails_before_any_episode(tmp_path, monkeypatch, capsys):
    _no_flight(monkeypatch)
    folder = _read_only_dir(tmp_path)
    out = folder / "bench_out"
    try:
        assert main(["bench", "--policy", "zemzev", "--episodes", "2", "--out", str(out)]) == 2
    finally:
        if folder.is_relative_to(tmp_path):
            folder.chmod(stat.S_IRWXU)
    err = _one_line_error(capsys, "bench")
    assert str(out) in err and "cannot write there" in err


def test_bench_out_under_a_file_fails_before_any_episode(tmp_path, monkeypatch, capsys):
    _no_flight(monkeypatch)
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    out = blocker / "sub" / "bench_out"
    assert main(["bench", "--policy", "zemzev", "--episodes", "2", "--out", str(out)]) == 2
    err = _one_line_error(capsys, "bench")
    assert str(out) in err and f"cannot be created: {blocker} is a file" in err


def test_the_other_commands_check_their_outputs_before_the_work(tmp_path, monkeypatch, capsys):
    import training.train
    from lunar_env import throughput

    _no_flight(monkeypatch)
    monkeypatch.setattr(throughput, "run", lambda *a, **k: pytest.fail("measured before checking --json"))
    monkeypatch.setattr(training.train, "train", lambda *a, **k: pytest.fail("trained before checking --run-dir"))
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    a_folder = tmp_path / "a_folder.mp4"
    a_folder.mkdir()
    config = Path(__file__).resolve().parents[1] / "training" / "configs" / "ppo_3dof.yaml"
    cases = [
        ("demo", ["demo", "--policy", "zemzev", "--episodes", "2", "--out", str(blocker)], "is a file, not a folder"),
        ("render", ["render", "--policy", "zemzev", "--out", str(a_folder)], "is a folder; give a file name"),
        ("render", ["render", "--policy", "zemzev", "--out", str(blocker / "x.gif")], f"{blocker} is a file"),
        ("throughput", ["throughput", "--json", str(a_folder)], "is a folder; give a file name"),
        ("train", ["train", "--config", str(config), "--run-dir", str(blocker)], "is a file, not a folder"),
        ("export", ["export", str(tmp_path), "--out", str(blocker)], "is a file, not a folder"),
    ]
    for command, argv, reason in cases:
        assert main(argv) == 2, argv
        err = _one_line_error(capsys, command)
        assert reason in err, (argv, err)


def test_output_checks_create_nothing(tmp_path):
    out = tmp_path / "new" / "deeper"
    assert check_output_dir(out) == out
    assert check_output_file(tmp_path / "new" / "video.mp4").name == "video.mp4"
    assert list(tmp_path.iterdir()) == []


# ----------------------------------------------------------------------------- any error, one line
def test_an_os_error_escaping_a_command_is_one_line_with_exit_code_2(monkeypatch, capsys):
    import training.commands.envs as envs_command

    def broken(args):
        raise PermissionError(13, "Permission denied", "/somewhere/bench.json")

    monkeypatch.setattr(envs_command, "cmd_envs", broken)
    assert main(["envs"]) == 2
    err = _one_line_error(capsys, "envs")
    assert err == "lunar envs: error: /somewhere/bench.json: Permission denied\n"
    monkeypatch.setenv(DEBUG_ENV, "1")  # the traceback stays available
    with pytest.raises(PermissionError):
        main(["envs"])


def test_a_multi_line_value_error_is_printed_in_one_line(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: [unclosed\nseed: 1\n")
    assert main(["train", "--config", str(bad)]) == 2
    err = _one_line_error(capsys, "train")
    assert "is not valid YAML" in err and str(bad) in err


# ----------------------------------------------------------------------------- modes and metadata
def _metadata_folder(tmp_path: Path, **fields) -> Path:
    """A folder with only metadata.json (the shipped model's of ``fields["mode"]``, default 3dof,
    changed by ``fields``): enough for the mode and the field checks, which come first."""
    folder = tmp_path / "model"
    folder.mkdir()
    shipped = json.loads((shipped_model(fields.get("mode", "3dof")) / METADATA_FILE).read_text())
    meta = {**shipped, **fields}
    (folder / METADATA_FILE).write_text(json.dumps(meta))
    return folder


class Stop(Exception):
    """Raised by a stand-in for render_episode once it has seen its arguments."""


def test_render_reads_the_mode_from_a_3dof_model_folder(tmp_path, monkeypatch):
    seen = {}

    def record(policy, **kwargs):
        seen.update(kwargs)
        raise Stop

    monkeypatch.setattr(render_episode_module, "render_episode", record)
    for policy, mode_option, expected in ((str(_metadata_folder(tmp_path)), [], "3dof"),
                                          ("zemzev", [], "6dof"),  # the built-in laws keep render's default
                                          ("zemzev", ["--mode", "3dof"], "3dof")):
        seen.clear()
        with pytest.raises(Stop):
            main(["render", "--policy", policy, *mode_option, "--out", str(tmp_path / "x.gif")])
        assert seen["mode"] == expected, policy


def test_demo_and_bench_fly_a_model_folder_in_its_own_mode(tmp_path, monkeypatch):
    seen = []

    def record(policy, scenarios, episodes, seed, mode, *args, **kwargs):
        seen.append(mode)
        raise Stop

    monkeypatch.setattr(bench_runner, "run_bench", record)
    folder = _metadata_folder(tmp_path, mode="6dof", act_dim=7, env_id="lunar_env/SouthPole-v0")
    for command in ("demo", "bench"):
        with pytest.raises(Stop):
            main([command, "--policy", str(folder), "--out", str(tmp_path / "out")])
    assert seen == ["6dof", "6dof"]


@pytest.mark.parametrize("command", ["render", "bench", "demo"])
def test_a_mode_that_contradicts_the_model_is_refused(tmp_path, monkeypatch, capsys, command):
    _no_flight(monkeypatch)
    folder = _metadata_folder(tmp_path)
    argv = [command, "--policy", str(folder), "--mode", "6dof", "--out", str(tmp_path / "out.gif")]
    assert main(argv) == 2
    err = _one_line_error(capsys, command)
    assert "--mode 6dof contradicts" in err and "a 3dof model" in err and "--mode 3dof" in err


def test_lunar_render_flies_the_shipped_3dof_model_without_mode(tmp_path, capsys):
    folder = shipped_model("3dof")
    if folder is None:
        pytest.skip("the shipped 3-DOF model is not in models/")
    pytest.importorskip("stable_baselines3", reason="flying a trained model needs the train extra")
    pytest.importorskip("imageio", reason="writing a video needs the render extra")
    out = tmp_path / "ppo.gif"
    assert main(["render", "--policy", str(folder), "--scenario", "hover_start", "--out", str(out),
                 "--size", "480x320", "--max-frames", "2"]) == 0
    assert out.is_file() and out.stat().st_size > 0
    assert "wrote" in capsys.readouterr().out


@pytest.mark.parametrize("field, value", [("obs_dim", "abc"), ("act_dim", 2.5), ("obs_dim", True),
                                          ("act_dim", 0), ("mode", "2dof")])
def test_metadata_with_a_bad_field_names_the_file_and_the_field(tmp_path, field, value):
    path = tmp_path / METADATA_FILE
    with pytest.raises(ModelFolderError) as caught:
        check_metadata_fields({"obs_dim": 24, "act_dim": 3, "mode": "3dof", field: value}, path)
    assert str(path) in str(caught.value) and f"field {field}" in str(caught.value)
    assert check_metadata_fields({"obs_dim": 24, "act_dim": 3, "mode": "3dof"}, path)["obs_dim"] == 24


@pytest.mark.parametrize("command", ["bench", "render"])
def test_a_model_folder_with_obs_dim_abc_is_refused_naming_file_and_field(tmp_path, monkeypatch, capsys, command):
    _no_flight(monkeypatch)
    folder = _metadata_folder(tmp_path, obs_dim="abc")
    assert main([command, "--policy", str(folder), "--out", str(tmp_path / "out.gif")]) == 2
    err = _one_line_error(capsys, command)
    assert str(folder / METADATA_FILE) in err and "obs_dim" in err and "'abc'" in err


def test_a_copied_model_folder_with_obs_dim_abc_is_refused_by_bench(tmp_path, monkeypatch, capsys):
    folder = shipped_model("3dof")
    if folder is None:
        pytest.skip("the shipped 3-DOF model is not in models/")
    _no_flight(monkeypatch)
    copy = tmp_path / "copy"
    shutil.copytree(folder, copy)
    meta = json.loads((copy / METADATA_FILE).read_text())
    (copy / METADATA_FILE).write_text(json.dumps({**meta, "obs_dim": "abc"}))
    assert main(["bench", "--policy", str(copy), "--episodes", "2", "--out", str(tmp_path / "out")]) == 2
    err = _one_line_error(capsys, "bench")
    assert f"{copy / METADATA_FILE}: field obs_dim must be a positive integer, got 'abc'" in err


def test_bench_without_a_report_package_fails_before_any_episode(tmp_path, monkeypatch, capsys):
    import importlib.util

    _no_flight(monkeypatch)
    real = importlib.util.find_spec
    for missing, hint in (("jsonschema", "needs jsonschema"), ("matplotlib", "--no-plots")):
        def find_spec(name, *args, _missing=missing):
            return None if name == _missing else real(name, *args)

        monkeypatch.setattr(importlib.util, "find_spec", find_spec)
        assert main(["bench", "--policy", "zemzev", "--episodes", "2", "--out", str(tmp_path / "out")]) == 2
        assert hint in _one_line_error(capsys, "bench")
    assert not (tmp_path / "out").exists()


def test_sweep_out_that_is_a_file_fails_before_any_trial(tmp_path, monkeypatch, capsys):
    pytest.importorskip("ray", reason="lunar sweep needs the ray extra")
    import training.sweep

    monkeypatch.setattr(training.sweep, "run_sweep", lambda *a, **k: pytest.fail("a trial ran before --out's check"))
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    sweep_file = Path(__file__).resolve().parents[1] / "training" / "sweeps" / "ppo_3dof.yaml"
    assert main(["sweep", "--config", str(sweep_file), "--out", str(blocker)]) == 2
    assert "is a file, not a folder" in _one_line_error(capsys, "sweep")
