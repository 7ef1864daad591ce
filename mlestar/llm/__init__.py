"""Language-model clients: one small interface, three providers, fakes, and the wrappers that
retry, record and budget every call. Each provider's SDK is imported only when it is used.

    client.py         Message, Reply, LLMClient (the interface)
    settings.py       LLMSettings.from_env: provider, model, base URL, key (masked), limits, prices
    factory.py        per-role clients: budget( record( retry( provider ) ) )
    openai_compat.py  OpenAI and every OpenAI-compatible server (Ollama, vLLM, llama.cpp, ...)
    gemini.py         Gemini, with Google Search grounding for retrieval
    anthropic.py      Claude
    retry.py          backoff on 429 / 5xx / timeouts, honouring Retry-After
    budget.py         --max-cost / --max-tokens
    record.py         RUN_DIR/llm/calls.jsonl, and replay:RUN_DIR
    fakes.py          ScriptedClient, FunctionClient
    websearch.py      the pluggable search backend for retrieval without grounding
"""

from __future__ import annotations

from mlestar.llm.client import WEB_SEARCH, LLMClient, Message, Reply
from mlestar.llm.fakes import FunctionClient, ScriptedClient
from mlestar.llm.settings import LLMSettings

__all__ = ["WEB_SEARCH", "FunctionClient", "LLMClient", "LLMSettings", "Message", "Reply", "ScriptedClient"]
