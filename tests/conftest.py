"""Shared fixtures."""

from __future__ import annotations

import pandas as pd
import pytest

from helpers import make_returns


@pytest.fixture
def returns() -> pd.DataFrame:
    return make_returns()
