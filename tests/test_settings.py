"""The one translation from config sections to a model and a solver call."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from qubo_portfolio import build_qubo, decode, solve
from qubo_portfolio.core.returns import WindowSpec
from qubo_portfolio.workflows.config import validate_config
from qubo_portfolio.workflows.selector import select_assets
from qubo_portfolio.workflows.settings import SelectorSpec
from qubo_portfolio.workflows.sweep import plan_sweep, prepare_schemes

from helpers import make_returns

MODEL = {
    "k": 3,
    "xi": 0.4,
    "positions": "long_short",
    "windows": {"length": 20, "step": 10},
    "penalty": {"scale": 2.0, "exclusion_value": 0.5},
    "covariance": "ledoit_wolf",
}


def test_the_spec_carries_every_model_and_solver_key():
    cfg = validate_config(
        {
            "data": {"source": "synthetic", "synthetic": {"assets": 8, "days": 120}},
            "model": MODEL,
            "solver": {"name": "tabu", "num_reads": 3, "seed": 7, "params": {"timeout": 5}},
        },
        "test",
    )
    spec = SelectorSpec.from_config(cfg)
    assert spec.k == 3 and spec.xi == 0.4 and spec.positions == "long_short"
    assert spec.windows == WindowSpec(length=20, step=10)
    assert spec.penalty_scale == 2.0 and spec.exclusion == 0.5
    assert spec.covariance == "ledoit_wolf" and spec.expected_returns == "empirical"
    assert spec.solver == "tabu" and spec.num_reads == 3 and spec.seed == 7
    assert dict(spec.params) == {"timeout": 5}

    returns = make_returns(n_rows=120, n_assets=8, seed=2)
    qubo = spec.build(returns)
    direct = build_qubo(
        returns,
        k=3,
        xi=0.4,
        windows={"length": 20, "step": 10},
        positions="long_short",
        covariance="ledoit_wolf",
    )
    np.testing.assert_array_equal(qubo.A, direct.A)
    info = spec.solve(qubo).info
    assert info["exclusion_penalty"] == 0.5
    assert info["penalty"] == pytest.approx(2.0 * qubo.penalty_bound())


def test_the_estimator_holds_long_short_legs_with_signed_weights():
    from qubo_portfolio.estimator import QuboSelection

    returns = make_returns(n_rows=120, n_assets=8, seed=3)
    model = QuboSelection(
        k=3, xi=0.4, windows={"length": 20, "step": 10}, solver="exact", positions="long_short"
    ).fit(returns)
    qubo = build_qubo(
        returns, k=3, xi=0.4, windows={"length": 20, "step": 10}, positions="long_short"
    )
    best = decode(solve(qubo, "exact"), qubo).best
    expected = best.weights.reindex(returns.columns, fill_value=0.0).to_numpy()
    np.testing.assert_array_equal(model.weights_, expected)
    assert np.abs(model.weights_).sum() == pytest.approx(1.0)
    assert (model.weights_ < 0).any() == ("short" in best.sides)
    assert model.selected_ == best.tickers


def test_select_assets_uses_the_spec_estimators():
    returns = make_returns(n_rows=120, n_assets=8, seed=4)
    plain = select_assets(returns, SelectorSpec(k=3, windows=WindowSpec(length=20, step=10)))
    shrunk = select_assets(
        returns,
        SelectorSpec(k=3, windows=WindowSpec(length=20, step=10), covariance="ledoit_wolf"),
    )
    assert plain.qubo.covariance == "empirical" and shrunk.qubo.covariance == "ledoit_wolf"
    assert not np.array_equal(plain.qubo.A, shrunk.qubo.A)


def test_a_sweep_over_estimators_computes_moments_per_estimator():
    cfg = validate_config(
        {
            "data": {"source": "synthetic", "synthetic": {"assets": 8, "days": 120}},
            "model": {"k": 3, "windows": {"length": 20, "step": 10}},
            "sweep": {"grid": {"model.covariance": ["empirical", "ledoit_wolf"]}, "seeds": [0]},
        },
        "test",
    )
    schemes, point_scheme, _ = prepare_schemes(plan_sweep(cfg))
    assert len(schemes) == 2 and point_scheme == [0, 1]
    assert not np.array_equal(schemes[0].moments.cov_mean, schemes[1].moments.cov_mean)
    assert isinstance(schemes[0].in_sample, pd.DataFrame)
