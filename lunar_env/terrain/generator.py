"""Procedural south-pole terrain: relief noise, craters and boulders drawn onto height grids.

The surface is a pure function of world coordinates (East x, North y, metres):

    z(x, y) = regional plane + multi-scale relief noise + sum of crater profiles + sum of rock bumps

so a coarse grid of the whole region and a fine grid around the site sample the *same* terrain:
the coarse grid takes the noise octaves and craters it can resolve, the fine grid takes all of
them plus the small craters and the rocks. The random lists (craters, rocks) are drawn here with
numpy generators; the heavy per-sample work is compiled with numba.

Models and sources (docs/terrain.md has the formulas in full):
- crater sizes: cumulative N(>D) per area proportional to D^-b, b = 2 on saturated surfaces
  (Minton et al., Icarus 2019), b = 2.8 on young ones for 1-100 m craters (Moore et al. 1980);
  diameters drawn by inverse-CDF sampling of the truncated power law.
- crater shape: parabolic bowl of rim-to-floor depth d (d/D 0.1-0.2: Pike 1977, Sun et al. 2018),
  raised rim of height about 0.036 D (Pike 1977), ejecta thinning as r^-3 (McGetchin et al.
  1973); degraded craters are shallower, with lower, rounder rims.
- rocks: cumulative fractional area covered by rocks of diameter >= D is F(D) = k exp(-q D),
  q = 1.79 + 0.152 / k (Golombek et al. 2003, NTRS 20030111177).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numba import njit

# --------------------------------------------------------------------------- model constants

CRATER_REFERENCE_DIAMETER_M = 10.0
"""Diameter (m) at which the crater density N(>D) per km^2 is given."""

EJECTA_OUTER_RADII = 3.0
"""Continuous ejecta end at this many crater radii from the centre (its thickness there is
1/27 of the rim height, following the r^-3 law of McGetchin et al. 1973)."""

FRESH_DEGRADATION_MAX = 0.15
"""Degradation state s in [0, 1]: fresh craters draw s below this value, degraded ones above."""

RIM_HEIGHT_LOSS = 0.8
"""A crater of degradation s keeps a rim of (1 - RIM_HEIGHT_LOSS * s) times its fresh height (est.)."""

RIM_FILLET_FRESH = 0.05
"""Half-width (crater radii) of the rounded rim crest of a fresh crater (est.)."""

RIM_FILLET_PER_DEGRADATION = 0.35
"""Extra rim-crest half-width (crater radii) per unit degradation: a fully degraded crater's
rim is rounded over 0.4 radii on each side of the crest (est.)."""

ROCK_EJECTA_RADII = (1.0, 2.0)
"""Rocks placed "near fresh craters" fall in this annulus (crater radii): the blocky ejecta."""

ROCK_SIZE_BINS = 48
"""Logarithmic diameter bins used to turn F(D) into rock counts."""

ROCK_BIN_QUADRATURE_NODES = 8
"""Gauss-Legendre nodes per bin for the expected count integral."""

NOISE_NORMALISATION = math.sqrt(2.0)
"""2-D gradient noise with unit gradients spans about +-1/sqrt(2); this scales it to about +-1."""

CRATER_KIND_REGIONAL = 0
"""A crater of the regional population (resolved by the coarse grid)."""
CRATER_KIND_LOCAL = 1
"""A crater of the local population (smaller than the coarse grid resolves; fine grid only)."""
CRATER_KIND_RIM = 2
"""The large crater deliberately placed for rim-crossing approaches."""

_GOLDEN_GAMMA = np.uint64(0x9E3779B97F4A7C15)
_MIX_1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX_2 = np.uint64(0x94D049BB133111EB)
_Y_MULTIPLIER = np.uint64(0xD6E8FEB86659FD93)
_S30 = np.uint64(30)
_S27 = np.uint64(27)
_S31 = np.uint64(31)
_S60 = np.uint64(60)
_GRADIENT_DIRECTIONS = 16
_GRAD_X = np.cos(2.0 * np.pi * np.arange(_GRADIENT_DIRECTIONS) / _GRADIENT_DIRECTIONS)
_GRAD_Y = np.sin(2.0 * np.pi * np.arange(_GRADIENT_DIRECTIONS) / _GRADIENT_DIRECTIONS)


# --------------------------------------------------------------------------- feature lists


@dataclass(frozen=True)
class CraterList:
    """Craters as parallel arrays, each of shape (n,).

    Attributes:
        x, y: centre East and North (m, tile coordinates).
        diameter: rim-crest diameter D (m).
        depth: rim-crest-to-floor depth d (m).
        rim_height: rim height above the surrounding surface (m).
        degradation: state s in [0, 1], 0 fresh, 1 most degraded.
        kind: int8, CRATER_KIND_REGIONAL, CRATER_KIND_LOCAL or CRATER_KIND_RIM.
    """

    x: np.ndarray
    y: np.ndarray
    diameter: np.ndarray
    depth: np.ndarray
    rim_height: np.ndarray
    degradation: np.ndarray
    kind: np.ndarray

    @property
    def size(self) -> int:
        return int(self.x.shape[0])

    @property
    def depth_diameter_ratio(self) -> np.ndarray:
        return self.depth / self.diameter

    @property
    def fresh(self) -> np.ndarray:
        """Boolean mask of fresh craters."""
        return self.degradation < FRESH_DEGRADATION_MAX

    def select(self, mask: np.ndarray) -> CraterList:
        return CraterList(*(getattr(self, f)[mask] for f in _CRATER_FIELDS))

    @staticmethod
    def empty() -> CraterList:
        z = np.zeros(0)
        return CraterList(z, z, z, z, z, z, np.zeros(0, dtype=np.int8))

    @staticmethod
    def concat(*lists: CraterList) -> CraterList:
        return CraterList(*(np.concatenate([getattr(c, f) for c in lists]) for f in _CRATER_FIELDS))


_CRATER_FIELDS = ("x", "y", "diameter", "depth", "rim_height", "degradation", "kind")


@dataclass(frozen=True)
class RockList:
    """Boulders as parallel arrays of shape (n,): centre x, y (m), diameter (m), height (m)."""

    x: np.ndarray
    y: np.ndarray
    diameter: np.ndarray
    height: np.ndarray

    @property
    def size(self) -> int:
        return int(self.x.shape[0])

    def select(self, mask: np.ndarray) -> RockList:
        return RockList(self.x[mask], self.y[mask], self.diameter[mask], self.height[mask])

    @staticmethod
    def empty() -> RockList:
        z = np.zeros(0)
        return RockList(z, z, z, z)


@dataclass(frozen=True)
class ReliefNoise:
    """Octaves of rotated gradient noise: octave i has wavelength ``wavelength_max / 2**i``.

    Arrays have shape (octaves,). Each octave is rotated and shifted by its own random amount
    so the lattices of different octaves never line up.
    """

    keys: np.ndarray  # (octaves,) uint64 hash keys
    wavelength_m: np.ndarray
    amplitude_m: np.ndarray
    cos_rotation: np.ndarray
    sin_rotation: np.ndarray
    offset: np.ndarray  # (octaves, 2) lattice units

    def octaves_down_to(self, min_wavelength_m: float) -> np.ndarray:
        """Indices of the octaves a grid resolving ``min_wavelength_m`` includes."""
        return np.flatnonzero(self.wavelength_m >= min_wavelength_m * (1.0 - 1e-9))


def make_relief_noise(rng: np.random.Generator, amplitude_m: float, wavelength_max_m: float,
                      wavelength_min_m: float, hurst: float) -> ReliefNoise:
    """Fractal relief: octave amplitudes ``amplitude_m * (wavelength / wavelength_max) ** hurst``.

    A Hurst exponent H gives height differences growing as baseline^H (fractional Brownian
    surface); H = 1 makes the slope of every octave equal.
    """
    count = max(1, int(math.floor(math.log2(wavelength_max_m / wavelength_min_m) + 1e-9)) + 1)
    wavelengths = wavelength_max_m / 2.0 ** np.arange(count)
    amplitudes = amplitude_m * (wavelengths / wavelength_max_m) ** hurst
    angles = rng.uniform(0.0, 2.0 * np.pi, count)
    offsets = rng.uniform(0.0, 1024.0, (count, 2))
    keys = rng.integers(0, 2**63 - 1, count).astype(np.uint64)
    return ReliefNoise(keys, wavelengths, amplitudes, np.cos(angles), np.sin(angles), offsets)


def power_law_diameters(rng: np.random.Generator, n: int, d_min: float, d_max: float, exponent: float) -> np.ndarray:
    """n diameters (m) from the truncated cumulative power law N(>D) ~ D^-b on [d_min, d_max].

    Inverse-CDF sampling: P(D > x) = (x^-b - d_max^-b) / (d_min^-b - d_max^-b), so with u uniform
    D = (d_min^-b - u (d_min^-b - d_max^-b))^(-1/b).
    """
    u = rng.random(n)
    lo = d_min ** -exponent
    hi = d_max ** -exponent
    return (lo - u * (lo - hi)) ** (-1.0 / exponent)


def expected_crater_count(area_m2: float, density_per_km2: float, exponent: float, d_min: float, d_max: float) -> float:
    """Mean number of craters with d_min <= D < d_max on ``area_m2``.

    ``density_per_km2`` is N(>CRATER_REFERENCE_DIAMETER_M) per km^2; N(>D) scales as D^-b.
    """
    per_m2 = density_per_km2 * 1e-6
    ref = CRATER_REFERENCE_DIAMETER_M
    return area_m2 * per_m2 * ((d_min / ref) ** -exponent - (d_max / ref) ** -exponent)


def sample_craters(rng: np.random.Generator, bounds: tuple[float, float, float, float], d_range: tuple[float, float],
                   *, density_per_km2: float, exponent: float, depth_diameter: tuple[float, float],
                   rim_height_ratio: float, degraded_fraction: float, kind: int) -> CraterList:
    """Craters with d_range[0] <= D < d_range[1] centred uniformly in bounds (x0, x1, y0, y1).

    The count is Poisson with the mean the power law gives for the area. A fraction
    ``degraded_fraction`` is old: degradation s ~ U(FRESH_DEGRADATION_MAX, 1), the rest fresh with
    s ~ U(0, FRESH_DEGRADATION_MAX). Depth/diameter falls linearly with s from the top of
    ``depth_diameter`` (fresh, Pike 1977) to its bottom (most degraded), so every crater stays in
    the observed range; the rim height ``rim_height_ratio * D`` shrinks by RIM_HEIGHT_LOSS * s.
    """
    d_min, d_max = d_range
    x0, x1, y0, y1 = bounds
    if d_max <= d_min or x1 <= x0 or y1 <= y0:
        return CraterList.empty()
    mean = expected_crater_count((x1 - x0) * (y1 - y0), density_per_km2, exponent, d_min, d_max)
    n = int(rng.poisson(mean))
    diameter = power_law_diameters(rng, n, d_min, d_max, exponent)
    x = rng.uniform(x0, x1, n)
    y = rng.uniform(y0, y1, n)
    old = rng.random(n) < degraded_fraction
    s = np.where(old, rng.uniform(FRESH_DEGRADATION_MAX, 1.0, n), rng.uniform(0.0, FRESH_DEGRADATION_MAX, n))
    return make_craters(x, y, diameter, s, depth_diameter=depth_diameter, rim_height_ratio=rim_height_ratio, kind=kind)


def make_craters(x, y, diameter, degradation, *, depth_diameter: tuple[float, float], rim_height_ratio: float,
                 kind: int) -> CraterList:
    """Craters of given centres, diameters and degradation states, with depth and rim from the model."""
    x, y, diameter, s = (np.atleast_1d(np.asarray(v, dtype=np.float64)) for v in (x, y, diameter, degradation))
    dd_lo, dd_hi = depth_diameter
    ratio = dd_hi - s * (dd_hi - dd_lo)
    depth = ratio * diameter
    rim = rim_height_ratio * diameter * (1.0 - RIM_HEIGHT_LOSS * s)
    return CraterList(x, y, diameter, depth, rim, s, np.full(x.shape[0], kind, dtype=np.int8))


def rock_number_density(diameter, abundance: float) -> np.ndarray:
    """Number of rocks per m^2 per metre of diameter at D (m), from F(D) = k exp(-q D).

    The area covered by rocks of diameter in [D, D + dD] is -dF = k q exp(-q D) dD, and one rock
    covers pi D^2 / 4, so n(D) = 4 k q exp(-q D) / (pi D^2).
    """
    q = golombek_q(abundance)
    d = np.asarray(diameter, dtype=np.float64)
    return 4.0 * abundance * q * np.exp(-q * d) / (np.pi * d * d)


def golombek_q(abundance: float) -> float:
    """Exponent q (1/m) of F(D) = k exp(-q D) for total rock cover k (Golombek et al. 2003)."""
    return 1.79 + 0.152 / abundance


def rock_cover_fraction(diameter, abundance: float) -> np.ndarray:
    """F(D) = k exp(-q D): fraction of the area covered by rocks of diameter >= D (m)."""
    return abundance * np.exp(-golombek_q(abundance) * np.asarray(diameter, dtype=np.float64))


def rock_bin_counts(area_m2: float, abundance: float, d_range: tuple[float, float],
                    bins: int = ROCK_SIZE_BINS) -> tuple[np.ndarray, np.ndarray]:
    """Bin edges (bins + 1,) and mean rock counts (bins,) on ``area_m2`` for logarithmic bins.

    Mean count in [a, b] = area * integral_a^b n(D) dD, by Gauss-Legendre quadrature.
    """
    edges = np.geomspace(d_range[0], d_range[1], bins + 1)
    nodes, weights = np.polynomial.legendre.leggauss(ROCK_BIN_QUADRATURE_NODES)
    a = edges[:-1, None]
    b = edges[1:, None]
    d = 0.5 * (b - a) * nodes[None, :] + 0.5 * (a + b)
    integral = 0.5 * (b[:, 0] - a[:, 0]) * (rock_number_density(d, abundance) * weights[None, :]).sum(axis=1)
    return edges, area_m2 * integral


def _sample_in_bin(rng: np.random.Generator, n: int, a: float, b: float, q: float) -> np.ndarray:
    """n diameters in [a, b] with density proportional to exp(-q D) / D^2 (exact, by rejection).

    Proposal: density ~ D^-2 (1/D uniform on [1/b, 1/a]); acceptance exp(-q (D - a)) <= 1.
    """
    out = np.empty(n)
    filled = 0
    while filled < n:
        m = 2 * (n - filled) + 8
        d = 1.0 / rng.uniform(1.0 / b, 1.0 / a, m)
        keep = d[rng.random(m) < np.exp(-q * (d - a))][: n - filled]
        out[filled:filled + keep.shape[0]] = keep
        filled += keep.shape[0]
    return out


def sample_rocks(rng: np.random.Generator, bounds: tuple[float, float, float, float], *, abundance: float,
                 d_range: tuple[float, float], height_ratio: float, near_crater_fraction: float,
                 craters: CraterList) -> RockList:
    """Rocks on bounds (x0, x1, y0, y1) following F(D) = k exp(-q D).

    Each logarithmic size bin gets a Poisson count with the mean of :func:`rock_bin_counts`, and
    diameters inside a bin follow n(D) exactly. A fraction ``near_crater_fraction`` of the rocks
    lie in the blocky ejecta of fresh craters (annulus ROCK_EJECTA_RADII, craters picked in
    proportion to the annulus area); the rest are spread uniformly. Rocks that fall outside the
    bounds are dropped, so the overall cover stays k exp(-q D) on average. Height = ratio * D.
    """
    x0, x1, y0, y1 = bounds
    edges, means = rock_bin_counts((x1 - x0) * (y1 - y0), abundance, d_range)
    counts = rng.poisson(means)
    q = golombek_q(abundance)
    diameter = np.concatenate([_sample_in_bin(rng, int(c), edges[i], edges[i + 1], q) for i, c in enumerate(counts)])
    n = diameter.shape[0]
    x = rng.uniform(x0, x1, n)
    y = rng.uniform(y0, y1, n)
    inside = (craters.x >= x0) & (craters.x <= x1) & (craters.y >= y0) & (craters.y <= y1)
    fresh = craters.select(craters.fresh & inside)
    if near_crater_fraction > 0.0 and fresh.size > 0 and n > 0:
        near = rng.random(n) < near_crater_fraction
        m = int(near.sum())
        weight = fresh.diameter**2
        pick = rng.choice(fresh.size, size=m, p=weight / weight.sum())
        lo, hi = ROCK_EJECTA_RADII
        radius = 0.5 * fresh.diameter[pick] * np.sqrt(rng.uniform(lo * lo, hi * hi, m))
        angle = rng.uniform(0.0, 2.0 * np.pi, m)
        x[near] = fresh.x[pick] + radius * np.cos(angle)
        y[near] = fresh.y[pick] + radius * np.sin(angle)
        inside = (x >= x0) & (x <= x1) & (y >= y0) & (y <= y1)
        x, y, diameter = x[inside], y[inside], diameter[inside]
    return RockList(x, y, diameter, height_ratio * diameter)


# --------------------------------------------------------------------------- compiled rasterisers


@njit(cache=True, inline="always")
def _mix64(z):
    z = (z ^ (z >> _S30)) * _MIX_1
    z = (z ^ (z >> _S27)) * _MIX_2
    return z ^ (z >> _S31)


@njit(cache=True, inline="always")
def _corner(key, ix, iy, fx, fy):
    """Dot product of the hashed unit gradient at lattice point (ix, iy) with the offset (fx, fy)."""
    h = _mix64(key ^ (np.uint64(ix) * _GOLDEN_GAMMA) ^ (np.uint64(iy) * _Y_MULTIPLIER))
    g = np.int64(h >> _S60)
    return _GRAD_X[g] * fx + _GRAD_Y[g] * fy


@njit(cache=True, inline="always")
def _fade(t):
    return t * t * t * (t * (t * 6.0 - 15.0) + 10.0)


@njit(cache=True)
def gradient_noise(key, u, v):
    """2-D gradient (Perlin-type) noise at lattice coordinates (u, v); about +-0.7, zero on the lattice."""
    fu = np.floor(u)
    fv = np.floor(v)
    ix = np.int64(fu)
    iy = np.int64(fv)
    x = u - fu
    y = v - fv
    n00 = _corner(key, ix, iy, x, y)
    n10 = _corner(key, ix + 1, iy, x - 1.0, y)
    n01 = _corner(key, ix, iy + 1, x, y - 1.0)
    n11 = _corner(key, ix + 1, iy + 1, x - 1.0, y - 1.0)
    a = _fade(x)
    b = _fade(y)
    return (n00 + a * (n10 - n00)) * (1.0 - b) + (n01 + a * (n11 - n01)) * b


@njit(cache=True, nogil=True)
def _octave_table(key, iu0, iv0, nu, nv):
    """Gradient-direction indices of the lattice points [iu0, iu0 + nu) x [iv0, iv0 + nv) of one octave."""
    table = np.empty((nv, nu), dtype=np.int64)
    for b in range(nv):
        for a in range(nu):
            h = _mix64(key ^ (np.uint64(iu0 + a) * _GOLDEN_GAMMA) ^ (np.uint64(iv0 + b) * _Y_MULTIPLIER))
            table[b, a] = np.int64(h >> _S60)
    return table


@njit(cache=True, nogil=True)
def add_noise(out, origin_x, origin_y, cell, keys, inv_wavelength, amplitude, cos_rot, sin_rot, offset):
    """Add the relief noise octaves to ``out[rows, cols]`` sampled at the grid's world points.

    keys, inv_wavelength (1/m), amplitude (m), cos_rot, sin_rot: (octaves,); offset (octaves, 2).
    Equal to summing :func:`gradient_noise` at every sample; each octave's lattice gradients
    are hashed once into a table covering the grid, which halves the cost.
    """
    rows, cols = out.shape
    x_end = origin_x + (cols - 1) * cell
    y_end = origin_y + (rows - 1) * cell
    for o in range(keys.shape[0]):
        c = cos_rot[o] * inv_wavelength[o]
        s = sin_rot[o] * inv_wavelength[o]
        # Lattice range covered by the rotated grid (its four corners bound it).
        u_lo = np.inf
        u_hi = -np.inf
        v_lo = np.inf
        v_hi = -np.inf
        for x in (origin_x, x_end):
            for y in (origin_y, y_end):
                u = c * x + s * y + offset[o, 0]
                v = -s * x + c * y + offset[o, 1]
                u_lo = min(u_lo, u)
                u_hi = max(u_hi, u)
                v_lo = min(v_lo, v)
                v_hi = max(v_hi, v)
        iu0 = np.int64(np.floor(u_lo)) - 1
        iv0 = np.int64(np.floor(v_lo)) - 1
        table = _octave_table(keys[o], iu0, iv0, np.int64(np.floor(u_hi)) - iu0 + 3, np.int64(np.floor(v_hi)) - iv0 + 3)
        amp = amplitude[o] * NOISE_NORMALISATION
        for i in range(rows):
            y = origin_y + i * cell
            for j in range(cols):
                x = origin_x + j * cell
                u = c * x + s * y + offset[o, 0]
                v = -s * x + c * y + offset[o, 1]
                fu = np.floor(u)
                fv = np.floor(v)
                a = np.int64(fu) - iu0
                b = np.int64(fv) - iv0
                px = u - fu
                py = v - fv
                g00 = table[b, a]
                g10 = table[b, a + 1]
                g01 = table[b + 1, a]
                g11 = table[b + 1, a + 1]
                n00 = _GRAD_X[g00] * px + _GRAD_Y[g00] * py
                n10 = _GRAD_X[g10] * (px - 1.0) + _GRAD_Y[g10] * py
                n01 = _GRAD_X[g01] * px + _GRAD_Y[g01] * (py - 1.0)
                n11 = _GRAD_X[g11] * (px - 1.0) + _GRAD_Y[g11] * (py - 1.0)
                wu = _fade(px)
                wv = _fade(py)
                out[i, j] += amp * ((n00 + wu * (n10 - n00)) * (1.0 - wv) + (n01 + wu * (n11 - n01)) * wv)


@njit(cache=True)
def crater_profile(r, depth, rim, fillet):
    """Height change (m) at ``r`` crater radii from the centre of one crater.

    Bowl: rim - depth (1 - r^2) for r <= 1 (parabolic, rim-to-floor depth ``depth``).
    Ejecta: rim (r^-3 - r_e^-3) / (1 - r_e^-3) for 1 <= r <= r_e = EJECTA_OUTER_RADII, 0 beyond.
    Within ``fillet`` radii of the crest a cubic Hermite join, matching heights and slopes at
    both ends, rounds the rim (wider for degraded craters).
    """
    re = EJECTA_OUTER_RADII
    if r >= re:
        return 0.0
    tail = 1.0 / (re * re * re)
    scale = rim / (1.0 - tail)
    ra = 1.0 - fillet
    rb = 1.0 + fillet
    if r <= ra:
        return rim - depth * (1.0 - r * r)
    if r >= rb:
        return scale * (1.0 / (r * r * r) - tail)
    za = rim - depth * (1.0 - ra * ra)
    sa = 2.0 * depth * ra
    zb = scale * (1.0 / (rb * rb * rb) - tail)
    sb = -3.0 * scale / (rb * rb * rb * rb)
    h = rb - ra
    t = (r - ra) / h
    t2 = t * t
    t3 = t2 * t
    return (
        (2.0 * t3 - 3.0 * t2 + 1.0) * za
        + (t3 - 2.0 * t2 + t) * h * sa
        + (-2.0 * t3 + 3.0 * t2) * zb
        + (t3 - t2) * h * sb
    )


@njit(cache=True, inline="always")
def rim_fillet(degradation):
    return RIM_FILLET_FRESH + RIM_FILLET_PER_DEGRADATION * degradation


@njit(cache=True, nogil=True)
def add_craters(out, origin_x, origin_y, cell, x, y, diameter, depth, rim, degradation):
    """Add every crater's profile to ``out`` (craters whose ejecta miss the grid are skipped)."""
    rows, cols = out.shape
    for c in range(x.shape[0]):
        radius = 0.5 * diameter[c]
        reach = EJECTA_OUTER_RADII * radius
        j0 = max(0, int(np.ceil((x[c] - reach - origin_x) / cell)))
        j1 = min(cols - 1, int(np.floor((x[c] + reach - origin_x) / cell)))
        i0 = max(0, int(np.ceil((y[c] - reach - origin_y) / cell)))
        i1 = min(rows - 1, int(np.floor((y[c] + reach - origin_y) / cell)))
        if j0 > j1 or i0 > i1:
            continue
        fillet = rim_fillet(degradation[c])
        inv_r = 1.0 / radius
        for i in range(i0, i1 + 1):
            dy = origin_y + i * cell - y[c]
            for j in range(j0, j1 + 1):
                dx = origin_x + j * cell - x[c]
                r = np.sqrt(dx * dx + dy * dy) * inv_r
                if r < EJECTA_OUTER_RADII:
                    out[i, j] += crater_profile(r, depth[c], rim[c], fillet)


@njit(cache=True, nogil=True)
def add_rocks(out, origin_x, origin_y, cell, x, y, diameter, height):
    """Add each rock as a half-ellipsoid bump: height * sqrt(1 - (2 r / D)^2) inside its outline."""
    rows, cols = out.shape
    for k in range(x.shape[0]):
        radius = 0.5 * diameter[k]
        j0 = max(0, int(np.ceil((x[k] - radius - origin_x) / cell)))
        j1 = min(cols - 1, int(np.floor((x[k] + radius - origin_x) / cell)))
        i0 = max(0, int(np.ceil((y[k] - radius - origin_y) / cell)))
        i1 = min(rows - 1, int(np.floor((y[k] + radius - origin_y) / cell)))
        inv_r2 = 1.0 / (radius * radius)
        for i in range(i0, i1 + 1):
            dy = origin_y + i * cell - y[k]
            for j in range(j0, j1 + 1):
                dx = origin_x + j * cell - x[k]
                t = 1.0 - (dx * dx + dy * dy) * inv_r2
                if t > 0.0:
                    out[i, j] += height[k] * np.sqrt(t)


@njit(cache=True, nogil=True)
def resample_bilinear(src, src_x, src_y, src_cell, out, origin_x, origin_y, cell):
    """Write into ``out`` the bilinear surface of grid ``src`` at out's sample points (edges held)."""
    rows, cols = out.shape
    src_rows, src_cols = src.shape
    for i in range(rows):
        v = (origin_y + i * cell - src_y) / src_cell
        if v <= 0.0:
            r, fy = 0, 0.0
        elif v >= src_rows - 1:
            r, fy = src_rows - 2, 1.0
        else:
            r = int(v)
            fy = v - r
        for j in range(cols):
            u = (origin_x + j * cell - src_x) / src_cell
            if u <= 0.0:
                c, fx = 0, 0.0
            elif u >= src_cols - 1:
                c, fx = src_cols - 2, 1.0
            else:
                c = int(u)
                fx = u - c
            out[i, j] = (src[r, c] * (1.0 - fx) + src[r, c + 1] * fx) * (1.0 - fy) + (
                src[r + 1, c] * (1.0 - fx) + src[r + 1, c + 1] * fx
            ) * fy


# --------------------------------------------------------------------------- site metrics


@njit(cache=True, nogil=True)
def footprint_slopes(heights, origin_x, origin_y, cell, cand_x, cand_y, radius):
    """Slope (rad) of the least-squares plane through the samples within ``radius`` of each candidate.

    This is the tilt a lander whose feet span that disc would rest at. Returns (n,) float64;
    NaN where fewer than 3 samples fall inside the grid.
    """
    rows, cols = heights.shape
    n = cand_x.shape[0]
    out = np.empty(n)
    reach = int(np.ceil(radius / cell))
    r2 = radius * radius
    for k in range(n):
        cj = int(np.round((cand_x[k] - origin_x) / cell))
        ci = int(np.round((cand_y[k] - origin_y) / cell))
        # Accumulate the normal equations of z = a + b dx + c dy around the candidate.
        s1 = sx = sy = sxx = syy = sxy = sz = sxz = syz = 0.0
        for i in range(max(0, ci - reach), min(rows, ci + reach + 1)):
            dy = origin_y + i * cell - cand_y[k]
            for j in range(max(0, cj - reach), min(cols, cj + reach + 1)):
                dx = origin_x + j * cell - cand_x[k]
                if dx * dx + dy * dy > r2:
                    continue
                z = heights[i, j]
                s1 += 1.0
                sx += dx
                sy += dy
                sxx += dx * dx
                syy += dy * dy
                sxy += dx * dy
                sz += z
                sxz += dx * z
                syz += dy * z
        if s1 < 3.0:
            out[k] = np.nan
            continue
        # Centre the sums, then solve the 2x2 system for the gradient (b, c).
        mx = sx / s1
        my = sy / s1
        mz = sz / s1
        cxx = sxx - s1 * mx * mx
        cyy = syy - s1 * my * my
        cxy = sxy - s1 * mx * my
        cxz = sxz - s1 * mx * mz
        cyz = syz - s1 * my * mz
        det = cxx * cyy - cxy * cxy
        if abs(det) < 1e-12:
            out[k] = np.nan
            continue
        b = (cxz * cyy - cyz * cxy) / det
        c = (cyz * cxx - cxz * cxy) / det
        out[k] = np.arctan(np.sqrt(b * b + c * c))
    return out


@njit(cache=True, nogil=True)
def footprint_rock_heights(cand_x, cand_y, radius, rock_x, rock_y, rock_diameter, rock_height):
    """Height (m) of the tallest rock touching a disc of ``radius`` around each candidate (0 if none)."""
    n = cand_x.shape[0]
    out = np.zeros(n)
    for k in range(n):
        best = 0.0
        for r in range(rock_x.shape[0]):
            reach = radius + 0.5 * rock_diameter[r]
            dx = rock_x[r] - cand_x[k]
            dy = rock_y[r] - cand_y[k]
            if dx * dx + dy * dy <= reach * reach and rock_height[r] > best:
                best = rock_height[r]
        out[k] = best
    return out


# --------------------------------------------------------------------------- Python-level drawing


def rasterize(
    shape: tuple[int, int],
    origin_xy: tuple[float, float],
    cell: float,
    *,
    noise: ReliefNoise | None,
    min_wavelength_m: float,
    plane_gradient: tuple[float, float],
    craters: CraterList,
    rocks: RockList | None = None,
    massif: tuple[float, float] = (0.0, 1.0),
) -> np.ndarray:
    """Heights (rows, cols) of the terrain function on a regular grid.

    Includes the noise octaves of wavelength >= ``min_wavelength_m``, the plane
    z = gx x + gy y, the massif H exp(-(r / R)^2) centred on the origin for
    ``massif = (H, R)``, the craters and (if given) the rocks.
    """
    out = np.zeros(shape, dtype=np.float64)
    ox, oy = origin_xy
    if noise is not None:
        sel = noise.octaves_down_to(min_wavelength_m)
        if sel.size:
            add_noise(
                out,
                ox,
                oy,
                cell,
                noise.keys[sel],
                1.0 / noise.wavelength_m[sel],
                noise.amplitude_m[sel],
                noise.cos_rotation[sel],
                noise.sin_rotation[sel],
                np.ascontiguousarray(noise.offset[sel]),
            )
    gx, gy = plane_gradient
    if gx != 0.0 or gy != 0.0:
        xs = ox + cell * np.arange(shape[1])
        ys = oy + cell * np.arange(shape[0])
        out += gx * xs[None, :] + gy * ys[:, None]
    height, radius = massif
    if height != 0.0:
        xs = ox + cell * np.arange(shape[1])
        ys = oy + cell * np.arange(shape[0])
        out += height * np.exp(-((ys[:, None] / radius) ** 2)) * np.exp(-((xs[None, :] / radius) ** 2))
    if craters.size:
        add_craters(
            out,
            ox,
            oy,
            cell,
            craters.x,
            craters.y,
            craters.diameter,
            craters.depth,
            craters.rim_height,
            craters.degradation,
        )
    if rocks is not None and rocks.size:
        add_rocks(out, ox, oy, cell, rocks.x, rocks.y, rocks.diameter, rocks.height)
    return out


@njit(cache=True, nogil=True)
def footprint_mean(values, origin_x, origin_y, cell, cand_x, cand_y, radius):
    """Mean of a grid's samples within ``radius`` of each candidate (NaN where none lies inside)."""
    rows, cols = values.shape
    n = cand_x.shape[0]
    out = np.empty(n)
    reach = int(np.ceil(radius / cell))
    r2 = radius * radius
    for k in range(n):
        cj = int(np.round((cand_x[k] - origin_x) / cell))
        ci = int(np.round((cand_y[k] - origin_y) / cell))
        total = 0.0
        count = 0
        for i in range(max(0, ci - reach), min(rows, ci + reach + 1)):
            dy = origin_y + i * cell - cand_y[k]
            for j in range(max(0, cj - reach), min(cols, cj + reach + 1)):
                dx = origin_x + j * cell - cand_x[k]
                if dx * dx + dy * dy <= r2:
                    total += values[i, j]
                    count += 1
        out[k] = total / count if count else np.nan
    return out
