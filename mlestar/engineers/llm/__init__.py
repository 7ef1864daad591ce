"""The LLM engineer: prompts per role, robust reply parsing, the contract gate, and fallback."""

from __future__ import annotations

from mlestar.engineers.llm.build import build_engineer
from mlestar.engineers.llm.engineer import LLMEngineer

__all__ = ["LLMEngineer", "build_engineer"]
