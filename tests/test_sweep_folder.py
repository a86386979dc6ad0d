"""The sweep folder's lock: held while a sweep writes, gone once it ends, refused or not."""

from __future__ import annotations

import fcntl

import pytest
import yaml

from qubo_portfolio.errors import InputError
from qubo_portfolio.workflows.config import validate_config
from qubo_portfolio.workflows.sweep import LOCK_FILE, SweepFolder, plan_sweep

RAW = {
    "data": {"source": "synthetic", "synthetic": {"assets": 8, "days": 80, "seed": 1}},
    "model": {"k": 3, "lookback": 60, "windows": {"length": 30, "step": 15}},
    "solver": {"name": "sa", "num_reads": 5},
    "report": {"plots": False},
    "sweep": {"grid": {"model.xi": [0.0, 1.0]}, "seeds": [0]},
}


def plan(**model):
    raw = yaml.safe_load(yaml.safe_dump(RAW))
    raw["model"].update(model)
    return plan_sweep(validate_config(raw))


def test_a_finished_sweep_leaves_no_lock_file(tmp_path):
    out = tmp_path / "out"
    with SweepFolder(out, plan()) as folder:
        assert (out / LOCK_FILE).exists()
        folder.start({})
    assert not (out / LOCK_FILE).exists()
    with SweepFolder(out, plan()) as folder:  # resumes
        assert folder.resuming
    assert not (out / LOCK_FILE).exists()


def test_a_refused_sweep_leaves_no_lock_file(tmp_path):
    out = tmp_path / "out"
    with SweepFolder(out, plan()) as folder:
        folder.start({})
    with pytest.raises(InputError, match="different config"), SweepFolder(out, plan(k=4)):
        pass
    assert sorted(p.name for p in out.iterdir()) == ["results.csv", "sweep.json"]


def test_a_locked_folder_is_refused_and_the_holder_removes_the_lock(tmp_path):
    out = tmp_path / "out"
    with SweepFolder(out, plan()) as folder:
        folder.start({})
        with pytest.raises(InputError, match="another sweep is writing"), SweepFolder(out, plan()):
            pass
        assert (out / LOCK_FILE).exists()  # still the holder's
        with open(out / LOCK_FILE) as handle:  # and still locked
            with pytest.raises(OSError):
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    assert not (out / LOCK_FILE).exists()
