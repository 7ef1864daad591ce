"""Known list prices, USD per million tokens (input, output), for cost accounting and --max-cost.

Prices change: these are the providers' published list prices as of 2025 and only a default.
MLESTAR_LLM_PRICE_IN / MLESTAR_LLM_PRICE_OUT override them; local servers cost nothing.
A model missing here has an unknown price: its tokens still count, its cost shows as 0.
"""

from __future__ import annotations

PRICES: dict[str, tuple[float, float]] = {
    "gpt-4o": (2.50, 10.00),
    "gpt-4o-mini": (0.15, 0.60),
    "gpt-4.1": (2.00, 8.00),
    "gpt-4.1-mini": (0.40, 1.60),
    "gpt-4.1-nano": (0.10, 0.40),
    "o4-mini": (1.10, 4.40),
    "gemini-2.0-flash": (0.10, 0.40),
    "gemini-2.5-flash": (0.30, 2.50),
    "gemini-2.5-pro": (1.25, 10.00),
    "claude-3-5-haiku-latest": (0.80, 4.00),
    "claude-sonnet-4-0": (3.00, 15.00),
    "claude-opus-4-0": (15.00, 75.00),
}


def known_price(model: str) -> tuple[float, float] | None:
    """The price of a model, matching dated variants ("gpt-4o-mini-2024-07-18") by prefix."""
    name = model.split("/")[-1].lower()
    if name in PRICES:
        return PRICES[name]
    matches = [k for k in PRICES if name.startswith(k + "-")]
    return PRICES[max(matches, key=len)] if matches else None
