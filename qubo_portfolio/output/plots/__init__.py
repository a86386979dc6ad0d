"""Figures (matplotlib, imported lazily, Agg backend: no screen needed), one module per
workflow: :mod:`.run`, :mod:`.bench`, :mod:`.frontier`, :mod:`.backtest`, :mod:`.sweep`."""
