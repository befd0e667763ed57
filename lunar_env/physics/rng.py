"""Counter-based random numbers: every draw is a pure function of (key, counter).

Each lander's stream key is a hash of (seed, lander index, episode index), and each lander
keeps its own counter, so its draws do not depend on the batch size, the thread count or
the order in which threads run. The mixing function is the SplitMix64 finalizer (Steele,
Lea and Flood, "Fast splittable pseudorandom number generators", OOPSLA 2014), which passes
BigCrush when fed a counter.
"""

import numpy as np
from numba import njit

GOLDEN_GAMMA = np.uint64(0x9E3779B97F4A7C15)  # 2^64 / golden ratio, odd: the SplitMix64 increment
MIX_MULTIPLIER_1 = np.uint64(0xBF58476D1CE4E5B9)
MIX_MULTIPLIER_2 = np.uint64(0x94D049BB133111EB)
SHIFT_30 = np.uint64(30)
SHIFT_27 = np.uint64(27)
SHIFT_31 = np.uint64(31)
SHIFT_11 = np.uint64(11)
INV_2_POW_53 = 1.0 / 9007199254740992.0  # turns the top 53 bits into a double in [0, 1)
TWO_PI = 2.0 * np.pi


@njit(cache=True, inline="always")
def mix64(z):
    """SplitMix64 output function: a bijective avalanche of a 64-bit word."""
    z = (z ^ (z >> SHIFT_30)) * MIX_MULTIPLIER_1
    z = (z ^ (z >> SHIFT_27)) * MIX_MULTIPLIER_2
    return z ^ (z >> SHIFT_31)


@njit(cache=True)
def stream_key(seed, lander, episode):
    """Key of the stream of one lander's episode: a hash of three integers."""
    k = mix64(np.uint64(seed) + GOLDEN_GAMMA)
    k = mix64(k ^ (np.uint64(lander) * MIX_MULTIPLIER_2 + GOLDEN_GAMMA))
    return mix64(k ^ (np.uint64(episode) * MIX_MULTIPLIER_1 + GOLDEN_GAMMA))


@njit(cache=True, inline="always")
def next_uniform(rng, i):
    """A double uniform on [0, 1) from lander i's stream (rng[i] = key, counter); advances it."""
    c = rng[i, 1]
    rng[i, 1] = c + np.uint64(1)
    return float(mix64(rng[i, 0] + c * GOLDEN_GAMMA) >> SHIFT_11) * INV_2_POW_53


@njit(cache=True, inline="always")
def next_uniform_in(rng, i, low, high):
    return low + (high - low) * next_uniform(rng, i)


@njit(cache=True, inline="always")
def next_normal_pair(rng, i):
    """Two independent standard normal draws (Box-Muller) from lander i's stream."""
    u1 = 1.0 - next_uniform(rng, i)  # in (0, 1], so the log is finite
    u2 = next_uniform(rng, i)
    radius = np.sqrt(-2.0 * np.log(u1))
    return radius * np.cos(TWO_PI * u2), radius * np.sin(TWO_PI * u2)
