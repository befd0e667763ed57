"""The model folder format: exact actions, format 1 conversion, atomic replacement (killed at every
step) and damage of every kind refused with a message naming the file."""

import io
import json
import os
import re
import shutil
import stat
import time

import gymnasium as gym
import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from stable_baselines3 import PPO

import lunar_env.atomic as atomic
from agents.export.actor import extract_actor, load_actor
from agents.model_folder import (
    HASHED_FILES,
    METADATA_FILE,
    ModelFolderError,
    SB3Policy,
    convert_v1_folder,
    load_model_folder,
    save_model_folder,
)
from agents.policy_network import MAX_PREACTIVATION
from agents.registry import policy_mode
from agents.sb3_zip import WARNING, read_sb3_zip

OBS_DIM, ACT_DIM = 6, 3
LOW, HIGH = np.array([-1.0, -2.0, 0.0], np.float32), np.array([1.0, 0.5, 3.0], np.float32)
META = {"env_id": "test/Box-v0", "mode": "3dof", "obs_dim": OBS_DIM, "act_dim": ACT_DIM, "trained_steps": 7}
KILL_TIMEOUT_S = 60.0


class BoxEnv(gym.Env):
    """Spaces only: the models here are never trained."""

    observation_space = gym.spaces.Box(-np.inf, np.inf, (OBS_DIM,), np.float32)
    action_space = gym.spaces.Box(LOW, HIGH, dtype=np.float32)

    def reset(self, *, seed=None, options=None):
        return np.zeros(OBS_DIM, np.float32), {}

    def step(self, action):
        return np.zeros(OBS_DIM, np.float32), 0.0, True, False, {}


def tiny_model(seed=0, activation=torch.nn.Tanh, hidden=(8, 8)):
    model = PPO("MlpPolicy", BoxEnv(), seed=seed, device="cpu", n_steps=8, batch_size=8,
                policy_kwargs={"net_arch": {"pi": list(hidden), "vf": [5]}, "activation_fn": activation})
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():  # actions that span the bounds and often clip (SB3 starts the action layer near 0)
        weight = model.policy.action_net.weight
        weight.copy_(torch.randn(weight.shape, generator=generator) * 3.0)
    return model


def stats(seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(0.0, 10.0, OBS_DIM), rng.uniform(0.1, 100.0, OBS_DIM)


def save(path, model, seed=0):
    mean, var = stats(seed)
    return save_model_folder(path, model, mean, var, 1e-8, 10.0, META, "test: true\n")


def observations(n=64, seed=1):
    return np.random.default_rng(seed).normal(0.0, 30.0, (n, OBS_DIM)).astype(np.float32)


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return save(tmp_path_factory.mktemp("folder") / "policy", tiny_model())


# ----------------------------------------------------------------------------- exact actions
@pytest.mark.parametrize("activation", [torch.nn.Tanh, torch.nn.ReLU])
def test_folder_acts_exactly_as_the_sb3_model_it_was_saved_from(tmp_path, activation):
    model = tiny_model(seed=3, activation=activation)
    model.save(tmp_path / "model.zip")  # the old path: PPO.save / PPO.load / PPO.predict
    old = PPO.load(tmp_path / "model.zip", device="cpu")
    loaded = load_model_folder(save(tmp_path / "policy", model))
    z = loaded.normalize(observations())
    expected, _ = old.predict(z, deterministic=True)
    actions, _ = loaded.policy.predict(z, deterministic=True)
    np.testing.assert_array_equal(actions, expected)  # same torch float32 ops: bit-identical
    assert np.any(actions == HIGH) and np.any(actions == LOW)  # the action bounds round-tripped and clip
    np.testing.assert_array_equal(SB3Policy(loaded).act(observations()), np.clip(expected, -1, 1))
    for old_param, new_param in zip(old.policy.state_dict().values(), loaded.policy.state_dict().values()):
        assert torch.equal(old_param, new_param)  # critic and log_std too
    assert loaded.model is loaded.policy  # callers of folder.model keep working
    assert loaded.metadata["network"]["activation"] == {torch.nn.Tanh: "tanh", torch.nn.ReLU: "relu"}[activation]


def test_bare_sb3_zip_is_read_weights_only_and_acts_as_ppo_load(tmp_path, capsys):
    model = tiny_model(seed=4, activation=torch.nn.ReLU, hidden=(7,))
    model.save(tmp_path / "model.zip")
    spec, state = read_sb3_zip(tmp_path / "model.zip")
    assert capsys.readouterr().err.strip() == WARNING
    assert (spec.pi, spec.vf, spec.activation) == ((7,), (5,), "relu")
    np.testing.assert_array_equal(spec.action_low, LOW)
    np.testing.assert_array_equal(spec.action_high, HIGH)
    from agents.policy_network import build_policy

    policy = build_policy(spec, state, "model.zip")
    obs = observations()
    np.testing.assert_array_equal(policy.predict(obs, deterministic=True)[0],
                                  PPO.load(tmp_path / "model.zip", device="cpu").predict(obs, deterministic=True)[0])


# ----------------------------------------------------------------------------- format 1
def write_v1_folder(path, model, seed=0):
    """A folder as format 1 wrote it: model.zip (PPO.save), normalization.npz, metadata.json."""
    path.mkdir(parents=True)
    model.save(path / "model.zip")
    mean, var = stats(seed)
    np.savez(path / "normalization.npz", obs_mean=mean, obs_var=var, epsilon=np.float64(1e-8),
             clip_obs=np.float64(10.0))
    (path / METADATA_FILE).write_text(json.dumps({"format": "lunar-env-policy", "format_version": 1, **META}))
    (path / "config.yaml").write_text("test: true\n")
    (path / "export").mkdir()
    (path / "export" / "export.json").write_text("{}")


def test_format_1_is_refused_with_how_to_convert_and_converts_exactly(tmp_path):
    model = tiny_model(seed=5)
    path = tmp_path / "v1"
    write_v1_folder(path, model)
    with pytest.raises(ModelFolderError, match="format_version 1.*convert_v1_folder"):
        load_model_folder(path)
    mean, var = stats()
    before = extract_actor(model, mean, var, 1e-8, 10.0).fingerprint()
    convert_v1_folder(path)
    assert not (path / "model.zip").exists() and (path / "export" / "export.json").read_text() == "{}"
    assert load_actor(path).fingerprint() == before
    loaded = load_model_folder(path)
    assert loaded.metadata["trained_steps"] == 7 and loaded.metadata["format_version"] == 2
    obs = observations()
    np.testing.assert_array_equal(
        loaded.policy.predict(loaded.normalize(obs), deterministic=True)[0],
        model.predict(loaded.normalize(obs), deterministic=True)[0],
    )
    with pytest.raises(ModelFolderError, match="nothing to convert"):
        convert_v1_folder(path)


# ----------------------------------------------------------------------------- atomic replacement
def test_folder_is_replaced_whole_keeping_its_other_files(tmp_path):
    path = save(tmp_path / "policy", tiny_model(seed=0))
    (path / "export").mkdir()
    (path / "export" / "policy.onnx").write_bytes(b"onnx")
    (path / "MODEL_CARD.md").write_text("card")
    (tmp_path / ".policy.abcd1234").mkdir()  # a dead writer's staging folder
    (tmp_path / ".policy.abcd1234" / "policy.npz").write_bytes(b"half")
    (tmp_path / ".policy.x.abcd1234").mkdir()  # another target's ("policy.x") staging: not ours to remove
    save(path, tiny_model(seed=1), seed=1)
    assert (path / "export" / "policy.onnx").read_bytes() == b"onnx" and (path / "MODEL_CARD.md").read_text() == "card"
    assert sorted(p.name for p in tmp_path.iterdir()) == [".policy.x.abcd1234", "policy"]
    assert stat.S_IMODE(path.stat().st_mode) == atomic.FOLDER_MODE
    for name in (*HASHED_FILES, METADATA_FILE):
        assert stat.S_IMODE((path / name).stat().st_mode) == atomic.FILE_MODE
    np.testing.assert_array_equal(load_model_folder(path).obs_mean, stats(1)[0])


def test_a_crash_between_the_renames_leaves_the_previous_folder_readable(tmp_path, folder):
    shutil.copytree(folder, tmp_path / "policy.old")  # what replace_dir leaves after its first rename
    loaded = load_model_folder(tmp_path / "policy")
    assert loaded.path == tmp_path / "policy.old"
    assert policy_mode(str(tmp_path / "policy")) == "3dof"  # the commands resolve it too
    save(tmp_path / "policy", tiny_model(seed=2), seed=2)  # the next save completes the swap
    assert sorted(p.name for p in tmp_path.iterdir()) == ["policy"]


def _die_at(k: int, counter: list) -> None:
    """Patch the primitives of a folder write so that the k-th call kills the process (os._exit),
    half-way through for a file write."""
    real_open = open

    def step():
        counter[0] += 1
        return counter[0] == k

    def wrap(fn):
        def run(*args, **kwargs):
            if step():
                os._exit(17)
            return fn(*args, **kwargs)

        return run

    class DyingFile(io.FileIO):
        def write(self, data):
            if step():
                super().write(bytes(data)[: len(data) // 2])
                os._exit(17)
            return super().write(data)

    def dying_open(file, mode="r", *args, **kwargs):
        return DyingFile(file, "wb") if mode == "wb" else real_open(file, mode, *args, **kwargs)

    import agents.model_folder as model_folder

    for module, name in (
        (os, "replace"),
        (os, "chmod"),
        (shutil, "rmtree"),
        (shutil, "copy2"),
        (shutil, "copytree"),
        (atomic.tempfile, "mkdtemp"),
    ):
        setattr(module, name, wrap(getattr(module, name)))
    model_folder.open = dying_open


def _save_in_child(path, model, k: int, report_fd: int | None = None) -> int:
    """Run the save in a forked child killed at its k-th step (k = 0: never); its exit status (0:
    completed). ``report_fd`` receives the number of steps of a completed save."""
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        try:
            counter = [0]
            _die_at(k, counter)
            save(path, model, seed=1)
            if report_fd is not None:
                os.write(report_fd, f"{counter[0]}\n".encode())
            os._exit(0)
        except BaseException:
            os._exit(99)
    deadline = time.monotonic() + KILL_TIMEOUT_S
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        time.sleep(0.01)
    os.kill(pid, 9)
    os.waitpid(pid, 0)
    pytest.fail(f"the save killed at step {k} did not finish in {KILL_TIMEOUT_S} s")


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_folder_write_killed_at_any_step_leaves_the_old_or_the_new_folder_whole(tmp_path):
    old_model, new_model = tiny_model(seed=10), tiny_model(seed=11)
    obs = observations()

    def actions(path):
        loaded = load_model_folder(path)
        return loaded.policy.predict(loaded.normalize(obs), deterministic=True)[0]

    reference = tmp_path / "reference"
    old_actions, new_actions = (
        actions(save(reference / "old", old_model)),
        actions(save(reference / "new", new_model, 1)),
    )
    assert not np.array_equal(old_actions, new_actions)

    def fresh_target():
        root = tmp_path / f"run{len(list(tmp_path.iterdir()))}"
        path = save(root / "best", old_model)
        (path / "export").mkdir()
        (path / "export" / "c.h").write_text("exported")
        (path / "MODEL_CARD.md").write_text("card")
        return path

    # Count the steps of a whole save (the child reports them through a pipe).
    read_end, write_end = os.pipe()
    assert _save_in_child(fresh_target(), new_model, 0, report_fd=write_end) == 0
    os.close(write_end)
    n_steps = int(os.read(read_end, 64).decode())
    os.close(read_end)
    assert n_steps >= 8  # mkdtemp, chmod, 2 copies, 4 file writes (+ chmods), 2 renames, 1 removal

    outcomes = []
    for k in range(1, n_steps + 1):
        path = fresh_target()
        assert _save_in_child(path, new_model, k) == 17, f"step {k} did not kill the save"
        got = actions(path)  # whole: every part loads and belongs with the others
        is_new = np.array_equal(got, new_actions)
        assert is_new or np.array_equal(got, old_actions), f"killed at step {k}: neither the old nor the new model"
        folder_read = load_model_folder(path).path
        assert (folder_read / "export" / "c.h").read_text() == "exported" and (folder_read / "MODEL_CARD.md").is_file()
        outcomes.append(is_new)
        save(path, new_model, seed=1)  # the next writer cleans up what the dead one left
        assert sorted(p.name for p in path.parent.iterdir()) == ["best"]
        np.testing.assert_array_equal(actions(path), new_actions)
    assert outcomes[0] is False and outcomes[-1] is True  # both outcomes occur, in order
    assert outcomes == sorted(outcomes)


# ----------------------------------------------------------------------------- damage, fuzzed
def _npz(arrays) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def _resign(path, name):
    meta = json.loads((path / METADATA_FILE).read_text())
    import hashlib

    meta["files"][name] = hashlib.sha256((path / name).read_bytes()).hexdigest()
    (path / METADATA_FILE).write_text(json.dumps(meta))


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.integers(1, 64) | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=8,
)


@st.composite
def damages(draw):
    """(file damaged, function damaging a copy of the folder, whether the damage must be refused)."""
    kind = draw(st.sampled_from(["bytes", "truncate", "delete", "array", "metadata"]))
    if kind in ("bytes", "truncate", "delete"):
        name = draw(st.sampled_from([*HASHED_FILES, METADATA_FILE]))
        if kind == "delete":
            return name, lambda p: (p / name).unlink(), True
        if kind == "truncate":
            fraction = draw(st.floats(0.0, 0.99))
            return (
                name,
                lambda p: (p / name).write_bytes((p / name).read_bytes()[: int(fraction * (p / name).stat().st_size)]),
                name != METADATA_FILE,
            )
        position, value = draw(st.floats(0.0, 0.999)), draw(st.integers(1, 255))

        def flip(p):
            data = bytearray((p / name).read_bytes())
            data[int(position * len(data))] ^= value
            (p / name).write_bytes(bytes(data))

        return name, flip, name != METADATA_FILE
    if kind == "array":  # a well-formed npz with one array changed, re-signed so that only its content is judged
        name = draw(st.sampled_from(["policy.npz", "normalization.npz"]))
        change = draw(st.sampled_from(["dtype", "shape", "drop", "extra", "nan", "huge", "object", "scalar"]))
        pick = draw(st.integers(0, 100))

        def damage(p):
            with np.load(p / name) as data:
                arrays = {k: data[k] for k in data.files}
            key = sorted(arrays)[pick % len(arrays)]
            a = arrays[key]
            if change == "dtype":
                arrays[key] = a.astype(np.float16 if a.dtype == np.float64 else np.float64)
            elif change == "shape":
                arrays[key] = np.append(a, a.flat[0] if a.size else 1.0).astype(a.dtype)
            elif change == "drop":
                del arrays[key]
            elif change == "extra":
                arrays["extra"] = np.zeros(2)
            elif change == "nan":
                arrays[key] = np.full_like(a, np.nan)
            elif change == "huge":
                arrays[key] = np.full_like(a, 1e35 if a.dtype == np.float32 else 1e300)
            elif change == "object":
                arrays[key] = np.array([{"payload": 1}], dtype=object)
            else:
                arrays[key] = np.array("text")
            (p / name).write_bytes(_npz(arrays))
            _resign(p, name)

        return name, damage, change != "huge"  # huge but finite numbers may be harmless (a large mean)
    # metadata: one field (top level or network) replaced by any JSON value, or removed
    section = draw(st.sampled_from(["top", "network"]))
    value = draw(json_values | st.just("__remove__"))

    def edit(p):
        meta = json.loads((p / METADATA_FILE).read_text())
        target = meta if section == "top" else meta["network"]
        key = draw_key(target)
        if value == "__remove__":
            del target[key]
        else:
            target[key] = value
        (p / METADATA_FILE).write_text(json.dumps(meta))

    keys = draw(st.integers(0, 100))

    def draw_key(target):
        return sorted(target)[keys % len(target)]

    return METADATA_FILE, edit, False


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(damage=damages())
def test_damaged_folder_is_refused_naming_the_file_or_acts_finitely(folder, tmp_path_factory, damage):
    name, apply, must_refuse = damage
    copy = tmp_path_factory.mktemp("damaged") / "policy"
    shutil.copytree(folder, copy)
    apply(copy)
    try:
        loaded = load_model_folder(copy)
    except ModelFolderError as err:
        assert isinstance(err, ValueError)
        assert name in str(err), f"the message does not name {name}: {err}"
        return
    assert not must_refuse, f"damage to {name} was not refused"
    actions = SB3Policy(loaded).act(observations(256, seed=2) * np.float32(1e3))
    assert np.all(np.isfinite(actions))


def test_weights_that_could_overflow_are_refused(tmp_path):
    model = tiny_model()
    with torch.no_grad():  # finite, but 6 inputs of up to clip_obs = 10 give 6e30 in the first layer
        model.policy.mlp_extractor.policy_net[0].weight.fill_(1e29)
    path = save(tmp_path / "policy", model)
    with pytest.raises(
        ModelFolderError,
        match=r"policy.npz: mlp_extractor.policy_net.0 can reach 6e\+30.*" + re.escape(f"{MAX_PREACTIVATION:.0e}"),
    ):
        load_model_folder(path)


class ParamExtractor(torch.nn.Module):
    """A features extractor with weights: its layers are not an MLP ActorCriticPolicy's."""

    def __init__(self, observation_space):
        super().__init__()
        self.features_dim = 4
        self.linear = torch.nn.Linear(OBS_DIM, 4)

    def forward(self, obs):
        return self.linear(obs)


@pytest.mark.parametrize(
    "kwargs, words",
    [
        ({"policy_kwargs": {"activation_fn": torch.nn.ELU}}, ["activation", "ELU"]),
        ({"policy_kwargs": {"features_extractor_class": ParamExtractor}}, ["features extractor", "ParamExtractor"]),
        ({"use_sde": True}, ["gSDE"]),
    ],
)
def test_bare_zip_that_is_not_a_plain_mlp_policy_is_refused(tmp_path, kwargs, words):
    PPO("MlpPolicy", BoxEnv(), device="cpu", n_steps=8, batch_size=8, **kwargs).save(tmp_path / "model.zip")
    with pytest.raises(ModelFolderError) as info:
        read_sb3_zip(tmp_path / "model.zip", warn=False)
    for word in (str(tmp_path / "model.zip"), *words):
        assert word in str(info.value)


def test_bare_zip_of_a_recurrent_policy_is_refused(tmp_path):
    import zipfile

    tiny_model().save(tmp_path / "model.zip")
    with zipfile.ZipFile(tmp_path / "model.zip") as archive:
        entries = {name: archive.read(name) for name in archive.namelist()}
    data = json.loads(entries["data"])
    data["policy_class"].update(
        {
            "__module__": "sb3_contrib.common.recurrent.policies",
            "__init__": "<function RecurrentActorCriticPolicy.__init__ at 0x0>",
        }
    )
    entries["data"] = json.dumps(data).encode()
    with zipfile.ZipFile(tmp_path / "recurrent.zip", "w") as archive:
        for name, content in entries.items():
            archive.writestr(name, content)
    with pytest.raises(ModelFolderError, match="RecurrentActorCriticPolicy .* is not supported"):
        read_sb3_zip(tmp_path / "recurrent.zip", warn=False)
