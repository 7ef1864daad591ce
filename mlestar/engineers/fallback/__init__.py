"""The fallback engineer: progress from any script when the language model cannot answer."""

from mlestar.engineers.fallback.engineer import FallbackEngineer

__all__ = ["FallbackEngineer"]
