"""The built-in engineer: MLE-STAR's roles played offline from model cards and a refinement catalogue."""

from mlestar.engineers.builtin.engineer import BuiltinEngineer

__all__ = ["BuiltinEngineer"]
