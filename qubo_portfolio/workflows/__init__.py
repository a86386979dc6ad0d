"""Workflows: each computes and returns a result dataclass; none writes files or draws."""
