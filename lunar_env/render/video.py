"""Writing rendered frames to .mp4 (H.264 through imageio-ffmpeg) or .gif (through imageio's
Pillow plugin), atomically: frames go to a temporary file beside the target, which replaces the
target only when the video is complete, so an interrupted render never leaves half a file.
"""

from __future__ import annotations

import math
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from lunar_env.checks import check_int
from lunar_env.config import check_range
from lunar_env.render import require

VIDEO_SUFFIXES = (".mp4", ".gif")
MP4_QUALITY = 8  # imageio-ffmpeg's 0-10 scale (10 best): keeps the HUD text crisp, ~8 MB a minute at 960 x 640
MAX_FPS = 240.0
GIF_MEMORY_LIMIT_BYTES = 1 << 30
"""A GIF is encoded at the end from frames held in memory; past this size use .mp4 or fewer frames."""


def check_video_path(path: str | os.PathLike) -> Path:
    """The path as a Path, or ValueError when its suffix is not a supported video format."""
    out = Path(path)
    if out.suffix.lower() not in VIDEO_SUFFIXES:
        raise ValueError(f"video path must end in one of {VIDEO_SUFFIXES}, got {str(path)!r}")
    return out


def check_video_settings(fps: float, gif_colors: int = 256) -> tuple[float, int]:
    """(fps, gif_colors) validated: fps in (0, MAX_FPS], gif_colors an integer in [2, 256]."""
    fps = check_range("VideoWriter", "fps", fps, 0.0, MAX_FPS, low_open=True)
    return fps, check_int("VideoWriter", "gif_colors", gif_colors, 2, 256)


def require_imageio(path: str | os.PathLike) -> None:
    """Raise RenderDependencyError now, before any work, when what writing ``path`` needs is missing."""
    require("imageio", "imageio", "writing videos")
    if Path(path).suffix.lower() == ".mp4":
        require("imageio_ffmpeg", "imageio-ffmpeg", "writing .mp4 videos")


class VideoWriter:
    """Append (H, W, 3) uint8 RGB frames, then ``close()`` to publish the file.

    Use as a context manager: on an exception the temporary file is removed and the target is
    left as it was. ``append(frame, repeat=k)`` shows a frame for k frame periods (an .mp4
    repeats it; a .gif lengthens its duration, since GIF players merge identical frames).

    ``gif_colors`` (2-256) caps the colours of each GIF frame: fewer colours, smaller file.

    Attributes after close: ``frames`` (frames a decoder returns), ``duration_s`` (playing time).
    """

    def __init__(self, path: str | os.PathLike, fps: float, gif_colors: int = 256):
        self.path = check_video_path(path)
        self.fps, self.gif_colors = check_video_settings(fps, gif_colors)
        self.kind = self.path.suffix.lower()
        require_imageio(self.path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{self.path.stem}.", suffix=f".tmp{self.kind}", dir=self.path.parent)
        os.close(fd)
        self._tmp = Path(tmp)
        self._shape: tuple[int, ...] | None = None
        self._mp4 = None
        self._gif_frames: list[np.ndarray] = []
        self._gif_periods: list[int] = []
        self.frames = 0
        self.periods = 0
        self.closed = False

    @property
    def duration_s(self) -> float:
        return self.periods / self.fps

    def _check(self, frame) -> np.ndarray:
        arr = np.asarray(frame)
        if arr.ndim != 3 or arr.shape[2] != 3 or arr.dtype != np.uint8:
            raise ValueError(
                f"video frames must be (H, W, 3) uint8 RGB arrays, got shape {arr.shape} dtype {arr.dtype}"
            )
        if self._shape is None:
            self._shape = arr.shape
        elif arr.shape != self._shape:
            raise ValueError(f"all video frames must have one shape: first {self._shape}, now {arr.shape}")
        return arr

    def append(self, frame, repeat: int = 1) -> None:
        """Add a frame shown for ``repeat`` frame periods."""
        if self.closed:
            raise ValueError("cannot append to a closed VideoWriter")
        check_int("VideoWriter.add_frame", "repeat", repeat, 1)
        arr = self._check(frame)
        if self.kind == ".mp4":
            self._append_mp4(arr, int(repeat))
        else:
            self._append_gif(arr, int(repeat))
        self.periods += int(repeat)

    def _append_mp4(self, arr: np.ndarray, repeat: int) -> None:
        if arr.shape[0] % 2 or arr.shape[1] % 2:
            # H.264 in yuv420p needs even sides: repeat the last row / column.
            arr = np.pad(arr, ((0, arr.shape[0] % 2), (0, arr.shape[1] % 2), (0, 0)), mode="edge")
        if self._mp4 is None:
            import imageio.v2 as imageio

            self._mp4 = imageio.get_writer(
                self._tmp,
                format="FFMPEG",
                fps=self.fps,
                codec="libx264",
                pixelformat="yuv420p",
                quality=MP4_QUALITY,
                macro_block_size=1,
                ffmpeg_log_level="error",
            )
        for _ in range(repeat):
            self._mp4.append_data(arr)
        self.frames += repeat

    def _append_gif(self, arr: np.ndarray, repeat: int) -> None:
        if self.gif_colors < 256:
            from PIL import Image  # imageio's own image backend

            quantized = Image.fromarray(arr).quantize(
                colors=self.gif_colors, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE
            )
            arr = np.asarray(quantized.convert("RGB"))
        if self._gif_frames and np.array_equal(arr, self._gif_frames[-1]):
            self._gif_periods[-1] += repeat  # the encoder would merge identical neighbours anyway
            return
        if (len(self._gif_frames) + 1) * arr.nbytes > GIF_MEMORY_LIMIT_BYTES:
            raise ValueError(
                f"this GIF would hold more than {GIF_MEMORY_LIMIT_BYTES >> 20} MB of frames; "
                "write an .mp4 or render fewer or smaller frames"
            )
        self._gif_frames.append(np.array(arr, copy=True))
        self._gif_periods.append(repeat)
        self.frames += 1

    def close(self) -> Path:
        """Finish encoding and move the file into place; returns its path."""
        if self.closed:
            return self.path
        try:
            if self.frames == 0:
                raise ValueError(f"no frames were written to {self.path}")
            if self.kind == ".mp4":
                self._mp4.close()
            else:
                import imageio.v3 as iio

                # GIF delays are whole centiseconds; round each frame's period to them.
                durations = [max(1, round(100.0 * k / self.fps)) * 10 for k in self._gif_periods]
                iio.imwrite(
                    self._tmp, np.stack(self._gif_frames), extension=".gif", plugin="pillow", duration=durations, loop=0
                )
                self._gif_frames.clear()
            os.chmod(self._tmp, 0o666 & ~_umask())  # mkstemp made it private; give it a new file's mode
            os.replace(self._tmp, self.path)
        except BaseException:
            self.abort()
            raise
        self.closed = True
        return self.path

    def abort(self) -> None:
        """Drop the temporary file; the target path is left untouched."""
        self.closed = True
        if self._mp4 is not None:
            try:
                self._mp4.close()
            except Exception:  # the encoder may already be broken; the file is discarded anyway
                pass
            self._mp4 = None
        self._gif_frames.clear()
        self._tmp.unlink(missing_ok=True)

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()

    def __del__(self):
        if not getattr(self, "closed", True):
            self.abort()


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_video(path: str | os.PathLike, frames: Iterable[np.ndarray], fps: float, gif_colors: int = 256) -> Path:
    """Write an iterable of (H, W, 3) uint8 frames to ``path`` (.mp4 or .gif) atomically."""
    with VideoWriter(path, fps, gif_colors=gif_colors) as writer:
        for frame in frames:
            writer.append(frame)
    return writer.path


def frames_for_duration(seconds: float, fps: float) -> int:
    """Whole frame periods closest to ``seconds`` at ``fps`` (at least 0)."""
    return max(0, int(math.floor(seconds * fps + 0.5)))
