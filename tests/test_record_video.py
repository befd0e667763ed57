"""Gymnasium's RecordVideo wrapper records our single env with the real moviepy encoder, which the
render extra installs (tests/test_render.py checks the frames it feeds RecordVideo without moviepy)."""

import os

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")

import gymnasium as gym  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

import lunar_env  # noqa: E402, F401  (registers the environments)

pytest.importorskip("pygame", reason="rendering needs the render extra (pygame-ce)")
pytest.importorskip("moviepy", reason="RecordVideo encodes with moviepy: pip install \"lunar-env[render]\"")
imageio_v2 = pytest.importorskip("imageio.v2", reason="reading the video back needs imageio (render extra)")

VIDEO_LENGTH = 12  # frames RecordVideo records after the first one


def test_record_video_writes_an_mp4_of_the_single_env(tmp_path):
    from gymnasium.wrappers import RecordVideo

    env = gym.make("lunar_env/SouthPole3DoF-v0", scenario="hover_start", render_mode="rgb_array")
    folder = tmp_path / "videos"
    env = RecordVideo(env, str(folder), episode_trigger=lambda episode: episode == 0, video_length=VIDEO_LENGTH,
                      disable_logger=True)
    obs, _ = env.reset(seed=3)
    first = env.render()
    for _ in range(VIDEO_LENGTH + 5):
        obs, reward, terminated, truncated, _ = env.step(np.zeros(env.action_space.shape, np.float32))
        if terminated or truncated:
            break
    env.close()
    videos = sorted(folder.glob("*.mp4"))
    assert [v.name for v in videos] == ["rl-video-episode-0.mp4"]
    frames = [frame for frame in imageio_v2.get_reader(videos[0])]  # (list() asks len(), infinite for a stream)
    assert len(frames) == VIDEO_LENGTH + 1  # RecordVideo stops after video_length + 1 frames
    assert frames[0].shape == first.shape and frames[0].dtype == np.uint8
    # the encoded first frame is the env's first rendered frame, within H.264's lossy error
    assert np.abs(frames[0].astype(np.int16) - first.astype(np.int16)).mean() < 8.0
