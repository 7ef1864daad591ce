"""One reader per role: a reply's text (and what the role was given) in, the role's value out.

Pure functions built on parsing.py and the contract gate; a ParseError's message is what the
model is told in the re-ask.
"""

from __future__ import annotations

from collections.abc import Sequence

from mlestar import blocks
from mlestar.engineers.base import (
    ENSEMBLE_KINDS,
    BlockChoice,
    Candidate,
    EnsembleMember,
    EnsemblePlan,
    LeakageReport,
    Variant,
)
from mlestar.engineers.llm import parsing
from mlestar.engineers.llm.gate import script_findings
from mlestar.engineers.llm.parsing import ParseError
from mlestar.engineers.llm.prompts.checks import ALL_DATA_USED


def gated(script: str) -> str:
    """The script, if it keeps the harness contract; otherwise ParseError listing what it breaks."""
    found = script_findings(script)
    if found:
        raise ParseError("the script breaks the harness contract: " + "; ".join(found))
    return script


def read_script(text: str) -> str:
    return gated(parsing.parse_script(text))


def read_revision(script: str, text: str) -> str:
    """A whole revised script or only its changed blocks; must change something."""
    revised = gated(parsing.apply_block_reply(script, text))
    if revised.strip() == script.strip():
        raise ParseError("the reply changes nothing in the script")
    return revised


def read_data_usage(script: str, text: str) -> str | None:
    if ALL_DATA_USED.lower() in text.lower() and not parsing.fences(text):
        return None
    revised = gated(parsing.apply_block_reply(script, text))
    return None if revised.strip() == script.strip() else revised


def read_block_body(script: str, block: str, text: str) -> str:
    body = parsing.parse_block_body(script, block, text)
    gated(parsing.splice(script, block, body))
    return body


def read_cards(text: str, m: int, source: str, references: Sequence[str] = ()) -> list[Candidate]:
    """Model cards from a JSON list of objects; `references` (the pages a grounded search
    found) go with every card."""
    value = parsing.extract_json(text, _holds_cards)
    if isinstance(value, dict):
        value = next((v for v in value.values() if isinstance(v, list)), [value])
    if not isinstance(value, list):
        raise ParseError("expected a JSON list of model objects")
    cards: list[Candidate] = []
    for item in value:
        if not isinstance(item, dict) or not str(item.get("name", "")).strip():
            continue
        name = _unique(str(item["name"]).strip()[:60], {c.name for c in cards})
        summary = str(item.get("summary", "")).strip()
        example = str(item.get("example", "")).strip()
        cards.append(Candidate(name, summary, example, source, references=tuple(references)))
    if not cards:
        raise ParseError('expected a JSON list of objects with "name", "summary" and "example"')
    return cards[:m]


def _holds_cards(value: object) -> bool:
    items = value if isinstance(value, list) else [value]
    return any(isinstance(item, dict) for item in items) or isinstance(value, dict)


def read_card_choice(text: str, m: int, cards: Sequence[Candidate]) -> list[Candidate]:
    value = parsing.extract_json(text)
    names = value if isinstance(value, list) else [value]
    by_name = {c.name.lower(): c for c in cards}
    chosen: list[Candidate] = []
    for name in names:
        key = str(name.get("name", "") if isinstance(name, dict) else name).strip().lower()
        card = by_name.get(key)
        if card is not None and card not in chosen:
            chosen.append(card)
    if not chosen:
        raise ParseError(f"expected a JSON list of card names among {[c.name for c in cards]}")
    return chosen[:m]


def read_leakage(script: str, text: str) -> LeakageReport:
    verdict = parsing.json_object(_before_code(text), ("leakage",))
    if not _truthy(verdict["leakage"]):
        return LeakageReport(())
    findings = tuple(str(f) for f in verdict.get("findings") or () if str(f).strip()) or ("leakage found",)
    if not verdict.get("block"):
        raise ParseError('leakage is true but "block" does not name the block to fix')
    block = parsing.resolve_block(script, str(verdict["block"]))
    body = read_block_body(script, block, text)
    return LeakageReport(findings, fixed_code=parsing.splice(script, block, body))


def read_variants(script: str, text: str) -> list[Variant]:
    variants: list[Variant] = []
    problems: list[str] = []
    for v in parsing.parse_variants(text):
        try:
            block = parsing.resolve_block(script, v.block)
            code = gated(parsing.splice(script, block, v.body))
        except ParseError as e:
            problems.append(f"variant {v.name}: {e}")
            continue
        if code.strip() != script.strip():
            name = _unique(v.name, {x.name for x in variants})
            variants.append(Variant(name, v.description, block, code))
    if not variants:
        raise ParseError(
            "no usable variant: " + ("; ".join(problems) or "each one left the script unchanged")
        )
    return variants


def read_block_choice(script: str, refined: Sequence[str], text: str) -> BlockChoice:
    answer = parsing.json_object(text, ("block", "plan"))
    block = parsing.resolve_block(script, str(answer["block"]))
    fresh = [n for n in blocks.block_names(script) if n not in refined]
    if block in refined and fresh:
        raise ParseError(f"block {block!r} was refined before; choose one of {fresh}")
    plan = str(answer["plan"]).strip()
    if not plan:
        raise ParseError('"plan" is empty')
    return BlockChoice(block, plan)


def read_ensemble_plan(members: Sequence[EnsembleMember], text: str) -> EnsemblePlan:
    answer = parsing.json_object(text, ("kind",))
    kind = str(answer["kind"]).strip().lower()
    if kind not in ENSEMBLE_KINDS:
        raise ParseError(f"expected kind one of {list(ENSEMBLE_KINDS)}, found {kind!r}")
    known = [m.node_id for m in members]
    chosen = [str(x) for x in answer.get("members") or () if str(x) in known]
    if len(set(chosen)) < 2:
        chosen = known
    plan = str(answer.get("plan") or f"{kind} of {', '.join(chosen)}").strip()
    return EnsemblePlan(kind, plan, tuple(dict.fromkeys(chosen)))


def _before_code(text: str) -> str:
    """The part of a reply before its python fence (where the JSON verdict is)."""
    for marker in ("```python", "```py"):
        if marker in text:
            return text[: text.index(marker)]
    return text


def _truthy(value: object) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("true", "yes", "yes data leakage", "leak", "1")
    return bool(value)


def _unique(name: str, taken: set[str]) -> str:
    if name not in taken:
        return name
    i = 2
    while f"{name}-{i}" in taken:
        i += 1
    return f"{name}-{i}"
