"""Test helpers: small synthetic return tables (no network, no ../shared)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"


def make_returns(n_rows: int = 130, n_assets: int = 8, seed: int = 0, calendar: bool = False):
    """Correlated daily returns with per-asset drift, on business days."""
    rng = np.random.default_rng(seed)
    factor = rng.normal(0, 0.01, (n_rows, 1))
    beta = rng.uniform(0.5, 1.5, n_assets)
    noise = rng.standard_t(4, (n_rows, n_assets)) * 0.008
    drift = rng.uniform(-0.0005, 0.0015, n_assets)
    values = drift + factor * beta + noise
    index = pd.bdate_range("2021-01-04", periods=n_rows, name="date")
    columns = [f"T{i:02d}" for i in range(n_assets)]
    return pd.DataFrame(values, index=index, columns=columns)
