"""Per-window moment estimators: which skfolio estimator gives ``Q^(m)`` and ``mu^(m)``.

``model.covariance`` names the covariance estimator and ``model.expected_returns`` the
expected-returns estimator; each is fitted on the returns of one window at a time, and the
averaged matrix ``A = 1/(M K'^2) sum_m (Q^(m) - xi P^(m))`` is formed from their outputs
unchanged. ``empirical`` (both) is the plain sample covariance (ddof=1) and the mean, computed
by :func:`qubo_portfolio.core.model.window_moments` itself (no skfolio, bit for bit the
historical result); every other name is the skfolio class below, imported only when used.

============== ============================================ ==================================
name           skfolio class (``skfolio.moments``)          ``Q^(m)`` on the window's L rows
============== ============================================ ==================================
empirical      ``EmpiricalCovariance(ddof=1)``              ``(X - mu)^T (X - mu) / (L - 1)``
ledoit_wolf    ``LedoitWolf``                               ``(1 - d) S + d tr(S)/K I``, d by
                                                            Ledoit & Wolf (2004), S = ddof 0
oas            ``OAS``                                      same target, d by Chen et al. (2010)
shrunk         ``ShrunkCovariance(shrinkage=0.1)``          same target, fixed d = shrinkage
exponential    ``EWCovariance(half_life=40)``               EWMA of ``r r^T`` (not demeaned),
                                                            ``lambda = 2^(-1/half_life)``
gerber         ``GerberCovariance(threshold=0.5)``          Gerber statistic (2022 PSD
                                                            variant) times ``std_i std_j``
denoise        ``DenoiseCovariance``                        sample covariance with the
                                                            Marchenko-Pastur noise eigenvalues
                                                            of its correlation replaced by
                                                            their mean (Lopez de Prado 2020)
============== ============================================ ==================================

Expected returns: ``empirical`` (``EmpiricalMu``, the mean), ``exponential`` (``EWMu``, the
EWMA of the returns, ``half_life=40``), ``shrinkage`` (``ShrunkMu``, James-Stein towards the
grand mean by default; ``method`` may be ``james_stein``, ``bayes_stein`` or
``bodnar_okhrin``).

Parameters (``model.estimator_params``) are nested, one mapping per estimator::

    estimator_params:
      covariance: {shrinkage: 0.3}         # ShrunkCovariance(shrinkage=0.3)
      expected_returns: {half_life: 10}    # EWMu(half_life=10)

Every key must be a parameter of the chosen class (an unknown key is an error naming the
valid ones). Two defaults differ from skfolio's: ``nearest`` is ``False`` (skfolio's default
``True`` would replace a window covariance that is not positive definite, as any with fewer
rows than assets, by a nearby one; the QUBO needs no positive-definite matrix, so each
``Q^(m)`` is the estimator's formula itself, as for ``empirical``), and the inner
``covariance_estimator`` of ``denoise`` and ``shrinkage`` is ``EmpiricalCovariance(ddof=1,
nearest=False)``; give it as a name (``covariance_estimator: ledoit_wolf``) to use another.
Note that EWCovariance and EWMu return NaN until an asset has ``min_observations`` rows
(default ``int(half_life)`` = 40): on shorter windows set ``half_life`` or
``min_observations`` (the error says so).
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from typing import Any, Literal

import numpy as np

from ..errors import InputError

CovarianceName = Literal[
    "empirical", "ledoit_wolf", "oas", "shrunk", "exponential", "gerber", "denoise"
]
ExpectedReturnsName = Literal["empirical", "exponential", "shrinkage"]

COVARIANCE_ESTIMATORS: dict[str, str] = {
    "empirical": "EmpiricalCovariance",
    "ledoit_wolf": "LedoitWolf",
    "oas": "OAS",
    "shrunk": "ShrunkCovariance",
    "exponential": "EWCovariance",
    "gerber": "GerberCovariance",
    "denoise": "DenoiseCovariance",
}
EXPECTED_RETURNS_ESTIMATORS: dict[str, str] = {
    "empirical": "EmpiricalMu",
    "exponential": "EWMu",
    "shrinkage": "ShrunkMu",
}
PARAM_SECTIONS = ("covariance", "expected_returns")


def normalize_params(estimator_params: Mapping[str, Any] | None) -> dict[str, dict[str, Any]]:
    """``{"covariance": {...}, "expected_returns": {...}}`` from the user's mapping.

    Only the two sections are accepted (a flat mapping would be ambiguous: ``half_life``
    belongs to both exponential estimators).
    """
    params = dict(estimator_params or {})
    unknown = [k for k in params if k not in PARAM_SECTIONS]
    if unknown:
        raise InputError(
            f"model.estimator_params: unknown section {unknown[0]!r} (use covariance: {{...}} "
            "and/or expected_returns: {...})"
        )
    out: dict[str, dict[str, Any]] = {}
    for section in PARAM_SECTIONS:
        value = params.get(section) or {}
        if not isinstance(value, Mapping):
            raise InputError(
                f"model.estimator_params.{section} must be a mapping of parameter: value"
            )
        out[section] = {str(k): v for k, v in value.items()}
    return out


def _check_name(kind: str, name: str, table: Mapping[str, str]) -> str:
    if name not in table:
        raise InputError(f"model.{kind} = {name!r} is unknown (use {', '.join(table)})")
    return table[name]


def _construct(kind: str, name: str, cls: type, params: Mapping[str, Any]) -> Any:
    accepted = [p for p in inspect.signature(cls.__init__).parameters if p != "self"]
    unknown = [p for p in params if p not in accepted]
    if unknown:
        raise InputError(
            f"model.estimator_params.{kind}.{unknown[0]} is not a parameter of {cls.__name__} "
            f"(model.{kind} = {name}; its parameters: {', '.join(accepted)})"
        )
    kwargs = dict(params)
    if "nearest" in accepted:
        kwargs.setdefault("nearest", False)
    if "covariance_estimator" in accepted:
        inner = kwargs.get("covariance_estimator")
        if inner is None or isinstance(inner, str):
            kwargs["covariance_estimator"] = covariance_estimator(inner or "empirical")
    if cls.__name__ == "ShrunkMu" and isinstance(kwargs.get("method"), str):
        from skfolio.moments import ShrunkMuMethods

        method = kwargs["method"].upper()
        if method not in ShrunkMuMethods.__members__:
            choices = ", ".join(m.lower() for m in ShrunkMuMethods.__members__)
            raise InputError(
                f"model.estimator_params.{kind}.method = {kwargs['method']!r} is unknown "
                f"(use {choices})"
            )
        kwargs["method"] = ShrunkMuMethods[method]
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as exc:
        raise InputError(f"model.estimator_params.{kind}: {exc}") from None


def covariance_estimator(name: str, params: Mapping[str, Any] | None = None) -> Any:
    """The unfitted skfolio covariance estimator ``name`` (``nearest=False`` unless given)."""
    import skfolio.moments as sm

    cls = getattr(sm, _check_name("covariance", name, COVARIANCE_ESTIMATORS))
    return _construct("covariance", name, cls, params or {})


def expected_returns_estimator(name: str, params: Mapping[str, Any] | None = None) -> Any:
    """The unfitted skfolio expected-returns estimator ``name``."""
    import skfolio.moments as sm

    cls = getattr(sm, _check_name("expected_returns", name, EXPECTED_RETURNS_ESTIMATORS))
    return _construct("expected_returns", name, cls, params or {})


def check_estimators(
    covariance: str, expected_returns: str, estimator_params: Mapping[str, Any] | None
) -> dict[str, dict[str, Any]]:
    """Check the names and parameters (no skfolio import for empirical without parameters);
    return the normalized parameters."""
    params = normalize_params(estimator_params)
    _check_name("covariance", covariance, COVARIANCE_ESTIMATORS)
    _check_name("expected_returns", expected_returns, EXPECTED_RETURNS_ESTIMATORS)
    if covariance != "empirical" or params["covariance"]:
        covariance_estimator(covariance, params["covariance"])
    if expected_returns != "empirical" or params["expected_returns"]:
        expected_returns_estimator(expected_returns, params["expected_returns"])
    return params


def _hint(name: str) -> str:
    if name == "exponential":
        return (
            "; the exponential estimators give NaN until min_observations rows (default "
            "int(half_life) = 40): set half_life or min_observations in "
            "model.estimator_params"
        )
    return ""


def fit_window(
    kind: str, name: str, estimator: Any, x: np.ndarray, window: int, num_windows: int
) -> np.ndarray:
    """Fit a fresh copy of ``estimator`` on one window's returns ``x`` (L x K); return
    ``covariance_`` (kind ``covariance``) or ``mu_`` (``expected_returns``), checked finite."""
    import warnings

    from sklearn.base import clone

    fitted = clone(estimator)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            fitted.fit(x)
    except (ValueError, np.linalg.LinAlgError, ZeroDivisionError) as exc:
        raise InputError(
            f"model.{kind} = {name} failed on window {window + 1} of {num_windows} "
            f"({len(x)} rows): {exc}"
        ) from None
    value = np.asarray(fitted.covariance_ if kind == "covariance" else fitted.mu_, dtype=float)
    if not np.isfinite(value).all():
        raise InputError(
            f"model.{kind} = {name} gave non-finite values on window {window + 1} of "
            f"{num_windows} ({len(x)} rows){_hint(name)}"
        )
    return value
