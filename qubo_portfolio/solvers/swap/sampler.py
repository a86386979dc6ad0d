"""The swap annealer as a :class:`dimod.Sampler`: :class:`SwapAnnealingSampler`.

It checks its input, builds the inverse-temperature schedule (:mod:`.calibration`), seeds one
xoshiro256** generator per read and runs :func:`.kernels.anneal_kernel`; see the class notes.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from typing import Any

import dimod
import numpy as np

from ...core.model import PortfolioQubo
from ...errors import InputError
from ..common import binary_states, check_int, check_k, finish, subset_problem
from .calibration import beta_schedule, calibrate_beta_range
from .kernels import (
    DESCENT_RTOL,
    DESCENTS,
    PROPOSALS,
    anneal_kernel,
    check_twin,
    ensure_compiled,
    rng_states,
)

__all__ = ["SwapAnnealingSampler", "parse_initial_states"]


def parse_initial_states(initial_states: Any, variables: list) -> np.ndarray:
    """Initial states as an (n, K) int8 array in ``variables`` order."""
    K = len(variables)
    labelled = isinstance(initial_states, dimod.SampleSet | Mapping) or (
        isinstance(initial_states, list | tuple)
        and len(initial_states) > 0
        and isinstance(initial_states[0], Mapping)
    )
    if labelled:
        arr, labels = dimod.as_samples(initial_states)
        index = {v: c for c, v in enumerate(labels)}
        missing = [v for v in variables if v not in index]
        if missing or len(labels) != K:
            raise InputError(
                f"initial_states must assign exactly the {K} variables of the bqm "
                f"(missing e.g. {missing[:3]!r})"
            )
        arr = arr[:, [index[v] for v in variables]]
    else:
        arr = np.asarray(initial_states)
        if arr.ndim == 1:
            arr = arr[None, :]
        if arr.ndim != 2 or arr.shape[1] != K:
            raise InputError(
                f"initial_states must have shape (n, {K}) in bqm variable order, got {arr.shape}"
            )
    if not np.isin(arr, (0, 1)).all():
        raise InputError("initial_states must be 0/1 (BINARY) assignments")
    return np.ascontiguousarray(arr, dtype=np.int8)


class SwapAnnealingSampler(dimod.Sampler):
    """Simulated annealing over k-subsets with swap moves, then a swap descent.

    Minimizes ``bqm.energy(x)`` over BINARY ``x`` with exactly ``k`` ones (a SPIN model:
    exactly ``k`` spins at +1, answered in SPIN; a :class:`PortfolioQubo`: its ``x^T A x``
    with its ``k`` and long/short pairs): every move swaps a
    selected asset ``i`` for an unselected asset ``j``, so no penalty is needed. The energy
    change is ``delta(i, j) = 2 (h_j - h_i) + A_ii + A_jj - 2 A_ij`` (:func:`.kernels.swap_delta`) with
    the fields ``h = A x`` kept up to date in O(K) per accepted swap.

    A read starts from a uniformly random k-subset (or an initial state), runs ``num_sweeps``
    sweeps of ``proposals_per_sweep`` Metropolis proposals at inverse temperatures stepping
    from ``beta_range[0]`` to ``beta_range[1]``, keeps the lowest-energy state it visits and
    ends with a swap descent from it, so every sample is a swap local minimum (no single swap
    lowers its energy). Two kinds of proposal:

    - ``"best"`` (default): a random selected ``i`` and its best partner
      ``j = argmin_j delta(i, j)``, one vectorized O(K) scan of row ``A[i]``. The read first
      descends from its start, so the anneal hops between nearby swap local minima.
    - ``"random"``: a random selected ``i`` and a random unselected ``j``, O(1) per proposal.

    Defaults, set by measurement on the S&P 500 instance of DESIGN.md (K=470, k=30) and
    synthetic factor-model markets (K=253, k=20; K=2000, k=100):

    - ``num_sweeps=20``; ``proposals_per_sweep`` counts proposals per *selected* asset:
      ``k`` for ``"best"``, ``4 k`` for ``"random"``.
    - ``beta_range`` from :func:`calibrate_beta_range`: 4096 random swaps out of random
      k-subsets; at the hot end the 5% quantile of ``|delta|`` is accepted with probability
      1/2, at the cold end the 1% quantile with probability 1/100. It depends on the instance
      only (fixed calibration seed) and is reported in ``info["beta_range"]``.
    - ``beta_schedule_type="geometric"``, ``descent="steepest"``.

    With those, one core, a read on the S&P 500 instance takes about 0.2 ms and hits the
    best known portfolio 28% of the time (random proposals: 0.12 ms, 12%); on the synthetic
    K=253 market 0.08 ms and 93% (0.05 ms, 49%). Random proposals at a cold temperature
    behave like a random-order descent and settle in worse minima than best-partner moves,
    more so as K grows (K=2000: 2% of reads hit against 40%).

    The penalty-free objective BQM (linear ``A_ii``, quadratic ``2 A_ij``) is the intended
    input; a penalty BQM gives the same samples in exact arithmetic (its penalty is constant
    on k-subsets) but loses precision. Energies are ``bqm.energies`` of the samples.

    ``exclusive_pairs`` (pairs of variables never both selected, such as the long and short
    legs of a stock) are respected by every state: random starts, proposals and the final
    descent (see the module notes); every sample is then a swap local minimum among the
    allowed swaps.

    Examples
    --------
    >>> import dimod
    >>> import numpy as np
    >>> from qubo_portfolio.solvers.swap import SwapAnnealingSampler
    >>> rng = np.random.default_rng(0)
    >>> R = rng.normal(0.0005, 0.01, size=(60, 10))
    >>> A = (np.cov(R, rowvar=False) - 0.05 * np.diag(R.mean(axis=0))) / 3**2
    >>> bqm = dimod.BQM(np.triu(2 * A, 1) + np.diag(np.diag(A)), "BINARY")
    >>> sampleset = SwapAnnealingSampler().sample(bqm, k=3, num_reads=5, seed=1)
    >>> len(sampleset), set(sampleset.record.sample.sum(axis=1).tolist())
    (5, {3})
    >>> bool(np.allclose(sampleset.record.energy, bqm.energies(sampleset)))
    True
    """

    parameter_help: Mapping[str, str] = {
        "num_sweeps": "sweeps per read (default 20); a sweep is proposals_per_sweep proposals",
        "proposals_per_sweep": "proposals per sweep (default K' for best, 4 K' for random)",
        "proposal_type": "best: a random selected asset and its best partner (default) | random",
        "beta_range": "[hot, cold] (default: calibrated to the spread of swap deltas, reported)",
        "beta_schedule_type": "geometric | linear (default geometric)",
        "descent": "final swap descent: steepest (default) | first",
        "initial_states": "starting K'-subsets (array or SampleSet), else random",
    }
    """What ``qubo-portfolio solvers`` lists: the parameters a config may set in
    ``solver.params`` (``k``, ``num_reads``, ``seed`` and the pairs come from the model)."""

    properties: dict = None
    """``beta_schedule_options``, ``proposal_type_options`` and ``descent_options``."""

    parameters: dict = None
    """Keyword arguments accepted by :meth:`sample`."""

    def __init__(self) -> None:
        self.parameters = {
            "k": [],
            "num_reads": [],
            "num_sweeps": [],
            "proposals_per_sweep": [],
            "proposal_type": ["proposal_type_options"],
            "beta_range": [],
            "beta_schedule_type": ["beta_schedule_options"],
            "descent": ["descent_options"],
            "seed": [],
            "initial_states": [],
            "exclusive_pairs": [],
        }
        self.properties = {
            "beta_schedule_options": ("geometric", "linear"),
            "proposal_type_options": tuple(PROPOSALS),
            "descent_options": tuple(DESCENTS),
        }

    @classmethod
    def check_parameters(cls, params: Mapping[str, Any], solver: str = "swap") -> None:
        """Types and ranges of ``solver.params`` values, one :class:`InputError` line each.

        Checked before any work: ``num_sweeps`` and ``proposals_per_sweep`` whole numbers
        >= 0, the options among their choices, ``beta_range`` ``[hot, cold]`` with
        ``0 < hot <= cold``.
        """
        for name in ("num_sweeps", "proposals_per_sweep"):
            value = params.get(name, 0)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise InputError(
                    f"solver.params.{name} = {value!r} for {solver}: expected a whole number >= 0"
                )
        options = {
            "proposal_type": ("best", "random"),
            "beta_schedule_type": ("geometric", "linear"),
            "descent": ("steepest", "first"),
        }
        for name, allowed in options.items():
            if name in params and params[name] not in allowed:
                raise InputError(
                    f"solver.params.{name} = {params[name]!r} for {solver}: "
                    f"expected {' or '.join(allowed)}"
                )
        beta = params.get("beta_range")
        if beta is not None and not (
            isinstance(beta, list | tuple)
            and len(beta) == 2
            and all(isinstance(b, int | float) and not isinstance(b, bool) and b > 0 for b in beta)
            and beta[0] <= beta[1]
        ):
            raise InputError(
                f"solver.params.beta_range = {beta!r} for {solver}: "
                "expected [hot, cold] with 0 < hot <= cold"
            )

    def sample(
        self,
        bqm: dimod.BinaryQuadraticModel | PortfolioQubo,
        *,
        k: int | None = None,
        num_reads: int | None = None,
        num_sweeps: int = 20,
        proposals_per_sweep: int | None = None,
        proposal_type: str = "best",
        beta_range: tuple[float, float] | None = None,
        beta_schedule_type: str = "geometric",
        descent: str = "steepest",
        seed: int | None = None,
        initial_states: Any = None,
        exclusive_pairs: Iterable | None = None,
        **kwargs: Any,
    ) -> dimod.SampleSet:
        """Sample low-energy k-subsets.

        Parameters
        ----------
        bqm : dimod.BinaryQuadraticModel or PortfolioQubo
            Objective ``x^T A x``. A SPIN model is solved through its BINARY equivalent and
            answered in SPIN (``k`` counts the variables at +1). A :class:`PortfolioQubo`
            gives ``A`` directly (no BQM round trip), ``k`` and, long/short, the pairs of
            legs; its energies are ``x^T A x``.
        k : int
            Number of ones in every sample, ``1 <= k <= K - 1`` (required with a BQM).
        num_reads : int, optional
            Number of reads (independent anneals). Default 10, or the number of initial
            states when those are given; more reads than states start the rest at random,
            fewer use the first ``num_reads`` states.
        num_sweeps : int, default 20
            Number of temperatures. 0 skips the anneal: each read is a descent only.
        proposals_per_sweep : int, optional
            Proposals at each temperature; default ``k`` (``"best"``) or ``4 k``
            (``"random"``).
        proposal_type : {"best", "random"}, default "best"
            Partner of the leaving asset: its best swap partner, or a random unselected asset.
        beta_range : (float, float), optional
            ``(hot, cold)`` inverse temperatures; default :func:`calibrate_beta_range`.
        beta_schedule_type : {"geometric", "linear"}, default "geometric"
            Spacing of the inverse temperatures.
        descent : {"steepest", "first"}, default "steepest"
            Final descent: best swap overall at each step, or the best partner of each
            selected asset in turn. Both stop at a swap local minimum (relative tolerance
            ``DESCENT_RTOL``).
        seed : int, optional
            Seed; the same seed and parameters give the same SampleSet, and read ``r`` is the
            same whatever ``num_reads`` is.
        initial_states : array-like (n, K), SampleSet or list of dicts, optional
            Starting k-subsets (arrays in ``bqm.variables`` order, in the model's vartype);
            each must have exactly ``k`` variables on (and hold no exclusive pair).
        exclusive_pairs : iterable of (u, v) variable pairs, optional
            Variables that are never selected together (each variable in one pair at most),
            e.g. ``[("long:AAPL", "short:AAPL"), ...]``.

        Returns
        -------
        dimod.SampleSet
            In the model's vartype, variables in ``bqm.variables`` order, one row per read
            (not aggregated, read order), ``energy = bqm.energies``, vector
            ``num_descent_swaps`` (swaps made by each read's final descent). ``info``:
            ``k``, ``beta_range``, ``beta_schedule_type``, ``num_sweeps``,
            ``proposals_per_sweep``, ``proposal_type``, ``descent`` and ``timing`` in
            seconds (``compile``: kernel compile/cache load, first call in a process only;
            ``beta_calibration``; ``sampling``: the compiled reads; ``per_read``; ``total``).

        Raises
        ------
        InputError
            (a ``ValueError``) Bad ``k``, ``num_reads``, ``num_sweeps``, option, initial state
            or pairs.
        """
        self.remove_unknown_kwargs(**kwargs)  # warns about, and ignores, unknown keywords
        problem = subset_problem(bqm, k, exclusive_pairs)
        vartype = dimod.BINARY if problem.bqm is None else problem.bqm.vartype
        sampleset = self.sample_matrix(
            problem.A,
            k=problem.k,
            variables=problem.variables,
            num_reads=num_reads,
            num_sweeps=num_sweeps,
            proposals_per_sweep=proposals_per_sweep,
            proposal_type=proposal_type,
            beta_range=beta_range,
            beta_schedule_type=beta_schedule_type,
            descent=descent,
            seed=seed,
            initial_states=binary_states(initial_states, vartype),
            twin=problem.twin,
        )
        return finish(sampleset, problem)

    def sample_matrix(
        self,
        A: np.ndarray,
        *,
        k: int,
        variables: list | None = None,
        num_reads: int | None = None,
        num_sweeps: int = 20,
        proposals_per_sweep: int | None = None,
        proposal_type: str = "best",
        beta_range: tuple[float, float] | None = None,
        beta_schedule_type: str = "geometric",
        descent: str = "steepest",
        seed: int | None = None,
        initial_states: Any = None,
        twin: np.ndarray | None = None,
    ) -> dimod.SampleSet:
        """:meth:`sample` on a dense symmetric matrix ``A``: energies ``x^T A x``.

        The fast path for callers that hold ``A`` already (no BQM round trip); ``variables``
        labels its rows (default ``0..K-1``). ``twin[v]`` is the index of the variable that
        excludes v (-1 for none; ``None``: no exclusions), e.g. the other leg of a stock in a
        long/short model. Other parameters as in :meth:`sample`; the samples are BINARY.
        """
        t_start = time.perf_counter()
        A, variables, k, twin = _check_matrix(A, variables, k, twin)
        for name, value, options in (
            ("proposal_type", proposal_type, self.properties["proposal_type_options"]),
            ("beta_schedule_type", beta_schedule_type, self.properties["beta_schedule_options"]),
            ("descent", descent, self.properties["descent_options"]),
        ):
            if value not in options:
                raise InputError(f"{name} must be one of {options}, got {value!r}")
        num_sweeps = check_int("num_sweeps", num_sweeps, 0)
        if proposals_per_sweep is None:
            proposals_per_sweep = k if proposal_type == "best" else 4 * k
        proposals_per_sweep = check_int("proposals_per_sweep", proposals_per_sweep, 0)
        init = _initial_states(initial_states, variables, k, twin)
        if num_reads is None:
            num_reads = len(init) or 10
        num_reads = check_int("num_reads", num_reads, 1)
        beta_range = _check_beta_range(beta_range)

        t_compile = ensure_compiled()
        if not np.isfinite(A).all():
            raise InputError("the matrix has non-finite entries")
        t0 = time.perf_counter()
        if beta_range is None:
            beta_range = calibrate_beta_range(A, k, twin=twin)
        t_calib = time.perf_counter() - t0
        betas = beta_schedule(beta_range, num_sweeps, beta_schedule_type)

        states = np.zeros((num_reads, len(A)), dtype=np.int8)
        n_init = min(len(init), num_reads)
        states[:n_init] = init[:n_init]
        random_init = np.ones(num_reads, dtype=np.bool_)
        random_init[:n_init] = False

        t0 = time.perf_counter()
        descent_swaps = anneal_kernel(
            A,
            states,
            random_init,
            k,
            rng_states(seed, num_reads),
            betas,
            proposals_per_sweep,
            PROPOSALS[proposal_type],
            DESCENTS[descent],
            DESCENT_RTOL,
            np.empty((0, 5)),
            np.empty((0, len(A))),
            twin,
        )
        t_sample = time.perf_counter() - t0

        xs = states.astype(np.float64)
        energies = ((xs @ A) * xs).sum(axis=1)
        info = {
            "k": k,
            "beta_range": beta_range,
            "beta_schedule_type": beta_schedule_type,
            "num_sweeps": num_sweeps,
            "proposals_per_sweep": proposals_per_sweep,
            "proposal_type": proposal_type,
            "descent": descent,
            "timing": {
                "compile": t_compile,
                "beta_calibration": t_calib,
                "sampling": t_sample,
                "per_read": t_sample / num_reads,
                "total": time.perf_counter() - t_start,
            },
        }
        return dimod.SampleSet.from_samples(
            (states, variables),
            vartype=dimod.BINARY,
            energy=energies,
            info=info,
            sort_labels=False,
            num_descent_swaps=descent_swaps,
        )


def _check_matrix(
    A: np.ndarray, variables: list | None, k: Any, twin: np.ndarray | None
) -> tuple[np.ndarray, list, int, np.ndarray]:
    """``A`` as a C-contiguous symmetric float64 matrix, its labels, ``k`` and ``twin``."""
    A = np.ascontiguousarray(A, dtype=np.float64)
    K = len(A)
    if A.shape != (K, K) or not np.array_equal(A, A.T):
        raise InputError(f"A must be a symmetric square matrix, got shape {A.shape}")
    variables = list(range(K)) if variables is None else list(variables)
    if len(variables) != K:
        raise InputError(f"{len(variables)} variables for a {K} x {K} matrix")
    if K < 2:
        raise InputError(f"swap annealing needs at least 2 variables, the bqm has {K}")
    k = check_k(k, K)
    return A, variables, k, check_twin(twin, K, k)


def _initial_states(initial_states: Any, variables: list, k: int, twin: np.ndarray) -> np.ndarray:
    """The given initial states as an (n, K) int8 array, each a valid k-subset; (0, K) if none."""
    if initial_states is None:
        return np.zeros((0, len(variables)), dtype=np.int8)
    init = parse_initial_states(initial_states, variables)
    counts = init.sum(axis=1, dtype=np.int64)
    bad = np.flatnonzero(counts != k)
    if bad.size:
        raise InputError(
            f"every initial state must have exactly k={k} ones; state {bad[0]} has {counts[bad[0]]}"
        )
    paired = np.flatnonzero(twin >= 0)
    both = (init[:, paired] != 0) & (init[:, twin[paired]] != 0)
    if both.any():
        bad = int(np.flatnonzero(both.any(axis=1))[0])
        raise InputError(
            f"initial state {bad} selects a variable and its twin "
            f"({variables[paired[both[bad]][0]]!r})"
        )
    return init


def _check_beta_range(beta_range: Any) -> tuple[float, float] | None:
    """A given ``beta_range`` as ``(hot, cold)`` floats with ``0 < hot <= cold < inf``."""
    if beta_range is None:
        return None
    given = beta_range
    try:
        if isinstance(beta_range, str) or len(beta_range) != 2:
            raise TypeError
        beta_range = (float(beta_range[0]), float(beta_range[1]))
    except (TypeError, ValueError):
        raise InputError(f"beta_range must be [hot, cold], got {given!r}") from None
    if not (0 < beta_range[0] <= beta_range[1] < np.inf):
        raise InputError(
            f"beta_range must be [hot, cold] with 0 < hot <= cold, got {list(beta_range)}"
        )
    return beta_range
