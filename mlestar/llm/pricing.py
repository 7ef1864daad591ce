"""What a call costs: tokens at the model's price, plus the fee for grounded search.

Prices live in models.yaml (list prices as of 2025, only a default): MLESTAR_LLM_PRICE_IN /
MLESTAR_LLM_PRICE_OUT or a models file of your own override them; local servers cost nothing.
A model without a known price still has its tokens counted; its cost shows as 0.
"""

from __future__ import annotations

from mlestar.llm.models import ModelTable


def known_price(model: str) -> tuple[float, float] | None:
    """The list price of a hosted model, matching dated variants ("gpt-4o-mini-2024-07-18")."""
    return ModelTable.load().lookup(model, local=False).price


def call_cost(
    input_tokens: int,
    output_tokens: int,
    prices: tuple[float, float] | None,
    searches: int = 0,
    search_fee: float = 0.0,
) -> float:
    """USD for one call: tokens at (input, output) USD per million, plus `searches` fees
    (Gemini bills each grounded prompt, Claude each web search)."""
    tokens = 0.0 if prices is None else (input_tokens * prices[0] + output_tokens * prices[1]) / 1_000_000
    return tokens + searches * search_fee
