"""The pygame drawing: one lander's snapshot as a top-down map, a side profile and a HUD.

Frame layout (default 960 x 640 px)::

    +---------------------------+-------------+
    |                           |  HUD        |
    |  top-down map: shaded     |  numbers,   |
    |  terrain, target circle,  |  bars,      |
    |  ground track, lander,    |  sensors,   |
    |  5 s velocity arrow       |  verdict    |
    |                           +-------------+
    |  (zooms with altitude)    |  side       |
    |                           |  profile    |
    +---------------------------+-------------+

What is drawn comes from :mod:`lunar_env.render.snapshot` (the lander's state and the HUD's
text) and :mod:`lunar_env.render.map_geometry` (the map's zoom and transform); this module
holds :class:`LanderRenderer`, its layout and :class:`LanderView`, the environments' helper.
Terrain comes from the shaded chunk cache of :mod:`lunar_env.render.shading` at the zoom level
just finer than the screen, scaled down by at most a factor sqrt(2). The side profile is drawn
at equal horizontal and vertical scale along the ground track flown so far, continued by the
straight line to the target.

pygame is imported when the first renderer is built, never at module import, so environments
without a render mode do not load it.
"""

from __future__ import annotations

import math
import sys
from collections import OrderedDict

import numpy as np

from lunar_env.checks import check_integer
from lunar_env.config import check_range
from lunar_env.physics import state as S
from lunar_env.render import RENDER_MODES, require
from lunar_env.render.map_geometry import (
    MapView,
    arrow_head,
    clipped_runs,
    format_length,
    grid_step,
    nice_length,
    view_half_width,
)
from lunar_env.render.palette import (
    BACKGROUND,
    BAD_COLOR,
    BANNER_ALPHA,
    BAR_BACK,
    FLAME_COLOR,
    GRID_COLOR,
    GROUND_EDGE,
    GROUND_FILL,
    LANDER_BODY,
    LANDER_COLOR,
    NOZZLE_COLOR,
    OK_COLOR,
    OUTLINE,
    PANEL,
    PANEL_EDGE,
    SKY,
    SUN_COLOR,
    TARGET_COLOR,
    TEXT,
    TEXT_DIM,
    TRACK_COLOR,
    VELOCITY_COLOR,
    WARN_COLOR,
)
from lunar_env.render.shading import (
    ShadedTerrainCache,
    TerrainSampler,
    level_cell_m,
    level_for,
    tile_sun,
)
from lunar_env.render.snapshot import (
    LanderSnapshot,
    hud_strings,
    quaternion_matrix,
    verdict,
)

pygame = None  # the pygame module, bound by _load_pygame() when a renderer is built

DEFAULT_SIZE = (960, 640)  # px, width x height
MIN_SIZE = (480, 320)  # px; below this the HUD text no longer fits
MAX_SIZE = (3840, 2160)  # px
CANVAS_BITS = 32  # bits per pixel of the canvas: frame_array copies channels out of 32-bit pixels

# --- map ----------------------------------------------------------------------------
VELOCITY_LOOKAHEAD_S = 5.0  # the velocity arrow points where the lander will be in this time
TRACK_DRAW_LIMIT_PX = 16000  # track segments are clipped to this box (px) before pygame draws them
MAX_SAMPLERS = 4  # terrain tiles whose samplers and shaded chunks are kept

# --- side profile -------------------------------------------------------------------
PROFILE_MIN_SPAN_M = 24.0  # narrowest horizontal span of the profile
PROFILE_LANDER_X = 0.38  # lander position across the profile (fraction of its width)
PROFILE_GROUND_Y = 0.84  # ground under the lander, down the profile (fraction of its height)
PROFILE_ALTITUDE_FILL = 0.66  # the lander sits at most this fraction of the height above the ground
PROFILE_AHEAD_SAMPLES = 64  # terrain samples along the line to the target

# --- lander drawing (proportions of the footprint radius; drawn to scale when large enough)
BODY_HALF_WIDTH = 0.55  # of the foot radius
BODY_TOP = 0.7  # of the foot depth below the centre of mass, above it
BODY_BOTTOM = 0.45  # of the foot depth, below the centre of mass
MIN_SCALE_DRAW_PX = 5.0  # footprint radius (px) from which the lander is drawn to scale

LOW_PROPELLANT_FRACTION = 0.1  # propellant shown amber below this fraction of a full load
NEAR_GROUND_M = 10.0  # below this altitude the HUD marks speeds and tilt beyond the touchdown limits
HUD_LINES = 15.6  # text lines of the HUD; the side profile gets the rest of the panel
TEXT_CACHE_SIZE = 600  # rendered text surfaces kept (least recently used out)


def _load_pygame():
    """Import pygame (every time: a test may hide it) or raise RenderDependencyError."""
    global pygame
    module = require("pygame", "pygame-ce", "rendering")
    if pygame is None:
        module.font.init()
        pygame = module
    return module


# =========================================================================== layout
class _Layout:
    """Rectangles and font sizes of a frame size."""

    def __init__(self, width: int, height: int):
        self.size = (width, height)
        panel = max(width - height, round(width / 3))
        self.map = (0, 0, width - panel, height)
        self.scale = min(width / DEFAULT_SIZE[0], height / DEFAULT_SIZE[1])
        self.font_px = max(12, round(17 * self.scale))
        self.small_px = max(11, round(14 * self.scale))
        self.big_px = max(16, round(28 * self.scale))
        self.line = round(self.font_px * 1.28)
        self.pad = max(6, round(12 * self.scale))
        hud_height = min(round(height * 0.68), self.pad * 2 + round(self.line * HUD_LINES))
        px = width - panel
        self.hud = (px, 0, panel, hud_height)
        self.profile = (px, hud_height, panel, height - hud_height)


# =========================================================================== renderer
class LanderRenderer:
    """Draws lander snapshots of one scenario and terrain pool with pygame.

    Args:
        scenario: the Scenario flown (target radius, lander geometry, control rate).
        tiles: the TerrainTile list of the batch (``batch.tiles``).
        mode: "6dof" or "3dof", shown in the HUD title.
        render_mode: "rgb_array" (``draw`` returns (H, W, 3) uint8 arrays) or "human" (a window).
        size: frame (width, height) in pixels.
        fps: window frame rate in human mode; default the scenario's control rate (real time).
        sun_azimuth_deg / sun_elevation_deg: override the sun a tile names (see shading.tile_sun).
    """

    def __init__(self, scenario, tiles, *, mode: str = "6dof", render_mode: str = "rgb_array",
                 size: tuple[int, int] = DEFAULT_SIZE, fps: float | None = None,
                 sun_azimuth_deg: float | None = None, sun_elevation_deg: float | None = None):
        if render_mode not in RENDER_MODES:
            raise ValueError(f"render_mode must be one of {RENDER_MODES}, got {render_mode!r}")
        width, height = _check_size(size)
        self.fps = float(scenario.control_rate_hz if fps is None else fps)
        if not (math.isfinite(self.fps) and self.fps > 0):
            raise ValueError(f"fps must be a positive number, got {fps!r}")
        if not tiles:
            raise ValueError("tiles must hold at least one TerrainTile")
        if sun_azimuth_deg is not None:
            check_range("LanderRenderer", "sun_azimuth_deg", sun_azimuth_deg, -360.0, 720.0)
        if sun_elevation_deg is not None:
            check_range("LanderRenderer", "sun_elevation_deg", sun_elevation_deg, 0.0, 90.0, low_open=True)
        _load_pygame()
        self.scenario = scenario
        self.mode = mode
        self.render_mode = render_mode
        self.size = (width, height)
        self.layout = _Layout(width, height)
        self.tiles = list(tiles)
        self._samplers: OrderedDict[int, TerrainSampler] = OrderedDict()
        self._sun = []
        for tile in tiles:
            az, el = tile_sun(tile, scenario.terrain)
            self._sun.append((az if sun_azimuth_deg is None else float(sun_azimuth_deg),
                              el if sun_elevation_deg is None else float(sun_elevation_deg)))
        spec = scenario.lander
        self.foot_radius_m = spec.foot_radius_m
        self.foot_depth_m = -max(f[2] for f in spec.leg_feet_m)
        self.canvas = pygame.Surface(self.size, 0, CANVAS_BITS)
        lay = self.layout
        self.font = pygame.font.Font(None, round(lay.font_px * 1.18))  # the default font runs small
        self.small = pygame.font.Font(None, round(lay.small_px * 1.18))
        self.big = pygame.font.Font(None, round(lay.big_px * 1.18))
        self._text_cache: OrderedDict = OrderedDict()
        self._terrain: OrderedDict = OrderedDict()
        self._map_key = None
        self._map_surface = None
        self.map_view: MapView | None = None
        self._window = None
        self._clock = None

    @classmethod
    def for_batch(cls, batch, **kwargs) -> LanderRenderer:
        """A renderer for the scenario, terrain and mode of a LanderBatch."""
        return cls(batch.scenario, batch.tiles, mode=batch.mode, **kwargs)

    def capture(self, batch, index: int) -> LanderSnapshot:
        """Snapshot of lander ``index`` of ``batch`` (a batch of this renderer's scenario)."""
        tile = int(batch.state.flags[index, S.TILE])
        return LanderSnapshot.capture(batch, index, self.sampler(tile))

    def sampler(self, tile: int) -> TerrainSampler:
        """The terrain sampler of tile ``tile``, built on first use (a few MB each)."""
        found = self._samplers.get(tile)
        if found is None:
            found = TerrainSampler(self.tiles[tile])
            self._samplers[tile] = found
            if len(self._samplers) > MAX_SAMPLERS:
                self._samplers.popitem(last=False)
        else:
            self._samplers.move_to_end(tile)
        return found

    # ------------------------------------------------------------------ public drawing
    def draw(self, snap: LanderSnapshot, track: np.ndarray | None = None) -> np.ndarray | None:
        """Draw one frame.

        Args:
            snap: the lander's state.
            track: optional (k, 4) array of past [east, north, up, ground height] rows (m,
                site-local), oldest first, ending at the current state.
        Returns:
            (H, W, 3) uint8 RGB in "rgb_array" mode; None in "human" mode (the window is updated).
        """
        if track is None or len(track) == 0:
            track = np.array([[*snap.position, snap.ground_height_m]])
        track = np.asarray(track, dtype=np.float64)
        if track.ndim != 2 or track.shape[1] != 4:
            raise ValueError(f"track must be a (k, 4) array of [east, north, up, ground], got shape {track.shape}")
        self.canvas.fill(BACKGROUND)
        self._draw_map(snap, track)
        self._draw_hud(snap)
        self._draw_profile(snap, track)
        if self.render_mode == "human":
            self._show()
            return None
        return self.frame_array()

    def frame_array(self) -> np.ndarray:
        """The last frame drawn, as a new (H, W, 3) uint8 RGB array."""
        w, h = self.size
        # Copy the channels straight out of the 32-bit pixels (rows of 4 w bytes): a third of
        # pygame.image.tobytes' time.
        pixels = np.frombuffer(self.canvas.get_buffer(), dtype=np.uint8).reshape(h, w, 4)
        out = np.empty((h, w, 3), dtype=np.uint8)
        for channel, shift in enumerate(self.canvas.get_shifts()[:3]):
            byte = shift // 8 if sys.byteorder == "little" else 3 - shift // 8
            out[:, :, channel] = pixels[:, :, byte]
        return out

    def close(self) -> None:
        """Close the window (human mode); the renderer can draw arrays afterwards."""
        if self._window is not None:
            pygame.display.quit()
            self._window = None
            self._clock = None

    # ------------------------------------------------------------------ window
    def _show(self) -> None:
        if self._window is None:
            pygame.display.init()
            self._window = pygame.display.set_mode(self.size)
            pygame.display.set_caption(f"lunar_env: {self.scenario.name} ({self.mode})")
            self._clock = pygame.time.Clock()
        pygame.event.pump()
        self._window.blit(self.canvas, (0, 0))
        pygame.display.flip()
        self._clock.tick(self.fps)

    # ------------------------------------------------------------------ text
    def _text(self, text: str, font, color):
        key = (text, id(font), color)
        surf = self._text_cache.get(key)
        if surf is None:
            surf = font.render(text, True, color)
            self._text_cache[key] = surf
            if len(self._text_cache) > TEXT_CACHE_SIZE:
                self._text_cache.popitem(last=False)
        else:
            self._text_cache.move_to_end(key)
        return surf

    def _blit_text(self, text, font, color, pos, anchor="topleft", shadow=False):
        surf = self._text(text, font, color)
        rect = surf.get_rect(**{anchor: (round(pos[0]), round(pos[1]))})
        if shadow:
            self.canvas.blit(self._text(text, font, OUTLINE), rect.move(1, 1))
        self.canvas.blit(surf, rect)
        return rect

    # ------------------------------------------------------------------ map
    def _terrain_cache(self, snap: LanderSnapshot) -> tuple[tuple, ShadedTerrainCache]:
        key = (snap.tile, *np.round(snap.site, 3))
        cache = self._terrain.get(key)
        if cache is None:
            az, el = self._sun[snap.tile]
            cache = ShadedTerrainCache(self.sampler(snap.tile), snap.site, az, el)
            self._terrain[key] = cache
            if len(self._terrain) > MAX_SAMPLERS:
                self._terrain.popitem(last=False)
        else:
            self._terrain.move_to_end(key)
        return key, cache

    def _draw_map(self, snap: LanderSnapshot, track: np.ndarray) -> None:
        x, y, w, h = self.layout.map
        terrain_key, cache = self._terrain_cache(snap)
        half = view_half_width(snap.altitude_m)
        mpp = half / (min(w, h) / 2.0)
        level = level_for(mpp)
        cell = level_cell_m(level)
        width_l = max(1, round(w * mpp / cell))
        height_l = max(1, round(h * mpp / cell))
        gx0 = round(snap.position[0] / cell - width_l / 2.0)
        gr0 = round(-snap.position[1] / cell - height_l / 2.0)
        key = (terrain_key, level, gx0, gr0, width_l, height_l)
        if key != self._map_key:
            rgb = cache.window(level, gx0, gr0, width_l, height_l)
            source = pygame.image.frombuffer(rgb, (width_l, height_l), "RGB")
            self._map_surface = pygame.transform.smoothscale(source, (w, h))
            self._map_key = key
        self.canvas.blit(self._map_surface, (x, y))
        view = MapView((x, y, w, h), gx0 * cell, -gr0 * cell, w / (width_l * cell), h / (height_l * cell), level)
        self.map_view = view
        self.canvas.set_clip(pygame.Rect(x, y, w, h))
        self._draw_grid(view)
        self._draw_target(view)
        self._draw_track(view, track)
        if not snap.ended:
            self._draw_velocity(view, snap)
        self._draw_lander_top(view, snap)
        self._draw_target_pointer(view, snap)
        self._draw_compass(view, snap)
        self._draw_scale_bar(view)
        if snap.ended:
            self._draw_banner(view, snap)
        self.canvas.set_clip(None)

    def _draw_grid(self, view: MapView) -> None:
        x, y, w, h = view.rect
        width_m = w / view.px_per_m_x
        step = grid_step(view)
        east0 = math.ceil(view.x_left / step) * step
        for east in np.arange(east0, view.x_left + width_m, step):
            sx = view.to_screen(east, 0.0)[0]
            pygame.draw.line(self.canvas, GRID_COLOR, (sx, y), (sx, y + h))
        north_bottom = view.y_top - h / view.px_per_m_y
        north0 = math.ceil(north_bottom / step) * step
        for north in np.arange(north0, view.y_top, step):
            sy = view.to_screen(0.0, north)[1]
            pygame.draw.line(self.canvas, GRID_COLOR, (x, sy), (x + w, sy))

    def _draw_target(self, view: MapView) -> None:
        sx, sy = (float(v) for v in view.to_screen(0.0, 0.0))
        if abs(sx) > TRACK_DRAW_LIMIT_PX or abs(sy) > TRACK_DRAW_LIMIT_PX:
            return
        radius = self.scenario.target_radius_m * view.px_per_m_x
        width = max(2, round(2 * self.layout.scale))
        if 3.0 <= radius < TRACK_DRAW_LIMIT_PX:
            pygame.draw.circle(self.canvas, OUTLINE, (sx, sy), radius + 1, width + 2)
            pygame.draw.circle(self.canvas, TARGET_COLOR, (sx, sy), radius, width)
        arm = max(6.0, 9.0 * self.layout.scale)
        for dx, dy in ((arm, 0.0), (0.0, arm)):
            pygame.draw.line(self.canvas, OUTLINE, (sx - dx, sy - dy), (sx + dx, sy + dy), width + 2)
            pygame.draw.line(self.canvas, TARGET_COLOR, (sx - dx, sy - dy), (sx + dx, sy + dy), width)
        self._blit_text("target", self.small, TARGET_COLOR, (sx + arm + 3, sy + 3), shadow=True)

    def _draw_track(self, view: MapView, track: np.ndarray) -> None:
        sx, sy = view.to_screen(track[:, 0], track[:, 1])
        width = max(2, round(2 * self.layout.scale))
        for run in clipped_runs(np.stack([sx, sy], axis=1), TRACK_DRAW_LIMIT_PX):
            pygame.draw.lines(self.canvas, TRACK_COLOR, False, run.tolist(), width)

    def _draw_velocity(self, view: MapView, snap: LanderSnapshot) -> None:
        p = snap.position
        ahead = p[:2] + VELOCITY_LOOKAHEAD_S * snap.velocity[:2]
        sx0, sy0 = view.to_screen(p[0], p[1])
        sx1, sy1 = view.to_screen(ahead[0], ahead[1])
        dx, dy = float(sx1 - sx0), float(sy1 - sy0)
        length = math.hypot(dx, dy)
        if length < 8.0:
            return
        if length > 0.45 * min(view.rect[2], view.rect[3]):  # keep the arrow on the map
            k = 0.45 * min(view.rect[2], view.rect[3]) / length
            dx, dy, length = dx * k, dy * k, length * k
        tip = (float(sx0) + dx, float(sy0) + dy)
        ux, uy = dx / length, dy / length
        head = max(6.0, 9.0 * self.layout.scale)
        width = max(2, round(2 * self.layout.scale))
        pygame.draw.line(self.canvas, VELOCITY_COLOR, (float(sx0), float(sy0)), tip, width)
        pygame.draw.polygon(self.canvas, VELOCITY_COLOR, arrow_head(tip, (ux, uy), head, 0.5 * head))

    def _draw_lander_top(self, view: MapView, snap: LanderSnapshot) -> None:
        cx, cy = (float(v) for v in view.to_screen(snap.position[0], snap.position[1]))
        scale = view.px_per_m_x
        rotation = quaternion_matrix(snap.attitude)
        foot_px = self.foot_radius_m * scale
        if foot_px >= MIN_SCALE_DRAW_PX:
            feet = np.array(self.scenario.lander.leg_feet_m) @ rotation.T
            body_r = BODY_HALF_WIDTH * self.foot_radius_m * scale
            pad = max(2.0, 0.18 * self.foot_radius_m * scale)
            for fx, fy, _ in feet:
                end = (cx + fx * scale, cy - fy * scale)
                pygame.draw.line(self.canvas, OUTLINE, (cx, cy), end, max(3, round(0.12 * foot_px)) + 2)
                pygame.draw.line(self.canvas, LANDER_COLOR, (cx, cy), end, max(2, round(0.12 * foot_px)))
                pygame.draw.circle(self.canvas, OUTLINE, end, pad + 1)
                pygame.draw.circle(self.canvas, LANDER_COLOR, end, pad)
            pygame.draw.circle(self.canvas, OUTLINE, (cx, cy), body_r + 1)
            pygame.draw.circle(self.canvas, LANDER_BODY, (cx, cy), body_r)
            # The thrust axis leans toward where the lander accelerates: a dot off-centre.
            tz = rotation[:, 2]
            pygame.draw.circle(self.canvas, OUTLINE, (cx + tz[0] * body_r, cy - tz[1] * body_r), max(2.0, 0.2 * body_r))
        else:
            r = max(5.0, 7.0 * self.layout.scale)
            diamond = [(cx, cy - r), (cx + r, cy), (cx, cy + r), (cx - r, cy)]
            pygame.draw.polygon(self.canvas, LANDER_COLOR, diamond)
            pygame.draw.polygon(self.canvas, OUTLINE, diamond, 2)

    def _draw_target_pointer(self, view: MapView, snap: LanderSnapshot) -> None:
        x, y, w, h = view.rect
        sx, sy = (float(v) for v in view.to_screen(0.0, 0.0))
        if x <= sx <= x + w and y <= sy <= y + h:
            return
        cx, cy = x + w / 2.0, y + h / 2.0
        dx, dy = sx - cx, sy - cy
        inset = 26.0 * max(self.layout.scale, 0.6)
        k = min((w / 2.0 - inset) / max(abs(dx), 1e-9), (h / 2.0 - inset) / max(abs(dy), 1e-9))
        px, py = cx + dx * k, cy + dy * k
        n = math.hypot(dx, dy)
        ux, uy = dx / n, dy / n
        size = 12.0 * max(self.layout.scale, 0.7)
        tri = arrow_head((px + ux * size, py + uy * size), (ux, uy), 1.6 * size, 0.7 * size)
        pygame.draw.polygon(self.canvas, TARGET_COLOR, tri)
        pygame.draw.polygon(self.canvas, OUTLINE, tri, 1)
        self._blit_text(f"target {format_length(snap.distance_to_target)}", self.small, TARGET_COLOR,
                        (px - ux * size * 2.2, py - uy * size * 2.2), anchor="center", shadow=True)

    def _draw_compass(self, view: MapView, snap: LanderSnapshot) -> None:
        pad = self.layout.pad
        r = max(14.0, 22.0 * self.layout.scale)
        cx, cy = view.rect[0] + pad + r, view.rect[1] + pad + r + self.small.get_height()
        pygame.draw.circle(self.canvas, PANEL, (cx, cy), r)
        pygame.draw.circle(self.canvas, PANEL_EDGE, (cx, cy), r, 1)
        pygame.draw.polygon(self.canvas, TEXT, arrow_head((cx, cy - r + 3), (0.0, -1.0), 1.2 * r - 3, 0.3 * r))
        self._blit_text("N", self.small, TEXT, (cx, cy - r - 1), anchor="midbottom", shadow=True)
        az, el = self._sun[snap.tile]
        sx = cx + r * math.sin(math.radians(az))
        sy = cy - r * math.cos(math.radians(az))
        pygame.draw.circle(self.canvas, SUN_COLOR, (sx, sy), max(4.0, 5.0 * self.layout.scale))
        self._blit_text(f"sun {az:.0f}° az, {el:.1f}° el", self.small, SUN_COLOR, (view.rect[0] + pad, cy + r + 4),
                        shadow=True)

    def _draw_scale_bar(self, view: MapView) -> None:
        x, y, _, h = view.rect
        pad = self.layout.pad
        length_m = grid_step(view)  # the scale bar is one grid square
        length_px = length_m * view.px_per_m_x
        bx, by = x + pad, y + h - pad - 4
        for color, width in ((OUTLINE, 5), (TEXT, 2)):
            pygame.draw.line(self.canvas, color, (bx, by), (bx + length_px, by), width)
            pygame.draw.line(self.canvas, color, (bx, by - 6), (bx, by + 2), width)
            pygame.draw.line(self.canvas, color, (bx + length_px, by - 6), (bx + length_px, by + 2), width)
        self._blit_text(format_length(length_m), self.small, TEXT, (bx + length_px / 2, by - 8), anchor="midbottom",
                        shadow=True)

    def _draw_banner(self, view: MapView, snap: LanderSnapshot) -> None:
        """The verdict and the touchdown metrics, over the top of the map."""
        text, color = verdict(snap.outcome)
        title = self._text(text, self.big, color)
        details = [self._text(part, self.small, TEXT) for part in _wrap_touchdown(hud_strings(snap)["touchdown"])]
        pad = self.layout.pad
        width = max(s.get_width() for s in [title, *details]) + 3 * pad
        height = title.get_height() + sum(s.get_height() + 2 for s in details) + pad
        x, y, w, _ = view.rect
        box = pygame.Rect(0, 0, width, height)
        box.midtop = (x + w // 2, y + 2 * pad)
        backdrop = pygame.Surface(box.size, pygame.SRCALPHA)
        backdrop.fill((*PANEL, BANNER_ALPHA))
        self.canvas.blit(backdrop, box)
        pygame.draw.rect(self.canvas, color, box, 2)
        top = box.top + pad // 2
        self.canvas.blit(title, title.get_rect(midtop=(box.centerx, top)))
        top += title.get_height()
        for surf in details:
            self.canvas.blit(surf, surf.get_rect(midtop=(box.centerx, top)))
            top += surf.get_height() + 2

    # ------------------------------------------------------------------ HUD
    def _draw_hud(self, snap: LanderSnapshot) -> None:
        lay = self.layout
        x, y, w, h = lay.hud
        pygame.draw.rect(self.canvas, PANEL, (x, y, w, h))
        pygame.draw.line(self.canvas, PANEL_EDGE, (x, y), (x, y + lay.size[1]), 1)
        strings = hud_strings(snap)
        left, right = x + lay.pad, x + w - lay.pad
        row = y + lay.pad
        spec = self.scenario.lander
        self._blit_text(f"{self.scenario.name} · {self.mode.upper()} · {spec.name}", self.small, TEXT_DIM, (left, row))
        row += lay.line + 2

        def line(label, value, color=TEXT):
            nonlocal row
            self._blit_text(label, self.small, TEXT_DIM, (left, row + 2))
            self._blit_text(value, self.font, color, (right, row), anchor="topright")
            row += lay.line

        near = snap.altitude_m < NEAR_GROUND_M  # touchdown limits matter only in the last metres

        def limit(value, bound):
            return WARN_COLOR if value > bound else TEXT

        line("TIME", strings["time"])
        line("ALTITUDE", strings["altitude"])
        line("VERTICAL SPEED", strings["vertical_speed"],
             limit(-snap.velocity[2] if near else 0.0, spec.max_vertical_speed_mps))
        line("HORIZONTAL SPEED", strings["horizontal_speed"],
             limit(snap.horizontal_speed if near else 0.0, spec.max_horizontal_speed_mps))
        line("TILT", strings["tilt"], limit(snap.tilt_deg if near else 0.0, spec.max_tilt_deg))
        line("TO TARGET", strings["distance"],
             TEXT if snap.distance_to_target <= self.scenario.target_radius_m else TEXT_DIM)
        low = snap.propellant_fraction <= LOW_PROPELLANT_FRACTION
        line("PROPELLANT", strings["propellant"], WARN_COLOR if low else TEXT)
        bar_h = max(4, round(6 * lay.scale))
        pygame.draw.rect(self.canvas, BAR_BACK, (left, row, right - left, bar_h))
        pygame.draw.rect(self.canvas, WARN_COLOR if low else OK_COLOR,
                         (left, row, round((right - left) * min(1.0, snap.propellant_fraction)), bar_h))
        row += bar_h + lay.line // 2
        self._draw_throttle(snap, left, right, row)
        row += round(lay.line * 2.6)
        self._blit_text("SENSORS", self.small, TEXT_DIM, (left, row + 2))
        sx = right
        for label in reversed(list(snap.sensors)):
            color = OK_COLOR if snap.sensors[label] else BAD_COLOR
            rect = self._blit_text(label, self.small, color, (sx, row + 2), anchor="topright")
            pygame.draw.circle(self.canvas, color, (rect.left - 7, rect.centery), max(3, round(4 * lay.scale)))
            sx = rect.left - 16
        row += lay.line
        line("ALTIMETER", strings["altimeter"], TEXT if snap.sensors["ALT"] else BAD_COLOR)
        faults = strings["faults"]
        self._blit_text("FAULTS", self.small, TEXT_DIM, (left, row + 2))
        self._blit_text(faults, self.small if len(faults) > 18 else self.font, BAD_COLOR if snap.faults else TEXT_DIM,
                        (right, row), anchor="topright")
        row += lay.line
        if snap.ended:
            text, color = verdict(snap.outcome)
            line("OUTCOME", text, color)

    def _draw_throttle(self, snap: LanderSnapshot, left: int, right: int, top: int) -> None:
        lay = self.layout
        self._blit_text("THROTTLE", self.small, TEXT_DIM, (left, top + 2))
        mean = float(np.mean(snap.throttle))
        self._blit_text(f"{100 * mean:.0f}%", self.font, TEXT, (left, top + lay.line), anchor="topleft")
        n = len(snap.throttle)
        area_left = left + (right - left) * 0.42
        slot = (right - area_left) / n
        bar_w = max(4, min(round(16 * lay.scale), round(slot * 0.6)))
        bar_h = round(lay.line * 1.7)
        for k in range(n):
            bx = round(area_left + slot * (k + 0.5) - bar_w / 2)
            pygame.draw.rect(self.canvas, BAR_BACK, (bx, top, bar_w, bar_h))
            # The bar is the thrust the engine gives, as a fraction of its rating: throttle x health.
            fill = round(bar_h * min(1.0, max(0.0, float(snap.throttle[k] * snap.health[k]))))
            failed = snap.health[k] < 1.0
            pygame.draw.rect(self.canvas, WARN_COLOR if failed else FLAME_COLOR, (bx, top + bar_h - fill, bar_w, fill))
            if failed:  # the most this engine can give now
                cap = top + bar_h - round(bar_h * max(0.0, float(snap.health[k])))
                pygame.draw.line(self.canvas, BAD_COLOR, (bx - 2, cap), (bx + bar_w + 1, cap), 2)
            self._blit_text(
                str(k + 1),
                self.small,
                BAD_COLOR if failed else TEXT_DIM,
                (bx + bar_w / 2, top + bar_h + 1),
                anchor="midtop",
            )

    # ------------------------------------------------------------------ side profile
    def _draw_profile(self, snap: LanderSnapshot, track: np.ndarray) -> None:
        lay = self.layout
        x, y, w, h = lay.profile
        clip = pygame.Rect(x + 1, y, w - 1, h)
        pygame.draw.rect(self.canvas, SKY, clip)
        pygame.draw.line(self.canvas, PANEL_EDGE, (x, y), (x + w, y), 1)
        self.canvas.set_clip(clip)
        altitude = max(0.0, snap.altitude_m)
        ppm = min(w / PROFILE_MIN_SPAN_M, PROFILE_ALTITUDE_FILL * h / max(altitude, 1.0))
        lander_x = x + PROFILE_LANDER_X * w
        ground_y = y + PROFILE_GROUND_Y * h
        z_ref = snap.ground_height_m

        def screen_y(z):
            return np.clip(ground_y - (np.asarray(z) - z_ref) * ppm, y - 4000, y + h + 4000)

        # Along-track distance s of the flown track, measured back from the lander.
        steps = np.hypot(np.diff(track[:, 0]), np.diff(track[:, 1]))
        back = np.concatenate([np.cumsum(steps[::-1])[::-1], [0.0]])  # metres behind the lander
        behind_span = PROFILE_LANDER_X * w / ppm
        first = max(0, int(np.searchsorted(-back, -behind_span * 1.05)) - 1)
        past = track[first:]
        past_back = back[first:]
        horizontal = snap.position[:2]
        distance = snap.distance_to_target
        if distance > 0.5:
            ahead_dir = -horizontal / distance
        elif len(track) > 1 and steps[-1] > 1e-6:
            ahead_dir = (track[-1, :2] - track[-2, :2]) / steps[-1]
        else:
            ahead_dir = np.array([1.0, 0.0])
        sampler = self.sampler(snap.tile)
        site = snap.site
        ahead_span = (1.0 - PROFILE_LANDER_X) * w / ppm
        u = np.linspace(0.0, ahead_span * 1.02, PROFILE_AHEAD_SAMPLES)
        ahead_pts = horizontal[None, :] + u[:, None] * ahead_dir[None, :]
        ahead_ground = sampler.heights(ahead_pts[:, 0] + site[0], ahead_pts[:, 1] + site[1]) - site[2]
        # Where the flown track is shorter than the view, continue the line backwards.
        missing = behind_span * 1.02 - past_back[0]
        xs = [lander_x - past_back * ppm, lander_x + u * ppm]
        zs = [past[:, 3], ahead_ground]
        if missing > 0:
            start = past[0, :2]
            v = np.linspace(missing, 0.0, PROFILE_AHEAD_SAMPLES // 2, endpoint=False)
            back_pts = start[None, :] - v[:, None] * ahead_dir[None, :]
            back_ground = sampler.heights(back_pts[:, 0] + site[0], back_pts[:, 1] + site[1]) - site[2]
            xs.insert(0, lander_x - (past_back[0] + v) * ppm)
            zs.insert(0, back_ground)
        gx = np.concatenate(xs)
        gy = screen_y(np.concatenate(zs))
        polygon = np.concatenate([np.stack([gx, gy], axis=1), [[gx[-1], y + h + 2], [gx[0], y + h + 2]]])
        pygame.draw.polygon(self.canvas, GROUND_FILL, polygon.tolist())
        pygame.draw.lines(self.canvas, GROUND_EDGE, False, np.stack([gx, gy], axis=1).tolist(), 2)

        # Target zone on the line ahead.
        target_x = lander_x + distance * ppm
        radius = self.scenario.target_radius_m * ppm
        if target_x - radius < x + w and distance > 0.5:
            site_ground = float(sampler.heights(site[0], site[1])) - site[2]
            ty = float(screen_y(site_ground))
            zone = ((max(x, target_x - radius), ty + 3), (min(x + w, target_x + radius), ty + 3))
            pygame.draw.line(self.canvas, TARGET_COLOR, *zone, max(3, round(4 * lay.scale)))
            pole = 18 * lay.scale  # a flag on the site
            pygame.draw.line(self.canvas, TARGET_COLOR, (target_x, ty), (target_x, ty - pole), 2)
            flag = [(target_x, ty - pole), (target_x + 0.55 * pole, ty - 0.78 * pole), (target_x, ty - 0.55 * pole)]
            pygame.draw.polygon(self.canvas, TARGET_COLOR, flag)

        # Flight path so far.
        path = np.stack([lander_x - past_back * ppm, screen_y(past[:, 2])], axis=1)
        if len(path) > 1:
            pygame.draw.lines(self.canvas, TRACK_COLOR, False, path.tolist(), 2)
        self._draw_lander_side(snap, lander_x, float(screen_y(snap.position[2])), ppm, ahead_dir)

        # Scale bar and labels.
        self.canvas.set_clip(None)
        length_m = nice_length(0.3 * h / ppm)
        bx = x + w - lay.pad
        by = y + h - lay.pad
        pygame.draw.line(self.canvas, TEXT, (bx, by), (bx, by - length_m * ppm), 2)
        for tick in (by, by - length_m * ppm):
            pygame.draw.line(self.canvas, TEXT, (bx - 5, tick), (bx, tick), 2)
        self._blit_text(
            format_length(length_m), self.small, TEXT, (bx - 8, by - length_m * ppm / 2), anchor="midright", shadow=True
        )
        self._blit_text("SIDE PROFILE  (target ahead ->)", self.small, TEXT_DIM, (x + lay.pad, y + lay.pad // 2))

    def _draw_lander_side(self, snap: LanderSnapshot, cx: float, cy: float, ppm: float, ahead_dir: np.ndarray) -> None:
        bz = snap.body_z
        theta = math.atan2(float(bz[0] * ahead_dir[0] + bz[1] * ahead_dir[1]), float(bz[2]))
        c, s = math.cos(theta), math.sin(theta)

        def to_screen(points):  # body (across, up) metres -> screen pixels, tilted by theta
            return [(cx + (a * c + z * s) * ppm, cy - (-a * s + z * c) * ppm) for a, z in points]

        foot_r, depth = self.foot_radius_m, self.foot_depth_m
        if foot_r * ppm < MIN_SCALE_DRAW_PX:
            r = max(5.0, 7.0 * self.layout.scale)
            tri = [(cx, cy - r), (cx + r * 0.8, cy + r * 0.7), (cx - r * 0.8, cy + r * 0.7)]
            pygame.draw.polygon(self.canvas, LANDER_COLOR, tri)
            pygame.draw.polygon(self.canvas, OUTLINE, tri, 1)
            return
        half = BODY_HALF_WIDTH * foot_r
        top, bottom = BODY_TOP * depth, -BODY_BOTTOM * depth
        throttle = 0.0 if snap.ended else float(np.mean(snap.throttle))
        if throttle > 0.01:
            flame = to_screen(
                [
                    (-0.25 * half, bottom - 0.25 * depth),
                    (0.25 * half, bottom - 0.25 * depth),
                    (0.0, bottom - 0.25 * depth - (0.4 + 1.4 * throttle) * depth),
                ]
            )
            pygame.draw.polygon(self.canvas, FLAME_COLOR, flame)
        nozzle = to_screen(
            [
                (-0.18 * half, bottom),
                (0.18 * half, bottom),
                (0.3 * half, bottom - 0.25 * depth),
                (-0.3 * half, bottom - 0.25 * depth),
            ]
        )
        pygame.draw.polygon(self.canvas, NOZZLE_COLOR, nozzle)
        width = max(2, round(0.06 * foot_r * ppm))
        for side in (-1.0, 1.0):
            leg = to_screen([(side * half * 0.8, bottom * 0.3), (side * foot_r, -depth)])
            pygame.draw.line(self.canvas, LANDER_COLOR, leg[0], leg[1], width)
            pad = to_screen([(side * foot_r - 0.15 * foot_r, -depth), (side * foot_r + 0.15 * foot_r, -depth)])
            pygame.draw.line(self.canvas, LANDER_COLOR, pad[0], pad[1], width + 1)
        body = to_screen([(-half, bottom), (half, bottom), (half, top), (-half, top)])
        pygame.draw.polygon(self.canvas, LANDER_BODY, body)
        pygame.draw.polygon(self.canvas, OUTLINE, body, 1)


def _wrap_touchdown(text: str) -> list[str]:
    """Split the touchdown line in two at the tilt value, so it fits the panel."""
    if "tilt" in text:
        head, tail = text.split("  tilt", 1)
        return [head, "tilt" + tail]
    return [text]


def _check_size(size) -> tuple[int, int]:
    try:
        width, height = (int(v) for v in size)
    except (TypeError, ValueError):
        raise ValueError(f"size must be a (width, height) pair of integers, got {size!r}") from None
    if not (MIN_SIZE[0] <= width <= MAX_SIZE[0] and MIN_SIZE[1] <= height <= MAX_SIZE[1]):
        raise ValueError(
            f"size must be between {MIN_SIZE[0]}x{MIN_SIZE[1]} and {MAX_SIZE[0]}x{MAX_SIZE[1]} px, got {width}x{height}"
        )
    if width <= height:
        raise ValueError(f"size must be wider than tall (the map is beside the panel), got {width}x{height}")
    return width, height


# =========================================================================== environment helper
class LanderView:
    """One lander of a batch as an environment renders it: the ground track is recorded at every
    step (a snapshot costs tens of microseconds) and a frame is drawn on request.

    Args:
        batch: the environment's LanderBatch.
        index: the lander drawn.
        render_mode: "human" (a frame is shown at every reset and step) or "rgb_array".
        size, fps: as for :class:`LanderRenderer`.
    """

    def __init__(
        self,
        batch,
        index: int = 0,
        render_mode: str = "rgb_array",
        size: tuple[int, int] = DEFAULT_SIZE,
        fps: float | None = None,
    ):
        self.index = check_integer("render_lander", index, 0, batch.num_landers - 1)
        self.batch = batch
        self.renderer = LanderRenderer.for_batch(batch, render_mode=render_mode, size=size, fps=fps)
        self._track = np.zeros((256, 4))
        self._count = 0
        self._snap: LanderSnapshot | None = None

    @property
    def render_mode(self) -> str:
        return self.renderer.render_mode

    @property
    def track(self) -> np.ndarray:
        """(k, 4) [east, north, up, ground height] rows of the current episode (a view)."""
        return self._track[: self._count]

    def record(self) -> LanderSnapshot:
        """Snapshot the lander and extend its track; a new episode restarts the track."""
        snap = self.renderer.capture(self.batch, self.index)
        last = self._snap
        if last is not None and (snap.episode != last.episode or snap.steps < last.steps):
            self._count = 0
        elif last is not None and snap.steps == last.steps and self._count:
            self._count -= 1  # no step since the last record: refresh that point
        if self._count == len(self._track):
            self._track = np.concatenate([self._track, np.zeros_like(self._track)])
        self._track[self._count] = (*snap.position, snap.ground_height_m)
        self._count += 1
        self._snap = snap
        return snap

    def reset(self, mask: np.ndarray | None = None) -> None:
        """Call after a batch reset of the landers in ``mask`` (all when None): when the drawn
        lander is among them its track starts anew (and human mode shows it)."""
        if mask is not None and not mask[self.index]:
            self.step()
            return
        self._count = 0
        self._snap = None
        self.record()
        if self.render_mode == "human":
            self.renderer.draw(self._snap, self.track)

    def step(self) -> None:
        """Call after every batch step."""
        self.record()
        if self.render_mode == "human":
            self.renderer.draw(self._snap, self.track)

    def render(self) -> np.ndarray | None:
        """The current frame ((H, W, 3) uint8) in rgb_array mode; None in human mode."""
        snap = self.record()
        return self.renderer.draw(snap, self.track)

    def close(self) -> None:
        self.renderer.close()
