"""Training, warm-start and sweep configs: every field type- and range-checked, the key named.

No test here trains: configs are only built and validated.
"""

import copy
import dataclasses
import math
import tempfile
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from training.commands.main import main
from training.config import PPOConfig, TrainConfig, config_from_dict, load_config
from training.pretrain_config import PretrainConfig

REPO = Path(__file__).resolve().parents[1]
BASE_CONFIG = REPO / "training" / "configs" / "ppo_3dof.yaml"
BASE = yaml.safe_load(BASE_CONFIG.read_text())


def _with(path: str, value) -> dict:
    """The shipped 3-DOF config with the dotted key ``path`` set to ``value``."""
    data = copy.deepcopy(BASE)
    *parents, leaf = path.split(".")
    target = data
    for parent in parents:
        target = target[parent]
    target[leaf] = value
    return data


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(text)
    return path


def test_the_shipped_configs_are_valid():
    for path in sorted((REPO / "training" / "configs").glob("*.yaml")):
        config = load_config(path)
        assert isinstance(config, TrainConfig) and config.name == yaml.safe_load(path.read_text())["name"]


# ----------------------------------------------------------------------------- the reviewer's cases
@pytest.mark.parametrize("text", ["", "# only a comment\n", "null\n", "~\n", "{}\n", "\n\n"])
def test_an_empty_config_file_is_refused_not_run_with_defaults(tmp_path, text):
    with pytest.raises(ValueError, match="is empty: a config needs at least"):
        load_config(_write(tmp_path, text))


def test_lunar_train_with_an_empty_config_stops_before_training(tmp_path, monkeypatch, capsys):
    import training.train

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(training.train, "train", lambda *a, **k: pytest.fail("training started"))
    assert main(["train", "--config", str(_write(tmp_path, "# nothing\n"))]) == 2
    err = capsys.readouterr().err
    assert "is empty" in err and err.count("\n") == 1
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize("key, value, message", [
    ("clip_obs", "ten", "clip_obs must be a number > 0, got 'ten'"),
    ("ppo.ent_coef", "lots", "ppo.ent_coef must be a number >= 0, got 'lots'"),
    ("name", 5, "name must be a plain folder name"),
    ("ppo.net_arch", 64, "ppo.net_arch must be a non-empty list of positive integers"),
    ("pretrain", 5, "pretrain must be a mapping"),
    ("ppo.target_kl", -1, "ppo.target_kl must be null or a number > 0, got -1"),
    ("ppo.target_kl", 0, "ppo.target_kl must be null or a number > 0"),
    ("normalize_reward", "maybe", "normalize_reward must be true or false, got 'maybe'"),
    ("normalize_reward", 1, "normalize_reward must be true or false"),
    ("name", "../../x", "name must be a plain folder name"),
    ("name", "a/b", "name must be a plain folder name"),
    ("name", "a\\b", "name must be a plain folder name"),
    ("name", "..", "name must be a plain folder name"),
    ("name", "", "name must be a plain folder name"),
    ("name", " padded ", "name must be a plain folder name"),
    ("ppo", [1, 2], "ppo must be a mapping"),
    ("reward", "heavy", "reward must be a mapping"),
    ("reward.success_bonus", "big", "reward.success_bonus must be a number"),
    ("reward.success_bonus", -1.0, "success_bonus"),
    ("seed", True, "seed must be an integer"),
    ("seed", -1, "seed must be an integer"),
    ("num_envs", 2.5, "num_envs must be an integer >= 1, got 2.5"),
    ("num_envs", "256", "num_envs must be an integer"),
    ("total_timesteps", False, "total_timesteps must be an integer"),
    ("torch_threads", 0, "torch_threads must be an integer >= 1"),
    ("eval_episodes", None, "eval_episodes must be an integer"),
    ("stop_at_success_rate", 1.5, "stop_at_success_rate must be null or a number in (0, 1]"),
    ("stop_at_success_rate", "high", "stop_at_success_rate must be null or a number"),
    ("env_id", ["lunar_env/SouthPole-v0"], "env_id must be one of"),
    ("scenario", 3, "scenario must be a non-empty string"),
    ("scenario", "moon", "scenario must be one of"),
    ("observation_mode", "both", "observation_mode must be one of"),
    ("ppo.learning_rate", float("nan"), "ppo.learning_rate must be a number in (0, 1]"),
    ("ppo.learning_rate", True, "ppo.learning_rate must be a number"),
    ("ppo.final_learning_rate", "low", "ppo.final_learning_rate must be null or a number"),
    ("ppo.n_steps", True, "ppo.n_steps must be an integer >= 1"),
    ("ppo.n_epochs", 1.5, "ppo.n_epochs must be an integer >= 1"),
    ("ppo.gamma", 1.5, "ppo.gamma must be a number in (0, 1]"),
    ("ppo.vf_coef", -0.1, "ppo.vf_coef must be a number >= 0"),
    ("ppo.max_grad_norm", 0, "ppo.max_grad_norm must be a number > 0"),
    ("ppo.net_arch", [64, 0], "ppo.net_arch must be a non-empty list of positive integers"),
    ("ppo.net_arch", [64, True], "ppo.net_arch must be a non-empty list of positive integers"),
    ("ppo.net_arch", [], "ppo.net_arch must be a non-empty list of positive integers"),
    ("ppo.activation", "sigmoid", "ppo.activation must be one of"),
    ("ppo.log_std_init", float("inf"), "ppo.log_std_init must be a number"),
    ("pretrain.episodes", "many", "pretrain.episodes must be an integer >= 1"),
    ("pretrain.action_noise", "some", "pretrain.action_noise must be a number in [0, 1]"),
    ("pretrain.dagger_rounds", True, "pretrain.dagger_rounds must be an integer >= 0"),
    ("pretrain.expert", 7, "pretrain.expert must be a non-empty string"),
    ("pretrain.expert_options", [1], "pretrain.expert_options must be a mapping"),
    ("pretrain.focus_weight", 0, "pretrain.focus_weight must be a number > 0"),
])
def test_a_bad_field_is_refused_naming_its_key(key, value, message):
    with pytest.raises(ValueError) as caught:
        config_from_dict(_with(key, value))
    assert message in str(caught.value)


@pytest.mark.parametrize("data, key", [
    ({**BASE, "num_envz": 4}, "num_envz"),
    (_with("ppo.lerning_rate", 1e-4), "lerning_rate"),
    (_with("pretrain.epocs", 3), "epocs"),
    (_with("reward.succes_bonus", 1.0), "succes_bonus"),
    ({**BASE, 7: "x"}, "7"),
])
def test_unknown_keys_are_refused_by_name(data, key):
    with pytest.raises(ValueError, match=key):
        config_from_dict(data)


def test_good_values_are_accepted_and_integral_floats_become_ints():
    config = config_from_dict(_with("total_timesteps", 2.0e6))  # YAML reads 2.0e6 as a float
    assert config.total_timesteps == 2_000_000 and isinstance(config.total_timesteps, int)
    assert isinstance(config.to_dict()["total_timesteps"], int)
    assert config_from_dict(_with("ppo.target_kl", None)).ppo.target_kl is None
    assert config_from_dict(_with("ppo.target_kl", 0.02)).ppo.target_kl == 0.02  # exact: the value passes through
    assert config_from_dict(_with("normalize_reward", False)).normalize_reward is False
    assert config_from_dict(_with("pretrain", None)).pretrain is None
    assert config_from_dict(_with("ppo.net_arch", [32, 16])).ppo.net_arch == (32, 16)
    assert config_from_dict(_with("name", "run-2.b_c")).name == "run-2.b_c"


def test_the_dataclasses_check_their_fields_when_built_directly():
    with pytest.raises(ValueError, match="ppo.ent_coef must be a number >= 0"):
        PPOConfig(ent_coef="lots")
    with pytest.raises(ValueError, match="pretrain.batch_size must be an integer >= 1"):
        PretrainConfig(batch_size=True)
    with pytest.raises(ValueError, match="name must be a plain folder name"):
        TrainConfig(name="../escape")
    with pytest.raises(ValueError, match="ppo must be a mapping"):
        TrainConfig(ppo={"n_steps": 8})


def test_a_config_file_that_is_not_a_mapping_or_not_yaml_is_refused(tmp_path):
    for text, message in (("- 1\n- 2\n", "must hold a mapping"), ("5\n", "must hold a mapping"),
                          ("name: [unclosed\n", "is not valid YAML")):
        with pytest.raises(ValueError, match=message):
            load_config(_write(tmp_path, text))
    with pytest.raises(ValueError, match="is a folder"):
        load_config(tmp_path)
    (tmp_path / "binary.yaml").write_bytes(b"\xff\xfe\x00\x81")
    with pytest.raises(ValueError, match="binary.yaml"):
        load_config(tmp_path / "binary.yaml")


def test_a_command_line_override_into_a_non_mapping_section_names_it(tmp_path):
    path = _write(tmp_path, yaml.safe_dump({**BASE, "ppo": 3}))
    with pytest.raises(ValueError, match="ppo must be a mapping"):
        load_config(path, {"ppo.learning_rate": 1e-4})
    path = _write(tmp_path, yaml.safe_dump({**BASE, "ppo": None}))
    assert load_config(path, {"ppo.learning_rate": 1e-4}).ppo.learning_rate == 1e-4


# ----------------------------------------------------------------------------- sweep files
def _sweep(tmp_path: Path, **changes) -> Path:
    spec = {"name": "s", "base_config": str(BASE_CONFIG), "trials": 2,
            "budget": {"total_timesteps": 65536, "report_every_steps": 32768, "eval_episodes": 8},
            "scheduler": {"grace_period_steps": 32768, "reduction_factor": 2},
            "fixed": {"ppo.final_learning_rate": None},
            "search_space": {"ppo.learning_rate": {"loguniform": [1.0e-5, 1.0e-4]}}}
    spec.update(changes)
    path = tmp_path / "sweep.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


def test_sweep_files_are_type_checked_naming_the_key(tmp_path):
    from training.sweep_spec import load_sweep

    assert load_sweep(_sweep(tmp_path)).trials == 2
    for changes, message in (({"name": "../up"}, "sweep.name must be a plain folder name"),
                             ({"trials": True}, "sweep.trials must be an integer >= 1"),
                             ({"trials": 2.5}, "sweep.trials must be an integer >= 1"),
                             ({"seed": "zero"}, "sweep.seed must be an integer >= 0"),
                             ({"scheduler": {"grace_period_steps": 32768, "reduction_factor": "2"}},
                              "sweep.scheduler.reduction_factor must be a number"),
                             ({"search_space": {"ppo.learning_rate": {"uniform": ["a", 1]}}},
                              "search_space.ppo.learning_rate"),
                             ({"fixed": {3: 1}}, "sweep.fixed"),
                             ({"search_space": {"ppo.ent_coef": {"choice": ["lots"]}}}, "ppo.ent_coef")):
        with pytest.raises(ValueError, match=message.replace(".", r"\.").replace("(", r"\(")):
            load_sweep(_sweep(tmp_path, **changes))


_SPEC_WITHOUT_RAY = """
import json, sys
from pathlib import Path
sys.modules["ray"] = None  # every `import ray` now raises ImportError
from training.sweep_spec import load_sweep
shipped = load_sweep(Path(sys.argv[1]))
small = load_sweep(Path(sys.argv[2]))
try:
    load_sweep(Path(sys.argv[3]))
    refusal = None
except ValueError as err:
    refusal = str(err)
space = [[p.key, p.kind, list(p.values)] for p in shipped.search_space]
print(json.dumps({"shipped": [shipped.name, shipped.trials, space],
                  "small": [small.name, small.trials, small.trial_config({}).total_timesteps],
                  "refusal": refusal, "ray_imported": sys.modules["ray"] is not None}))
"""


def test_a_sweep_file_is_read_and_checked_without_ray(tmp_path):
    """training.sweep_spec parses and validates a sweep file with Ray blocked from importing."""
    import json
    import subprocess
    import sys

    shipped = REPO / "training" / "sweeps" / "ppo_3dof.yaml"
    small = _sweep(tmp_path)
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({**yaml.safe_load(small.read_text()), "trials": 0}))
    out = subprocess.run(
        [sys.executable, "-c", _SPEC_WITHOUT_RAY, str(shipped), str(small), str(bad)],
        capture_output=True,
        text=True,
        cwd=REPO,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    data = yaml.safe_load(shipped.read_text())
    expected_space = [[key, *next(iter(dist.items()))] for key, dist in data["search_space"].items()]
    assert result["shipped"] == [data["name"], data["trials"], expected_space]
    from training.sweep_spec import load_sweep

    spec = load_sweep(small)  # here Ray may be importable: the same spec either way
    assert result["small"] == ["s", 2, spec.trial_config({}).total_timesteps]
    assert result["refusal"] == "sweep.trials must be an integer >= 1, got 0"
    assert result["ray_imported"] is False


def test_an_empty_sweep_file_or_base_config_is_refused(tmp_path):
    from training.sweep_spec import load_sweep

    (tmp_path / "empty.yaml").write_text("# nothing yet\n")
    with pytest.raises(ValueError, match="sweep file .* is empty"):
        load_sweep(tmp_path / "empty.yaml")
    with pytest.raises(ValueError, match="sweep.base_config: .* is empty: a config needs at least"):
        load_sweep(_sweep(tmp_path, base_config=str(tmp_path / "empty.yaml")))


# ----------------------------------------------------------------------------- spec fields
def test_terrain_seed_of_the_wrong_type_names_the_field():
    import gymnasium as gym

    from lunar_env.simulator import LanderBatch

    for bad in ("x", 1.5, True, -1):
        with pytest.raises(ValueError, match="terrain_seed must be an integer"):
            LanderBatch("nominal_flat", 1, mode="3dof", terrain_seed=bad)
    with pytest.raises(ValueError, match="terrain_seed must be an integer"):
        gym.make("lunar_env/SouthPole3DoF-v0", scenario="nominal", terrain_seed="x")


def test_spec_fields_refuse_booleans_and_strings_for_numbers():
    from lunar_env.scenarios import get_scenario

    scenario = get_scenario("nominal")
    for owner, spec, name in (
        ("LanderSpec", scenario.lander, "dry_mass_kg"),
        ("Scenario", scenario, "time_limit_s"),
        ("SensorSpec", scenario.sensors, "altimeter_noise_m"),
    ):
        for bad in (True, "5"):
            with pytest.raises(ValueError, match=f"{owner}.{name} must be a number"):
                dataclasses.replace(spec, **{name: bad})


# ----------------------------------------------------------------------------- fuzzing
def _leaf_paths(data: dict, prefix: str = "") -> list[str]:
    paths = []
    for key, value in data.items():
        path = f"{prefix}{key}"
        paths.append(path)
        if isinstance(value, dict):
            paths += _leaf_paths(value, f"{path}.")
    return paths


PATHS = _leaf_paths(BASE)
SECTIONS = ["", "ppo.", "pretrain.", "reward."]
TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=8)
VALUES = st.one_of(
    TEXT,
    st.booleans(),
    st.none(),
    st.integers(-(10**12), 10**12),
    st.floats(allow_nan=True, allow_infinity=True),
    st.just(""),
    st.just(-1),
    st.just(0),
    st.lists(st.integers(-5, 300), max_size=3),
    st.dictionaries(TEXT, st.integers(), max_size=2),
)
MUTATIONS = st.one_of(
    st.tuples(st.just("replace"), st.sampled_from(PATHS), VALUES),
    st.tuples(st.just("negate"), st.sampled_from(PATHS), st.none()),
    st.tuples(st.just("drop"), st.sampled_from(PATHS), st.none()),
    st.tuples(st.just("add"), st.sampled_from(SECTIONS), st.one_of(TEXT, st.integers(0, 99))),
)


def _apply(data: dict, mutation) -> set[str]:
    """Apply one mutation in place; returns the key names a refusal may name."""
    kind, path, value = mutation
    if kind == "add":
        section, key = path.rstrip("."), value
        target = data if not section else data.get(section)
        if not isinstance(target, dict) or key in target:
            return set()
        target[key] = 1
        return {str(key)}
    *parents, leaf = path.split(".")
    target = data
    for parent in parents:
        target = target.get(parent) if isinstance(target, dict) else None
    if not isinstance(target, dict) or leaf not in target:
        return set()
    if kind == "drop":
        del target[leaf]
    elif kind == "negate":
        old = target[leaf]
        if isinstance(old, bool) or not isinstance(old, (int, float)):
            return set()
        target[leaf] = -old if old else -1
    else:
        target[leaf] = value
    return {leaf, *parents}


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(MUTATIONS, min_size=1, max_size=3))
def test_fuzzed_yaml_configs_give_a_config_or_a_value_error_naming_the_key(mutations):
    data = copy.deepcopy(BASE)
    named: set[str] = set()
    for mutation in mutations:
        named |= _apply(data, mutation)
    # the batch-size bound relates three keys: changing one is reported by the rule naming all three
    related = {"num_envs", "n_steps", "batch_size"}
    if named & related:
        named |= related
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "fuzzed.yaml"
        path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
        try:
            config = load_config(path)
        except ValueError as error:
            message = str(error)
            # names are shown as typed or, with unprintable characters, as their repr
            assert any(name in message or repr(name) in message for name in named), (message, mutations)
            assert "\n" not in message
            return
    assert isinstance(config, TrainConfig)
    for key in ("num_envs", "total_timesteps", "eval_episodes", "seed"):
        value = getattr(config, key)
        assert isinstance(value, int) and not isinstance(value, bool)
    assert isinstance(config.normalize_reward, bool)
    assert math.isfinite(config.clip_obs) and config.clip_obs > 0
    assert config.ppo.target_kl is None or config.ppo.target_kl > 0
    assert "/" not in config.name and config.name not in ("", ".", "..")
