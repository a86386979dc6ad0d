"""Inverse temperatures of the swap annealer: the calibrated range and the schedule.

:func:`calibrate_beta_range` reads the spread of swap deltas
``|delta(i, j)| = |2 (h_j - h_i) + A_ii + A_jj - 2 A_ij|`` at random k-subsets and sets
``beta = -ln(acceptance) / quantile`` at both ends; :func:`beta_schedule` steps from the hot
end to the cold end, one inverse temperature per sweep.
"""

from __future__ import annotations

import math

import numpy as np

from .kernels import check_twin, rng_states, sample_swap_deltas

__all__ = ["CALIBRATION_SEED", "beta_schedule", "calibrate_beta_range"]

#: Fixed seed of the beta calibration: the default ``beta_range`` depends on the instance only.
CALIBRATION_SEED = 20240531


def calibrate_beta_range(
    A: np.ndarray,
    k: int,
    *,
    hot_quantile: float = 0.05,
    hot_acceptance: float = 0.5,
    cold_quantile: float = 0.01,
    cold_acceptance: float = 0.01,
    num_states: int = 64,
    swaps_per_state: int = 64,
    seed: int = CALIBRATION_SEED,
    twin: np.ndarray | None = None,
) -> tuple[float, float]:
    """Inverse-temperature range ``(beta_hot, beta_cold)`` from the spread of swap deltas.

    Samples ``num_states * swaps_per_state`` random swaps out of random k-subsets and takes
    quantiles of the nonzero ``|delta|``: at ``beta_hot`` the ``hot_quantile`` delta is
    accepted with probability ``hot_acceptance``, at ``beta_cold`` the ``cold_quantile`` delta
    with probability ``cold_acceptance``; that is ``beta = -ln(acceptance) / quantile``.

    The defaults were set by measurement (time to solution on S&P 500 and synthetic
    instances, K = 253..2000): a small uphill swap (5% quantile) accepted half of the time at
    the hot end, the 1% quantile accepted 1% of the time at the cold end. A hotter start (the
    median accepted half of the time) only randomizes a state that is random already.

    With ``twin`` (exclusive pairs, see the module notes) the states and swaps are valid ones.

    Returns
    -------
    (float, float)
        ``(beta_hot, beta_cold)`` with ``beta_cold >= beta_hot``; ``(1.0, 1.0)`` when every
        sampled delta is zero.
    """
    A = np.ascontiguousarray(A, dtype=np.float64)
    rng = rng_states(seed, 1)[0]
    twin = check_twin(twin, A.shape[0], int(k))
    deltas = np.abs(sample_swap_deltas(A, int(k), int(num_states), int(swaps_per_state), rng, twin))
    scale = float(np.max(np.abs(A))) if A.size else 0.0
    deltas = deltas[deltas > 1e-12 * scale]
    if deltas.size == 0:
        return (1.0, 1.0)
    d_hot, d_cold = np.quantile(deltas, [hot_quantile, cold_quantile])
    beta_hot = -math.log(hot_acceptance) / d_hot
    beta_cold = -math.log(cold_acceptance) / d_cold
    return (float(beta_hot), float(max(beta_cold, beta_hot)))


def beta_schedule(
    beta_range: tuple[float, float], num_sweeps: int, schedule_type: str
) -> np.ndarray:
    """One inverse temperature per sweep, from ``beta_range[0]`` to ``beta_range[1]``:

    geometric ``beta_s = hot (cold / hot)^(s / (S - 1))`` or linear
    ``beta_s = hot + (cold - hot) s / (S - 1)`` for ``s = 0..S-1``; empty when ``S = 0``.
    """
    hot, cold = beta_range
    if num_sweeps == 0:
        return np.empty(0)
    if schedule_type == "geometric":
        return np.geomspace(hot, cold, num_sweeps)
    return np.linspace(hot, cold, num_sweeps)
