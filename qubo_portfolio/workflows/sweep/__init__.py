"""Parameter sweeps: a grid of config values times solver seeds, resumable, on any executor.

A sweep is the ``sweep`` section of a config::

    sweep:
      grid: {model.xi: [0, 0.5, 1], model.penalty.scale: [0.01, 0.1, 1]}
      seeds: [0, 1, 2]

Every combination of the grid values (the Cartesian product, in the order given) is solved
once per seed (the solver seed). :func:`plan_sweep` checks every key and builds the config
of every grid point; :func:`run_sweep` runs the missing (point, seed) pairs through
:func:`qubo_portfolio.workflows.executors.run_tasks` and appends one row per pair to ``results.csv``
the moment it finishes.

The output folder:

- ``sweep.json``: the normalized config the folder belongs to, its hash and a fingerprint of
  the data, written atomically before the first run. Rerunning the same config resumes; a
  different config (or changed data) is refused.
- ``results.csv``: the columns of :func:`result_columns`. Rows are written whole (one
  ``write``, then ``flush`` and ``os.fsync``) and never rewritten; a line without its
  newline (a run killed while writing) is cut off on resume, so after a SIGKILL only the
  runs in flight are lost.
- ``.sweep.lock``: held while a sweep writes, so two sweeps cannot append to one folder;
  removed when the sweep ends (a refused or finished sweep leaves none behind).

Work is shared, not repeated: the prices of each distinct ``data`` section are loaded once,
and the xi-free window moments (:class:`~qubo_portfolio.core.model.WindowMoments`) once per data
set and window scheme (``data.*``, ``model.lookback``, ``model.windows.*``, the moment
estimators ``model.covariance``, ``model.expected_returns``, ``model.estimator_params``), in this
process.
Tasks receive only those moments (K x K matrices, sent to each worker once) and rebuild
``PortfolioQubo(moments, k, xi, return_term, positions)``; the in-sample measures of each
selection are computed here, from the returns this process already holds, so workers never
see prices. Long/short points (``model.positions: long_short``) report the selected legs
(``long:<t>``, ``short:<t>``) in ``tickers`` and measure the signed weights ``+-1/K'``, as
``run`` does.
"""

from .plan import *  # noqa
from .run import *  # noqa
from .store import *  # noqa
