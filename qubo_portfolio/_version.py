"""The package version (the bottom layer, beside errors)."""

__version__ = "0.1.0"
