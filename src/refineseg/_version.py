"""The package version, in a module that imports nothing (pyproject.toml reads it from here)."""

__version__ = "0.1.0"
