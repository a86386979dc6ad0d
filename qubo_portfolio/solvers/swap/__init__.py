"""Fixed-cardinality swap annealing: a :class:`dimod.Sampler` that keeps ``sum x = k``.

Every move swaps one selected asset for one unselected asset, so every state is feasible and
no penalty term is needed; the energy change of a swap is
``delta(i, j) = 2 (h_j - h_i) + A_ii + A_jj - 2 A_ij`` with ``h = A x``. The package holds

- :mod:`.kernels`: the numba kernels (anneal, descents, random subsets, the generator);
- :mod:`.calibration`: the inverse-temperature range and schedule;
- :mod:`.sampler`: :class:`SwapAnnealingSampler`.

The underscored names below are the kernels' former private names, kept for the tests.
"""

from __future__ import annotations

from ..common import dense_matrix
from .calibration import beta_schedule, calibrate_beta_range
from .kernels import (
    DESCENT_RTOL,
    check_twin,
    ensure_compiled,
    random_subset,
    rng_states,
    swap_delta,
    trace_anneal,
    warmup,
)
from .sampler import SwapAnnealingSampler

_random_subset = random_subset
_rng_states = rng_states
_trace_anneal = trace_anneal

__all__ = [
    "DESCENT_RTOL",
    "SwapAnnealingSampler",
    "beta_schedule",
    "calibrate_beta_range",
    "check_twin",
    "dense_matrix",
    "ensure_compiled",
    "random_subset",
    "rng_states",
    "swap_delta",
    "trace_anneal",
    "warmup",
]
