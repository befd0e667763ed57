"""Rendering: frames, HUD values, terrain shading, video files, Gymnasium wrappers, the CLI."""

import os

os.environ["SDL_VIDEODRIVER"] = "dummy"  # headless: set before pygame is first imported
os.environ.setdefault("SDL_AUDIODRIVER", "dummy")

import argparse  # noqa: E402
import collections  # noqa: E402
import dataclasses  # noqa: E402
import functools  # noqa: E402
import math  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import types  # noqa: E402

import gymnasium as gym  # noqa: E402
import imageio.v2 as imageio_v2  # noqa: E402
import imageio.v3 as iio  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

import lunar_env  # noqa: E402, F401  (registers the environments)
from agents.descent_profile import DescentProfileController  # noqa: E402
from lunar_env.envs import SouthPoleEnv, SouthPoleVectorEnv  # noqa: E402
from lunar_env.faults import FAULT_NAMES, FaultOnset, FaultSpec, fault_bit  # noqa: E402
from lunar_env.physics import state as S  # noqa: E402
from lunar_env.render import (
    RenderDependencyError,  # noqa: E402
    palette,  # noqa: E402
    shading,  # noqa: E402
)
from lunar_env.render import map_geometry as G  # noqa: E402
from lunar_env.render import renderer as R  # noqa: E402
from lunar_env.render.episode import frame_indices, render_episode  # noqa: E402
from lunar_env.render.snapshot import SENSOR_FIELDS, hud_strings  # noqa: E402
from lunar_env.render.video import VideoWriter, write_video  # noqa: E402
from lunar_env.scenarios import get_scenario  # noqa: E402
from lunar_env.sensors import observation_slices  # noqa: E402
from lunar_env.simulator import LanderBatch  # noqa: E402
from lunar_env.terrain.heightmap import Heightmap, TerrainTile, plane_tile, stack_tiles, terrain_height  # noqa: E402
from training.commands.render import DEFAULT_SIZE_TEXT, add_render_command, parse_size  # noqa: E402

SMALL = (480, 320)  # px: the smallest frame, for fast video tests


# ----------------------------------------------------------------------------- helpers
@functools.cache
def crater_tile(sun_azimuth_deg=270.0, sun_elevation_deg=1.5):
    """A 40 m deep, 400 m wide bowl 150 m east of the site on a level plain, with the shadow its
    rim casts under the low sun (shadow: points whose ray toward the sun meets the surface), on
    a 2 m fine grid inside a 50 m coarse grid."""
    def bowl(x, y):
        r = np.hypot(x - 150.0, y)
        return np.where(r < 200.0, 40.0 * ((r / 200.0) ** 2 - 1.0), 0.0)

    def grid(half, cell):
        n = int(round(2 * half / cell)) + 1
        xs = -half + cell * np.arange(n)
        return Heightmap(bowl(xs[None, :], xs[:, None]), (-half, -half), cell), xs

    fine, fx = grid(500.0, 2.0)
    coarse, cx = grid(10_000.0, 50.0)
    az, rise = math.radians(sun_azimuth_deg), math.tan(math.radians(sun_elevation_deg))

    def mask(heightmap, xs):
        x, y = np.meshgrid(xs, xs)
        z = heightmap.heights
        shadow = np.zeros(z.shape, dtype=np.uint8)
        inside = z < 0.0  # the plain outside the bowl is level at 0: nothing rises above it
        px, py, pz = x[inside], y[inside], z[inside]
        hidden = np.zeros(px.shape, dtype=bool)
        for s in np.arange(1.0, 401.0, 1.0):  # march toward the sun, across the whole bowl
            hidden |= bowl(px + s * math.sin(az), py + s * math.cos(az)) > pz + s * rise
        shadow[inside] = hidden
        return shadow

    return TerrainTile(fine=fine, coarse=coarse, site_xyz=(0.0, 0.0, 0.0),
                       shadow_fine=mask(fine, fx), shadow_coarse=mask(coarse, cx))


def fly(env, steps, seed=0):
    """Reset and step an env with the descent-profile controller; returns the observations."""
    unwrapped = env.unwrapped
    policy = DescentProfileController(unwrapped.scenario.lander, mode=unwrapped.batch.mode)
    obs, _ = env.reset(seed=seed)
    seen = [obs]
    for _ in range(steps):
        obs, _, terminated, truncated, _ = env.step(policy.act(obs[None, :])[0])
        seen.append(obs)
        if terminated or truncated:
            break
    return np.array(seen)


def set_position(batch, i, position, velocity=(0.0, 0.0, 0.0)):
    batch.state.x[i, S.PX:S.PZ + 1] = position
    batch.state.x[i, S.VX:S.VZ + 1] = velocity


# ----------------------------------------------------------------------------- frames
def test_rgb_array_frames_have_the_frame_shape_and_show_something():
    env = SouthPoleEnv(scenario="hover_start", render_mode="rgb_array")
    env.reset(seed=0)
    frame = env.render()
    assert frame.shape == (640, 960, 3) and frame.dtype == np.uint8
    assert frame.std() > 20.0
    assert len(np.unique(frame.reshape(-1, 3), axis=0)) > 50
    env.close()


def test_frames_change_as_the_lander_moves():
    env = SouthPoleEnv(scenario="hover_start", render_mode="rgb_array")
    env.reset(seed=0)
    first = env.render()
    view = env.unwrapped._view
    start = view.renderer.map_view.to_screen(*env.unwrapped.batch.state.position[0, :2])
    fly(env, 60)  # fly() resets with the same seed: the same episode
    second = env.render()
    map_w = view.renderer.layout.map[2]
    changed = np.any(first[:, :map_w] != second[:, :map_w], axis=2).mean()
    assert changed > 0.05  # the map moved and zoomed, not just a label
    # The lander is drawn at the centre of the map, and its start is now elsewhere on screen.
    now = view.renderer.map_view.to_screen(*env.unwrapped.batch.state.position[0, :2])
    assert abs(float(now[0]) - map_w / 2) <= 1.0 and abs(float(now[1]) - 320) <= 1.0
    moved = view.renderer.map_view.to_screen(*view.track[0, :2])
    assert math.hypot(float(moved[0] - now[0]), float(moved[1] - now[1])) > 5.0
    assert math.hypot(float(start[0] - map_w / 2), float(start[1] - 320)) <= 1.0
    env.close()


def test_hud_strings_report_the_state():
    tile = plane_tile(0.05, -0.02)
    batch = LanderBatch("hover_start", 1, observation_mode="truth", terrain_tiles=[tile])
    renderer = R.LanderRenderer.for_batch(batch, size=SMALL)
    policy = DescentProfileController(batch.scenario.lander, mode="6dof")
    obs = batch.reset(seed=3)
    for _ in range(40):
        obs, *_ = batch.step(policy.act(obs))
    snap = renderer.capture(batch, 0)
    strings = hud_strings(snap)
    x = batch.state.x[0]
    ground = 0.05 * x[S.PX] - 0.02 * x[S.PY]  # the plane under the lander, site at the origin
    altitude = x[S.PZ] - ground
    assert strings["altitude"] == f"{altitude:.1f} m"
    assert abs(altitude - float(obs[0, observation_slices()["altitude"]][0])) < 1e-2  # as observed in truth mode
    propellant = x[S.MASS] - batch.lander.dry_mass
    percent = 100.0 * propellant / batch.lander.propellant_capacity
    assert strings["propellant"] == f"{propellant:.1f} kg ({percent:.0f}%)"
    assert strings["vertical_speed"] == f"{x[S.VZ]:+.2f} m/s"
    assert strings["horizontal_speed"] == f"{math.hypot(x[S.VX], x[S.VY]):.2f} m/s"
    assert strings["distance"] == f"{math.hypot(x[S.PX], x[S.PY]):.1f} m"
    assert strings["time"] == f"{x[S.TIME]:.1f} s"
    tilt = math.degrees(math.acos(1.0 - 2.0 * (x[S.QX] ** 2 + x[S.QY] ** 2)))
    assert strings["tilt"] == f"{tilt:.1f}°"
    throttle = x[S.THROTTLE:S.THROTTLE + batch.num_engines]
    assert strings["throttle"] == " ".join(f"{100 * t:.0f}" for t in throttle) + " %"
    assert strings["outcome"] == "in_flight" and "verdict" not in strings
    assert renderer.draw(snap).shape == (SMALL[1], SMALL[0], 3)


def test_hud_reports_the_verdict_and_touchdown_metrics_at_the_end():
    batch = LanderBatch("hover_start", 1)
    renderer = R.LanderRenderer.for_batch(batch, size=SMALL)
    policy = DescentProfileController(batch.scenario.lander, mode="6dof")
    obs = batch.reset(seed=0)
    for _ in range(batch.scenario.max_steps):
        obs, _, terminated, truncated = batch.step(policy.act(obs))
        if terminated[0] or truncated[0]:
            break
    strings = hud_strings(renderer.capture(batch, 0))
    metrics = batch.episode_metrics(np.array([0]))
    assert strings["outcome"] == "landed" and strings["verdict"] == "LANDED"
    assert f"v {metrics['touchdown_vertical_speed'][0]:.2f} m/s" in strings["touchdown"]
    assert f"miss {metrics['miss_distance'][0]:.1f} m" in strings["touchdown"]


def fly_with_faults(faults, seconds, seed=0):
    """hover_start with ``faults`` armed, flown by the velocity-field controller for ``seconds``;
    yields (batch, renderer, snapshot) after the reset and after every step."""
    scenario = dataclasses.replace(get_scenario("hover_start"), faults=faults)
    batch = LanderBatch(scenario, 1)
    renderer = R.LanderRenderer.for_batch(batch, size=SMALL)
    policy = DescentProfileController(batch.scenario.lander, mode="6dof")
    obs = batch.reset(seed=seed)
    yield batch, renderer, renderer.capture(batch, 0)
    while batch.state.x[0, S.TIME] < seconds and batch.state.outcome[0] == 0:
        obs, *_ = batch.step(policy.act(obs))
        yield batch, renderer, renderer.capture(batch, 0)


def test_hud_names_an_armed_fault_once_its_onset_has_come():
    onset_s = 2.0
    faults = FaultSpec(engine_out=FaultOnset(1.0, "time", (onset_s, onset_s)))
    before = after = 0
    for flight in fly_with_faults(faults, onset_s + 1.0):
        snap = flight[2]
        strings = hud_strings(snap)
        if snap.time_s < onset_s - 1e-9:
            before += 1
            assert snap.fault_mask == 0 and snap.faults == () and strings["faults"] == "none"
            assert np.all(snap.health == 1.0)
        elif snap.fault_mask:
            after += 1
            assert snap.fault_mask == fault_bit("engine_out") == 1 << FAULT_NAMES.index("engine_out")
            assert snap.faults == ("engine_out",) and strings["faults"] == "engine_out"
            assert np.count_nonzero(snap.health < 1.0) == 1  # one engine stopped
    assert before > 0 and after > 0
    renderer = flight[1]
    assert renderer.draw(snap).shape == (SMALL[1], SMALL[0], 3)


def test_hud_shows_each_sensor_validity_flag_of_the_observation():
    slices = observation_slices()
    for batch, _, snap in fly_with_faults(FaultSpec(altimeter_dead=FaultOnset(1.0, "time", (0.0, 0.0))), 1.0):
        assert [label for label, _ in SENSOR_FIELDS] == list(snap.sensors) == ["ALT", "VEL", "POS"]
        for label, field in SENSOR_FIELDS:
            assert snap.sensors[label] == bool(batch.obs[0, slices[field]][0] > 0.5)
    strings = hud_strings(snap)
    assert snap.faults == ("altimeter_dead",) and snap.sensors["ALT"] is False
    assert strings["sensors"].startswith("ALT LOST") and strings["altimeter"] == "no return"
    batch, renderer, snap = collections.deque(fly_with_faults(FaultSpec(), 1.0), maxlen=1)[0]  # the last step's
    strings = hud_strings(snap)
    assert snap.sensors["ALT"] is True and strings["sensors"].startswith("ALT ok")
    assert strings["altimeter"] == f"{batch.obs[0, slices['altimeter_range']][0]:.1f} m"
    renderer.draw(snap)


def test_the_snapshot_and_hud_text_need_no_pygame():
    code = ("import sys\n"
            "from lunar_env.render import map_geometry\n"
            "from lunar_env.render.shading import TerrainSampler\n"
            "from lunar_env.render.snapshot import LanderSnapshot, hud_strings\n"
            "from lunar_env.simulator import LanderBatch\n"
            "batch = LanderBatch('hover_start', 1)\n"
            "batch.reset(seed=0)\n"
            "snap = LanderSnapshot.capture(batch, 0, TerrainSampler(batch.tiles[0]))\n"
            "strings = hud_strings(snap)\n"
            "assert strings['outcome'] == 'in_flight' and strings['faults'] == 'none', strings\n"
            "assert map_geometry.view_half_width(snap.altitude_m) > 0\n"
            "assert 'pygame' not in sys.modules, 'pygame was imported'\n"
            "assert 'lunar_env.render.renderer' not in sys.modules\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr


def test_lander_and_target_are_drawn_where_the_map_transform_puts_them():
    env = SouthPoleEnv(scenario="hover_start", render_mode="rgb_array")
    env.reset(seed=1)
    frame = env.render()
    view = env.unwrapped._view.renderer.map_view
    lx, ly = (int(round(float(v))) for v in view.to_screen(*env.unwrapped.batch.state.position[0, :2]))
    tx, ty = (int(round(float(v))) for v in view.to_screen(0.0, 0.0))
    assert math.hypot(lx - tx, ly - ty) > 30  # the markers do not overlap in this episode
    assert tuple(frame[ly, lx]) == palette.LANDER_COLOR
    # The target crosshair: its centre and the ends of its arms.
    near = frame[ty - 2:ty + 3, tx - 2:tx + 3].reshape(-1, 3)
    assert any(tuple(p) == palette.TARGET_COLOR for p in near)
    arm = int(G.MIN_VIEW_HALF_WIDTH_M // 5)  # a few pixels out along each arm
    assert any(tuple(frame[ty + d, tx + arm]) == palette.TARGET_COLOR for d in (-1, 0, 1))
    assert any(tuple(frame[ty + arm, tx + d]) == palette.TARGET_COLOR for d in (-1, 0, 1))


def test_map_zooms_in_as_the_lander_descends():
    assert G.view_half_width(1e6) == G.MAX_VIEW_HALF_WIDTH_M
    assert G.view_half_width(0.0) == G.MIN_VIEW_HALF_WIDTH_M
    assert G.view_half_width(500.0) == pytest.approx(G.VIEW_ALTITUDE_FACTOR * 500.0)
    batch = LanderBatch("hover_start", 1, terrain_tiles=[crater_tile()])
    renderer = R.LanderRenderer.for_batch(batch, size=SMALL)
    batch.reset(seed=0)
    scales = []
    for height in (2000.0, 400.0, 50.0, 3.0):
        set_position(batch, 0, (20.0, 10.0, height))
        renderer.draw(renderer.capture(batch, 0))
        scales.append(renderer.map_view.px_per_m_x)
        short_side = min(renderer.layout.map[2], renderer.layout.map[3])
        half = G.view_half_width(renderer.capture(batch, 0).altitude_m)
        assert short_side / 2 / renderer.map_view.px_per_m_x == pytest.approx(half, rel=0.01)
    assert scales == sorted(scales)


def test_vector_env_draws_the_chosen_lander_and_restarts_its_track_after_autoreset():
    envs = SouthPoleVectorEnv(num_envs=3, scenario="hover_start", render_mode="rgb_array", render_lander=2)
    envs.reset(seed=5)
    frame = envs.render()
    assert frame.shape == (640, 960, 3)
    view = envs._view
    position = envs.batch.state.position[2, :2]
    sx, sy = view.renderer.map_view.to_screen(*position)
    assert abs(float(sx) - view.renderer.layout.map[2] / 2) <= 1.0 and abs(float(sy) - 320) <= 1.0
    policy = DescentProfileController(envs.batch.scenario.lander, mode="6dof")
    obs, _ = envs.reset(seed=5)
    for _ in range(envs.batch.scenario.max_steps):
        obs, _, terminated, truncated, _ = envs.step(policy.act(obs))
        if terminated[2] or truncated[2]:
            break
    assert len(view.track) > 100  # the whole episode
    envs.step(policy.act(obs))  # next-step autoreset starts lander 2 again
    assert len(view.track) == 1
    envs.close()
    with pytest.raises(ValueError, match="render_lander"):
        SouthPoleVectorEnv(num_envs=3, render_mode="rgb_array", render_lander=3)


def test_human_mode_opens_a_window_and_returns_none():
    env = SouthPoleEnv(scenario="hover_start", render_mode="human")
    fly(env, 3)
    assert env.render() is None
    import pygame

    assert pygame.display.get_surface().get_size() == R.DEFAULT_SIZE
    env.close()
    assert not pygame.display.get_init()


# ----------------------------------------------------------------------------- behaviour and errors
def test_rendering_does_not_change_the_episode():
    plain = SouthPoleEnv(scenario="hover_start")
    drawn = SouthPoleEnv(scenario="hover_start", render_mode="rgb_array")
    policy = DescentProfileController(plain.scenario.lander, mode="6dof")
    obs_a, _ = plain.reset(seed=11)
    obs_b, _ = drawn.reset(seed=11)
    for step in range(200):
        action = policy.act(obs_a[None, :])[0]
        obs_a, r_a, term_a, trunc_a, info_a = plain.step(action)
        obs_b, r_b, term_b, trunc_b, info_b = drawn.step(action)
        if step % 20 == 0:
            drawn.render()
        np.testing.assert_array_equal(obs_a, obs_b)
        assert (r_a, term_a, trunc_a) == (r_b, term_b, trunc_b)


@pytest.mark.parametrize(
    "make", [lambda m: SouthPoleEnv(render_mode=m), lambda m: SouthPoleVectorEnv(2, render_mode=m)]
)
def test_bad_render_mode_is_refused(make):
    with pytest.raises(ValueError, match=r"render_mode must be None or one of \['human', 'rgb_array'\], got 'rgb'"):
        make("rgb")
    with pytest.raises(ValueError, match="render_mode"):
        R.LanderRenderer.for_batch(LanderBatch("hover_start", 1), render_mode="ansi")


def test_bad_renderer_arguments_are_refused():
    batch = LanderBatch("hover_start", 1)
    with pytest.raises(ValueError, match="size must be between"):
        R.LanderRenderer.for_batch(batch, size=(100, 80))
    with pytest.raises(ValueError, match="wider than tall"):
        R.LanderRenderer.for_batch(batch, size=(640, 640))
    with pytest.raises(ValueError, match="fps"):
        R.LanderRenderer.for_batch(batch, fps=0.0)
    with pytest.raises(ValueError, match=r"LanderRenderer.sun_elevation_deg must be in \(0, 90\]"):
        R.LanderRenderer.for_batch(batch, sun_elevation_deg=-2.0)
    renderer = R.LanderRenderer.for_batch(batch, size=SMALL)
    batch.reset(seed=0)
    with pytest.raises(ValueError, match="track"):
        renderer.draw(renderer.capture(batch, 0), track=np.zeros((5, 3)))


def test_missing_pygame_names_the_extra_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "pygame", None)  # `import pygame` now raises ImportError
    with pytest.raises(RenderDependencyError, match=r'pip install "lunar-env\[render\]"') as caught:
        SouthPoleEnv(render_mode="rgb_array")
    assert isinstance(caught.value, ImportError)
    assert isinstance(caught.value, gym.error.DependencyNotInstalled)
    assert "pygame-ce" in str(caught.value)
    env = SouthPoleEnv()  # without a render mode nothing needs pygame
    env.reset(seed=0)
    env.step(env.action_space.sample())


def test_missing_imageio_names_the_extra_to_install(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "imageio", None)
    with pytest.raises(RenderDependencyError, match=r'pip install "lunar-env\[render\]"'):
        VideoWriter(tmp_path / "a.mp4", 10)
    assert not list(tmp_path.iterdir())


def test_stepping_without_render_mode_never_imports_pygame():
    code = (
        "import sys, gymnasium as gym, lunar_env\n"
        "env = gym.make('lunar_env/SouthPole-v0', scenario='hover_start')\n"
        "env.reset(seed=0)\n"
        "env.step(env.action_space.sample())\n"
        "envs = lunar_env.envs.SouthPoleVectorEnv(2)\n"
        "envs.reset(seed=0)\n"
        "assert 'pygame' not in sys.modules, 'pygame was imported'\n"
        "assert 'lunar_env.render.renderer' not in sys.modules\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr


# ----------------------------------------------------------------------------- shading and terrain
def test_level_ground_shows_the_reference_brightness():
    flat = np.zeros((8, 9))
    b = shading.shaded_relief(flat, 5.0, 123.0, 1.5)
    assert b.dtype == np.float32 and b.shape == flat.shape
    np.testing.assert_allclose(b, shading.FLAT_GROUND_BRIGHTNESS, rtol=1e-5)


@pytest.mark.parametrize("azimuth", [0.0, 90.0, 225.0])
def test_lambert_term_of_a_tilted_plane_is_the_sine_of_the_sun_height_above_it(azimuth):
    """A plane falling toward the sun at angle a (facing it) gets sin(el + a); one rising toward
    it more steeply than the sun's elevation gets no light."""
    el = 1.5
    for a_deg in (-1.0, 3.0, 10.0):
        slope = math.tan(math.radians(a_deg))
        az = math.radians(azimuth)
        xs = np.arange(6) * 2.0
        # Height falls toward the sun when a > 0: the plane faces the sun.
        heights = -slope * (math.sin(az) * xs[None, :] + math.cos(az) * xs[:, None])
        direct = shading.lambert(heights, 2.0, azimuth, el)
        np.testing.assert_allclose(direct, math.sin(math.radians(el + a_deg)), atol=1e-6)
    steep_away = -math.tan(math.radians(5.0)) * (math.sin(az) * xs[None, :] + math.cos(az) * xs[:, None])
    assert np.all(shading.lambert(-steep_away, 2.0, azimuth, el) == 0.0)  # faces away by more than el


def test_brightness_grows_with_light_and_shadow_masks_remove_the_sun():
    xs = np.arange(10) * 1.0
    toward = -0.05 * xs[None, :].repeat(10, 0)  # falls toward an eastern sun: lit
    away = -toward
    b_toward = shading.shaded_relief(toward, 1.0, 90.0, 1.5)
    b_flat = shading.shaded_relief(np.zeros((10, 10)), 1.0, 90.0, 1.5)
    b_away = shading.shaded_relief(away, 1.0, 90.0, 1.5)
    assert np.all(b_toward > b_flat) and np.all(b_flat > b_away)
    np.testing.assert_allclose(b_away, shading.AMBIENT_BRIGHTNESS, rtol=1e-5)
    assert np.all(b_toward <= 1.0)
    mask = np.zeros((10, 10), dtype=np.uint8)
    mask[:, :5] = 1
    shaded = shading.shaded_relief(toward, 1.0, 90.0, 1.5, shadow_mask=mask)
    np.testing.assert_allclose(shaded[:, :5], shading.AMBIENT_BRIGHTNESS, rtol=1e-5)
    np.testing.assert_allclose(shaded[:, 5:], b_toward[:, 5:])
    half = shading.shaded_relief(toward, 1.0, 90.0, 1.5, shadow_mask=np.full((10, 10), 0.5))
    assert np.all((half > shading.AMBIENT_BRIGHTNESS) & (half < b_toward))


def test_shading_refuses_bad_input():
    with pytest.raises(ValueError, match="2-D array"):
        shading.shaded_relief(np.zeros(5), 1.0, 0.0, 1.5)
    with pytest.raises(ValueError, match="cell_size_m"):
        shading.shaded_relief(np.zeros((3, 3)), 0.0, 0.0, 1.5)
    with pytest.raises(ValueError, match="sun_elevation_deg"):
        shading.shaded_relief(np.zeros((3, 3)), 1.0, 0.0, 0.0)
    with pytest.raises(ValueError, match="shadow_mask shape"):
        shading.shaded_relief(np.zeros((3, 3)), 1.0, 0.0, 1.5, shadow_mask=np.zeros((2, 2)))
    with pytest.raises(ValueError, match="fractions"):
        shading.shaded_relief(np.zeros((3, 3)), 1.0, 0.0, 1.5, shadow_mask=np.full((3, 3), 2.0))
    tile = crater_tile()
    bad = TerrainTile(tile.fine, tile.coarse, shadow_fine=np.zeros((3, 3), dtype=np.uint8))
    with pytest.raises(ValueError, match="shadow_fine shape"):
        shading.TerrainSampler(bad)


@pytest.mark.parametrize("tile", [plane_tile(0.03, -0.08, height_m=12.0), crater_tile()], ids=["plane", "crater"])
def test_sampler_heights_are_the_physics_surface(tile):
    sampler = shading.TerrainSampler(tile)
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.uniform(-600, 600, 500), rng.uniform(-12_000, 12_000, 500)])
    y = np.concatenate([rng.uniform(-600, 600, 500), rng.uniform(-12_000, 12_000, 500)])
    pool = stack_tiles([tile])
    expected = np.array([terrain_height(pool, 0, a, b) for a, b in zip(x, y)])
    np.testing.assert_allclose(sampler.heights(x, y), expected, rtol=0, atol=1e-9)
    assert sampler.heights(np.zeros((2, 3)), 0.0).shape == (2, 3)


def test_sampler_gradient_and_shadow():
    plane = shading.TerrainSampler(plane_tile(0.03, -0.08))
    gx, gy = plane.gradient([0.0, 500.0, -9000.0], [0.0, -200.0, 100.0])
    np.testing.assert_allclose(gx, 0.03, atol=1e-12)
    np.testing.assert_allclose(gy, -0.08, atol=1e-12)
    assert np.all(plane.shadow([0.0, 100.0], [0.0, 0.0]) == 0.0)
    tile = crater_tile()
    sampler = shading.TerrainSampler(tile)
    # The mask sample nearest the bowl's west floor is shadowed, the plain far west is lit.
    assert sampler.shadow(100.0, 0.0) == 1.0 and sampler.shadow(-300.0, 0.0) == 0.0
    edge = sampler.shadow(np.linspace(-100, 200, 301), 0.0)
    assert np.all((edge >= 0.0) & (edge <= 1.0))


def test_shaded_map_shows_the_crater_and_its_shadow_and_a_plane_evenly():
    sun_az, sun_el = 270.0, 1.5
    cache = shading.ShadedTerrainCache(
        shading.TerrainSampler(crater_tile(sun_az, sun_el)), (0.0, 0.0, 0.0), sun_az, sun_el
    )
    level = shading.level_for(1.0)
    cell = shading.level_cell_m(level)
    window = cache.window(level, int(-300 / cell), int(-50 / cell), int(700 / cell), int(100 / cell)).astype(float)
    brightness = window.mean(axis=2)

    def at(east):  # the pixel column of an east coordinate, on the row of y = 0
        return brightness[int(50 / cell), int((east + 300) / cell)]

    plain = at(-250.0)
    assert at(80.0) < 0.5 * plain  # the western floor lies in the rim's shadow
    assert at(340.0) > plain  # the top of the eastern wall faces the western sun
    assert window.shape == (int(100 / cell), int(700 / cell), 3)
    assert cache.computed > 0
    computed = cache.computed
    cache.window(level, int(-300 / cell), int(-50 / cell), int(700 / cell), int(100 / cell))
    assert cache.computed == computed  # the second look comes from the cache

    flat = shading.ShadedTerrainCache(shading.TerrainSampler(plane_tile(0.0, 0.0)), (0.0, 0.0, 0.0), sun_az, sun_el)
    even = flat.window(3, -200, -200, 400, 400)
    assert len(np.unique(even.reshape(-1, 3), axis=0)) == 1


def test_renderer_draws_a_crater_tile_and_a_plane_tile():
    frames = []
    for tile in (crater_tile(), plane_tile(0.02, 0.01)):
        batch = LanderBatch("hover_start", 1, terrain_tiles=[tile])
        renderer = R.LanderRenderer.for_batch(batch, size=SMALL, sun_azimuth_deg=270.0)
        batch.reset(seed=0)
        set_position(batch, 0, (100.0, 0.0, 60.0), velocity=(2.0, 0.0, -3.0))
        frames.append(renderer.draw(renderer.capture(batch, 0)))
    crater, plane = frames
    map_w = R._Layout(*SMALL).map[2]
    assert crater[:, :map_w].std() > plane[:, :map_w].std()


def test_clipped_runs_keep_the_visible_part_of_a_polyline():
    inside = np.array([[0.0, 0.0], [10.0, 5.0], [20.0, -5.0]])
    runs = G.clipped_runs(inside, 100.0)
    assert len(runs) == 1 and np.array_equal(runs[0], inside)
    crossing = np.array([[0.0, 0.0], [1000.0, 100.0], [2000.0, 0.0], [50.0, 50.0]])
    runs = G.clipped_runs(crossing, 100.0)
    assert len(runs) == 2
    np.testing.assert_allclose(runs[0], [[0.0, 0.0], [100.0, 10.0]])  # same direction, cut at the box
    np.testing.assert_allclose(runs[1][-1], [50.0, 50.0])
    assert np.all(np.abs(np.concatenate(runs)) <= 100.0 + 1e-9)
    assert G.clipped_runs(np.array([[500.0, 500.0], [600.0, 500.0]]), 100.0) == []


# ----------------------------------------------------------------------------- video files
@pytest.mark.parametrize("suffix", [".mp4", ".gif"])
def test_render_episode_writes_a_video_that_decodes(tmp_path, suffix):
    out = tmp_path / f"episode{suffix}"
    result = render_episode(
        lambda batch: DescentProfileController(batch.scenario.lander, mode="6dof"),
        scenario="hover_start",
        seed=0,
        out_path=out,
        max_frames=12,
        fps=10,
        size=SMALL,
        hold_final_s=0.5,
        progress=False,
    )
    assert result.path == out and out.exists()
    assert result.outcome == "landed" and result.drawn == 12
    if suffix == ".mp4":
        reader = imageio_v2.get_reader(out)
        frames = [f for f in reader]
        assert reader.get_meta_data()["fps"] == pytest.approx(10.0)
        assert len(frames) == result.frames == 12 + 5  # the final frame held 0.5 s
    else:
        frames = iio.imread(out, index=None)
        assert len(frames) == result.frames == 12
        from PIL import Image

        with Image.open(out) as gif:
            gif.seek(11)
            assert gif.info["duration"] == 600  # the held final frame lasts 6 periods
    assert frames[0].shape[:2] == (SMALL[1], SMALL[0])
    assert [p.name for p in tmp_path.iterdir()] == [out.name]  # no temporary file left


def test_render_episode_flies_the_lander_of_the_given_batch_index(tmp_path):
    result = render_episode(
        lambda batch: DescentProfileController(batch.scenario.lander, mode="3dof"),
        scenario="hover_start",
        mode="3dof",
        seed=4,
        out_path=tmp_path / "e.gif",
        max_frames=3,
        size=SMALL,
        lander_index=2,
        hold_final_s=0.0,
        progress=False,
    )
    batch = LanderBatch("hover_start", 3, mode="3dof")
    policy = DescentProfileController(batch.scenario.lander, mode="3dof")
    obs = batch.reset(seed=4)
    for _ in range(batch.scenario.max_steps):
        obs, _, terminated, truncated = batch.step(policy.act(obs))
        if terminated[2] or truncated[2]:
            break
    expected = batch.episode_metrics(np.array([2]))
    assert result.metrics["miss_distance"] == expected["miss_distance"][0]
    assert result.metrics["episode_time"] == expected["episode_time"][0]


def test_render_episode_refuses_bad_arguments(tmp_path):
    policy = DescentProfileController
    with pytest.raises(ValueError, match=r"\.mp4"):
        render_episode(policy, out_path=tmp_path / "e.avi", progress=False)
    with pytest.raises(ValueError, match="max_frames"):
        render_episode(policy, out_path=tmp_path / "e.gif", max_frames=1, progress=False)
    with pytest.raises(ValueError, match="lander_index"):
        render_episode(policy, out_path=tmp_path / "e.gif", lander_index=-1, progress=False)
    with pytest.raises(ValueError, match=r"fps must be in \(0, 240\]"):
        render_episode(policy, out_path=tmp_path / "e.gif", fps=1000.0, progress=False)
    with pytest.raises(ValueError, match="gif_colors"):
        render_episode(policy, out_path=tmp_path / "e.gif", gif_colors=300, progress=False)
    with pytest.raises(ValueError, match="3dof action space"):
        render_episode(
            DescentProfileController(LanderBatch().scenario.lander, mode="3dof"),
            mode="6dof",
            out_path=tmp_path / "e.gif",
            progress=False,
        )
    assert not list(tmp_path.iterdir())


def test_frame_indices_spread_over_the_episode():
    np.testing.assert_array_equal(frame_indices(5, None), np.arange(5))
    np.testing.assert_array_equal(frame_indices(5, 10), np.arange(5))
    chosen = frame_indices(1321, 100)
    assert len(chosen) == 100 and chosen[0] == 0 and chosen[-1] == 1320
    assert np.all(np.diff(chosen) > 0)


def test_video_writer_is_atomic_and_checks_frames(tmp_path):
    target = tmp_path / "clip.mp4"
    target.write_bytes(b"previous")
    frame = np.zeros((32, 48, 3), np.uint8)
    with pytest.raises(RuntimeError):
        with VideoWriter(target, 10) as writer:
            writer.append(frame)
            raise RuntimeError("interrupted")
    assert target.read_bytes() == b"previous"  # untouched
    assert [p.name for p in tmp_path.iterdir()] == ["clip.mp4"]
    with pytest.raises(ValueError, match=r"\(H, W, 3\) uint8"):
        with VideoWriter(tmp_path / "x.gif", 10) as writer:
            writer.append(np.zeros((32, 48), np.uint8))
    with pytest.raises(ValueError, match="one shape"):
        with VideoWriter(tmp_path / "x.gif", 10) as writer:
            writer.append(frame)
            writer.append(np.zeros((30, 48, 3), np.uint8))
    with pytest.raises(ValueError, match="fps"):
        VideoWriter(tmp_path / "x.mp4", 0)
    with pytest.raises(ValueError, match="suffix|end in"):
        VideoWriter(tmp_path / "x.avi", 10)
    with pytest.raises(ValueError, match="no frames"):
        write_video(tmp_path / "x.gif", [], 10)
    assert [p.name for p in tmp_path.iterdir()] == ["clip.mp4"]
    # A GIF's colours can be capped for a smaller file.
    rng = np.random.default_rng(0)
    noisy = [rng.integers(0, 256, (32, 48, 3), dtype=np.uint8) for _ in range(3)]
    path = write_video(tmp_path / "few.gif", noisy, 5, gif_colors=16)
    decoded = iio.imread(path, index=None)
    assert len(decoded) == 3 and all(len(np.unique(f.reshape(-1, f.shape[-1]), axis=0)) <= 16 for f in decoded)
    with pytest.raises(ValueError, match="gif_colors"):
        VideoWriter(tmp_path / "x.gif", 10, gif_colors=1)
    # Odd frame sizes are padded to the even sides H.264 needs.
    path = write_video(tmp_path / "odd.mp4", [np.full((31, 47, 3), 200, np.uint8)] * 3, 5)
    decoded = [f for f in imageio_v2.get_reader(path)]
    assert len(decoded) == 3 and decoded[0].shape == (32, 48, 3)
    umask = os.umask(0)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask  # a new file's mode, not the temporary file's 0600


# ----------------------------------------------------------------------------- Gymnasium wrappers
def _moviepy_or_stand_in(monkeypatch):
    """RecordVideo encodes with moviepy (Gymnasium's "other" extra). Where it is not installed,
    a stand-in with moviepy's ImageSequenceClip interface writes through our VideoWriter, so
    the test still checks what is ours: render() feeding RecordVideo one frame per step."""
    try:
        import moviepy  # noqa: F401

        return
    except ImportError:
        pass

    class ImageSequenceClip:
        def __init__(self, frames, fps):
            self.frames, self.fps = list(frames), fps

        def write_videofile(self, path, logger=None):
            write_video(path, self.frames, self.fps)

    package = types.ModuleType("moviepy")
    video = types.ModuleType("moviepy.video")
    io = types.ModuleType("moviepy.video.io")
    clip = types.ModuleType("moviepy.video.io.ImageSequenceClip")
    clip.ImageSequenceClip = ImageSequenceClip
    for name, module in (
        ("moviepy", package),
        ("moviepy.video", video),
        ("moviepy.video.io", io),
        ("moviepy.video.io.ImageSequenceClip", clip),
    ):
        monkeypatch.setitem(sys.modules, name, module)


def test_record_video_wrapper_records_the_env(tmp_path, monkeypatch):
    _moviepy_or_stand_in(monkeypatch)
    from gymnasium.wrappers import RecordVideo

    env = gym.make("lunar_env/SouthPole-v0", scenario="hover_start", render_mode="rgb_array")
    folder = tmp_path / "videos"
    env = RecordVideo(env, str(folder), episode_trigger=lambda episode: True, video_length=20, disable_logger=True)
    fly(env, 30)
    env.close()
    videos = sorted(folder.glob("*.mp4"))
    assert [v.name for v in videos] == ["rl-video-episode-0.mp4"]
    frames = [f for f in imageio_v2.get_reader(videos[0])]
    assert len(frames) == 21  # RecordVideo stops after video_length + 1 frames
    assert frames[0].shape == (640, 960, 3)


# ----------------------------------------------------------------------------- command line
def _parser():
    parser = argparse.ArgumentParser(prog="lunar")
    add_render_command(parser.add_subparsers(dest="command", required=True))
    return parser


def test_lunar_render_command_writes_a_gif(tmp_path, capsys):
    out = tmp_path / "landing.gif"
    args = _parser().parse_args(
        [
            "render",
            "--policy",
            "descent_profile",
            "--scenario",
            "hover_start",
            "--mode",
            "3dof",
            "--seed",
            "2",
            "--out",
            str(out),
            "--size",
            "480x320",
            "--max-frames",
            "6",
            "--fps",
            "5",
        ]
    )
    assert args.func(args) == 0
    printed = capsys.readouterr().out
    assert "landed" in printed and str(out) in printed
    frames = iio.imread(out, index=None)
    assert frames.shape[:3] == (6, 320, 480)


def test_lunar_render_command_refuses_bad_input(tmp_path):
    assert parse_size(DEFAULT_SIZE_TEXT) == R.DEFAULT_SIZE
    with pytest.raises(SystemExit):
        _parser().parse_args(["render", "--size", "big"])
    with pytest.raises(SystemExit):
        _parser().parse_args(["render", "--mode", "2dof"])
    args = _parser().parse_args(["render", "--out", str(tmp_path / "x.avi")])
    with pytest.raises(ValueError, match=r"\.mp4"):
        args.func(args)
    args = _parser().parse_args(["render", "--policy", "no_such_policy", "--out", str(tmp_path / "x.gif")])
    with pytest.raises(ValueError, match="no_such_policy"):
        args.func(args)
    assert not list(tmp_path.iterdir())
