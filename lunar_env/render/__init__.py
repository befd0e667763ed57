"""Rendering of landing episodes: a pygame renderer (window or RGB arrays) and video files.

Needs the ``render`` extra (``pip install "lunar-env[render]"``: pygame-ce, imageio,
imageio-ffmpeg). Importing this package imports neither pygame nor imageio: the names below
load their modules on first use, so environments without a render mode never pay for them.

- :class:`LanderRenderer` draws one lander: shaded top-down map, side profile and HUD.
- :func:`render_episode` flies one episode with a policy and writes an .mp4 or .gif.
- :func:`write_video` / :class:`VideoWriter` write frames to a video file atomically.
- :func:`shaded_relief` is the terrain hillshade under the low polar sun.
"""

from __future__ import annotations

import importlib
from typing import Any

from gymnasium.error import DependencyNotInstalled

RENDER_MODES = ("human", "rgb_array")
INSTALL_HINT = 'pip install "lunar-env[render]"'


class RenderDependencyError(DependencyNotInstalled, ImportError):
    """A package of the ``render`` extra is missing (pygame-ce, imageio or imageio-ffmpeg)."""


def require(module: str, distribution: str, purpose: str) -> Any:
    """Import ``module`` or raise RenderDependencyError naming the extra that provides it."""
    try:
        return importlib.import_module(module)
    except ImportError as error:
        raise RenderDependencyError(
            f"{purpose} needs the {distribution} package, which is not installed; "
            f"install the rendering extra: {INSTALL_HINT}") from error


_EXPORTS = {
    "LanderRenderer": "lunar_env.render.renderer",
    "LanderSnapshot": "lunar_env.render.snapshot",
    "LanderView": "lunar_env.render.renderer",
    "hud_strings": "lunar_env.render.snapshot",
    "DEFAULT_SIZE": "lunar_env.render.renderer",
    "render_episode": "lunar_env.render.episode",
    "RenderedEpisode": "lunar_env.render.episode",
    "VideoWriter": "lunar_env.render.video",
    "write_video": "lunar_env.render.video",
    "shaded_relief": "lunar_env.render.shading",
}

__all__ = ["RENDER_MODES", "INSTALL_HINT", "RenderDependencyError", "require", *_EXPORTS]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'lunar_env.render' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
