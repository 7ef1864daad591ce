"""Reading model replies: pure functions, text in, value out, ParseError with a reason otherwise.

The reason of a ParseError is written for the model: the engineer feeds it back in one re-ask.
"""

from __future__ import annotations

import ast
import itertools
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from mlestar import blocks, syntax
from mlestar.contract import BLOCK_MARKER


class ParseError(ValueError):
    """A reply that cannot be used; the message says why, for the re-ask."""


_FENCE = re.compile(r"```[ \t]*(?P<label>[\w+.-]*)[^\n]*\n(?P<body>.*?)(?:^[ \t]*```|\Z)", re.S | re.M)
_CODE_LABELS = {"python", "py", "python3", "ipython", ""}
_CODE_START = re.compile(r"^(import |from |#|\"\"\"|'''|def |class |@|[A-Za-z_][\w.\[\]'\"]*\s*=)")


def fences(text: str) -> list[tuple[str, str]]:
    """(label, body) of every fenced block; an unterminated last fence runs to the end."""
    return [(m.group("label").lower(), m.group("body")) for m in _FENCE.finditer(text)]


def extract_code(text: str) -> str:
    """The code of a reply: the longest python fence, else the bare reply minus leading prose."""
    found = fences(text)
    code = [body for label, body in found if label in _CODE_LABELS - {""}]
    code = code or [body for label, body in found if label == "" and not _looks_like_json(body)]
    if code:
        return max(code, key=len).strip("\n") + "\n"
    if found:
        raise ParseError("the reply has no ```python fenced block")
    lines = text.strip().splitlines()
    for i, line in enumerate(lines):
        if _CODE_START.match(line.strip()):
            return "\n".join(lines[i:]).strip("\n") + "\n"
    raise ParseError("the reply contains no code")


def _looks_like_json(body: str) -> bool:
    return body.lstrip()[:1] in ("{", "[")


def check_syntax(code: str) -> None:
    try:
        syntax.parse(code)
    except SyntaxError as e:
        where = f" at line {e.lineno}" if e.lineno else ""
        raise ParseError(f"the code does not parse: {e.msg}{where}") from None


def parse_script(text: str) -> str:
    """A whole solution script: parses, and is made of named blocks with unique names."""
    code = extract_code(text)
    check_syntax(code)
    names = blocks.block_names(code)
    if not names:
        raise ParseError(
            f'the script has no named blocks; open each block with a line "{BLOCK_MARKER}<name>"'
        )
    try:
        blocks.validate(code)
    except blocks.BlockError as e:
        raise ParseError(str(e)) from None
    return code


def apply_block_reply(script: str, text: str) -> str:
    """A reply that is either a whole script or only some blocks, applied to `script`: a known
    block replaces its namesake, a new one goes after the block listed before it in the reply."""
    code = extract_code(text)
    check_syntax(code)
    parsed = blocks.parse_blocks(code)
    if not parsed:
        raise ParseError(f'the reply has no block marker lines "{BLOCK_MARKER}<name>"')
    header = code[: parsed[0].start]
    has_header = any(ln.strip() and not ln.strip().startswith("#") for ln in header.splitlines())
    if has_header or {b.name for b in parsed} >= set(blocks.block_names(script)):
        return parse_script(code)
    result, anchor = script, None
    for b in parsed:
        if b.name in blocks.block_names(result):
            result = splice(result, b.name, b.body(code))
        else:
            result = insert_block(result, anchor, b.name, b.body(code))
        anchor = b.name
    return result


def insert_block(script: str, after: str | None, name: str, body: str) -> str:
    """The script with a new block placed after block `after` (before the first block if None)."""
    parsed = blocks.parse_blocks(script)
    if not parsed:
        raise ParseError("the script has no named blocks to place a new one among")
    at = parsed[0].start if after is None else next(b.end for b in parsed if b.name == after)
    new = f"{BLOCK_MARKER}{name}\n{body.strip(chr(10))}\n"
    head = script[:at].rstrip("\n")
    tail = script[at:].lstrip("\n")
    result = f"{head}\n\n\n{new}" + (f"\n\n{tail}" if tail else "")
    try:
        blocks.validate(result)
    except blocks.BlockError as e:
        raise ParseError(str(e)) from None
    return result


def splice(script: str, block: str, body: str) -> str:
    """The script with one block's body replaced; ParseError when the block is missing or it breaks."""
    try:
        return blocks.replace_block(script, block, body)
    except blocks.BlockError as e:
        raise ParseError(str(e)) from None


def parse_block_body(script: str, block: str, text: str) -> str:
    """The new body of one block (marker line dropped), checked by splicing it into the script.
    A reply holding several blocks (often the whole script) gives up the one asked for."""
    body = extract_code(text)
    parsed = blocks.parse_blocks(body)
    if len(parsed) > 1 or (parsed and parsed[0].name != block):
        named = [b for b in parsed if b.name == block]
        if len(named) != 1:
            raise ParseError(
                f"the reply holds blocks {[b.name for b in parsed]} but not block {block!r} once; "
                f"reply with the new code of block {block!r} alone"
            )
        body = named[0].body(body)
    splice(script, block, body)
    lines = body.strip("\n").splitlines()
    if lines and lines[0].strip() == (BLOCK_MARKER + block).strip():
        body = "\n".join(lines[1:]) + "\n"
    return body


# -- JSON ----------------------------------------------------------------------------------------
_TRAILING_COMMA = re.compile(r",(\s*[}\]])")
_SMART_QUOTES = str.maketrans({"\u201c": '"', "\u201d": '"', "\u2018": "'", "\u2019": "'"})
_OPENERS = {"{": "}", "[": "]"}


Want = type | tuple[type, ...] | Callable[[Any], bool] | None


def extract_json(text: str, want: Want = None) -> Any:
    """The JSON value of a reply (one `want` accepts, a type or a test, when given): fenced or
    bare, or the first bracketed span of the prose that decodes, so brackets in prose before it
    do no harm. Repaired for raw newlines inside strings, trailing commas, smart quotes and
    Python literals (single quotes, True/None)."""
    last_error = "no JSON value found"
    for candidate in _json_candidates(text):
        for attempt in (candidate, _repair(candidate)):
            value, error = _decode(attempt)
            if error is None and _accepts(want, value):
                return value
            last_error = error or f"expected {_kind(want)}, found {type(value).__name__}"
    raise ParseError(f"the reply is not valid JSON ({last_error})")


def _accepts(want: Want, value: Any) -> bool:
    if want is None:
        return True
    if isinstance(want, type | tuple):
        return isinstance(value, want)
    return bool(want(value))


def _decode(text: str) -> tuple[Any, str | None]:
    """(value, None) or (None, why). strict=False lets raw newlines and tabs stand in strings."""
    try:
        return json.loads(text, strict=False), None
    except json.JSONDecodeError as e:
        error = f"{e.msg} at line {e.lineno} column {e.colno}"
    try:
        return ast.literal_eval(text), None
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return None, error


def _kind(want: Want) -> str:
    if not isinstance(want, type | tuple):
        return "another JSON value"
    kinds = want if isinstance(want, tuple) else (want,)
    return " or ".join(
        "a JSON " + ("object" if k is dict else "list" if k is list else str(k)) for k in kinds
    )


def _json_candidates(text: str) -> Iterator[str]:
    """Fenced JSON, the whole reply, then its bracketed spans; lazily, as most replies stop early."""
    seen: set[str] = set()
    stripped = text.strip()
    fenced_bodies = [body for label, body in fences(text) if label in ("json", "")]
    spans = itertools.chain(bracketed_spans(stripped), bracketed_spans(stripped.translate(_SMART_QUOTES)))
    for candidate in itertools.chain(fenced_bodies, [stripped], spans):
        if candidate not in seen:
            seen.add(candidate)
            yield candidate


def bracketed_spans(text: str, limit: int = 200) -> Iterator[str]:
    """Balanced {...} or [...] spans, left to right, each one's nested spans after it (a parent
    that does not decode may hold the value). Quotes are respected, so brackets inside strings
    do not count. At most `limit` opening brackets are tried."""
    starts = [i for i, ch in enumerate(text) if ch in _OPENERS][:limit]
    for i in starts:
        end = _closing(text, i)
        if end is not None:
            yield text[i : end + 1]


def _closing(text: str, start: int) -> int | None:
    """The index of the bracket closing the one at `start`; None when it never closes."""
    stack: list[str] = []
    quote: str | None = None
    escaped = False
    for i in range(start, len(text)):
        ch = text[i]
        if quote is not None:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == quote:
                quote = None
        elif ch in "\"'":
            quote = ch
        elif ch in _OPENERS:
            stack.append(_OPENERS[ch])
        elif ch in "}]":
            if not stack or stack.pop() != ch:
                return None
            if not stack:
                return i
    return None


def _repair(text: str) -> str:
    return _TRAILING_COMMA.sub(r"\1", text.translate(_SMART_QUOTES))


def json_object(text: str, required: tuple[str, ...]) -> dict[str, Any]:
    try:
        value = extract_json(text, dict)
    except ParseError:
        value = extract_json(text)  # a one-object list is accepted too
    if isinstance(value, list) and len(value) == 1 and isinstance(value[0], dict):
        value = value[0]
    if not isinstance(value, dict):
        raise ParseError(f"expected a JSON object, found {type(value).__name__}")
    missing = [k for k in required if k not in value]
    if missing:
        raise ParseError(f"the JSON object lacks {', '.join(missing)}")
    return value


# -- blocks chosen by the model ------------------------------------------------------------------
def resolve_block(script: str, answer: str) -> str:
    """The block a reply designates, by name or by a piece of its code. The piece must match
    exactly one block (exactly, then ignoring whitespace); otherwise ParseError."""
    names = blocks.block_names(script)
    text = answer.strip().strip("`").strip()
    if text.startswith(BLOCK_MARKER.strip()):
        first, _, rest = text.partition("\n")
        text = first[len(BLOCK_MARKER.strip()) :].strip() if not rest.strip() else rest
    if text in names:
        return text
    lowered = {n.lower(): n for n in names}
    if text.lower() in lowered:
        return lowered[text.lower()]
    return _block_holding(script, text, names)


def _block_holding(script: str, piece: str, names: list[str]) -> str:
    if not piece.strip():
        raise ParseError(f"no block given; choose one of {names}")
    parsed = blocks.parse_blocks(script)
    exact = [b.name for b in parsed if piece in b.body(script)]
    if len(exact) == 1 and script.count(piece) == 1:
        return exact[0]
    squeezed = _squeeze(piece)
    loose = [b.name for b in parsed if squeezed and squeezed in _squeeze(b.body(script))]
    if len(loose) == 1:
        return loose[0]
    where = "no place" if not loose and not exact else f"{max(len(loose), len(exact), 2)} places"
    raise ParseError(
        f"the chosen block matches {where} in the script; give the name of exactly one of {names}"
    )


def _squeeze(text: str) -> str:
    return re.sub(r"\s+", "", text)


# -- ablation variants ---------------------------------------------------------------------------
@dataclass(frozen=True)
class VariantReply:
    name: str
    block: str
    description: str
    body: str


_VARIANT = re.compile(r"^\s*\**\s*VARIANT\s*\**\s*:\s*(?P<name>.+?)\s*$", re.M | re.I)
_FIELD = r"^\s*\**\s*{}\s*\**\s*:\s*(?P<value>.+?)\s*$"


def parse_variants(text: str) -> list[VariantReply]:
    """Sections "VARIANT: / BLOCK: / WHAT: / ```python```"; a malformed section raises."""
    starts = list(_VARIANT.finditer(text))
    if not starts:
        raise ParseError("the reply has no 'VARIANT:' sections")
    found = []
    for i, m in enumerate(starts):
        section = text[m.end() : starts[i + 1].start() if i + 1 < len(starts) else len(text)]
        block = re.search(_FIELD.format("BLOCK"), section, re.M | re.I)
        what = re.search(_FIELD.format("WHAT"), section, re.M | re.I)
        if block is None:
            raise ParseError(f"variant {m.group('name')!r} has no 'BLOCK:' line")
        body = extract_code(section[block.end() :])
        description = what.group("value") if what else m.group("name")
        found.append(
            VariantReply(slug(m.group("name")), block.group("value").strip("`* "), description, body)
        )
    return found


def slug(name: str, limit: int = 40) -> str:
    """A name safe for attempt ids and folder names."""
    cleaned = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    return cleaned[:limit].strip("-") or "variant"


def plain_text(text: str, limit: int = 3000) -> str:
    """A prose reply: fences and surrounding quotes dropped; ParseError when empty."""
    cleaned = _FENCE.sub(lambda m: m.group("body"), text).strip().strip('"').strip()
    if not cleaned:
        raise ParseError("the reply is empty")
    return cleaned[:limit]
