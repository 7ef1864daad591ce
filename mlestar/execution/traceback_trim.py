"""Finding and trimming the traceback that ended a script. Pure functions: text in, text out.

What a debugging engineer needs is the error line and the frames nearest to it, plus the script's own
frames; the dozens of library frames in between only cost prompt tokens. So the final traceback is
kept, library frames in the middle are folded into one line, and the oldest frames go first when the
text is still too long.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_HEADER = "Traceback (most recent call last):"
_GROUP_HEADER = re.compile(r"^\s*\+ Exception Group Traceback \(most recent call last\):")
_FRAME = re.compile(r'^  File "(?P<path>[^"]*)", line \d+')
_EXCEPTION_LINE = re.compile(r"^(?P<name>[A-Za-z_][\w.]*)(?::|$)")
_GROUP_EXCEPTION = re.compile(r"^\s*\|\s*(?P<name>[\w.]*ExceptionGroup)(?::|$)")
_LIBRARY_PATH = re.compile(r"(site-packages|dist-packages|/lib/python3[\d.]*/|^<frozen |^<string>)")
_MAX_MESSAGE_LINES = 20


@dataclass(frozen=True)
class Frame:
    """One 'File ..., line N, in f' entry with its source and caret lines."""

    lines: tuple[str, ...]
    library: bool

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


@dataclass(frozen=True)
class ParsedTraceback:
    """The final traceback of a text: header, frames, and the error line(s)."""

    header: str | None
    frames: tuple[Frame, ...]
    message: tuple[str, ...]
    chained: tuple[str, ...]
    """Error lines of the exceptions earlier in the chain ('During handling ...'), oldest first."""

    @property
    def exception(self) -> str | None:
        """The short name of the exception: 'KeyError', 'ParserError' for pandas.errors.ParserError."""
        for line in self.message[:1]:
            match = _GROUP_EXCEPTION.match(line) or _EXCEPTION_LINE.match(line)
            if match:
                return match.group("name").rsplit(".", 1)[-1]
        return None


def is_library_path(path: str) -> bool:
    """Frames in installed packages or the standard library, as opposed to the script's own."""
    return bool(_LIBRARY_PATH.search(path))


def _start_of_final_traceback(lines: list[str]) -> int | None:
    """Index of the last traceback header, or of the first frame of a header-less SyntaxError."""
    for index in range(len(lines) - 1, -1, -1):
        if lines[index].startswith(_HEADER) or _GROUP_HEADER.match(lines[index]):
            return index
    for index in range(len(lines) - 1, -1, -1):
        if _FRAME.match(lines[index]):
            while index > 0 and _FRAME.match(lines[index - 1]):
                index -= 1
            return index
    return None


def _split_frames(body: list[str]) -> tuple[list[Frame], list[str]]:
    """Frames (indented lines) up to the first line at column 0, which opens the error message."""
    frames: list[list[str]] = []
    for index, line in enumerate(body):
        if line and not line.startswith(" "):
            return [_frame(group) for group in frames], body[index:]
        if _FRAME.match(line) or not frames:
            frames.append([line])
        else:
            frames[-1].append(line)
    return [_frame(group) for group in frames], []


def _frame(lines: list[str]) -> Frame:
    match = _FRAME.match(lines[0])
    return Frame(tuple(lines), library=bool(match and is_library_path(match.group("path"))))


def _chained_errors(lines: list[str]) -> tuple[str, ...]:
    """The error line of each earlier exception in the chain: the line before each separator."""
    errors = []
    for index, line in enumerate(lines):
        if line.startswith(("During handling of the above exception", "The above exception was")):
            previous = [text for text in lines[:index] if text.strip()]
            if previous and _EXCEPTION_LINE.match(previous[-1]):
                errors.append(previous[-1])
    return tuple(errors)


def parse_traceback(text: str) -> ParsedTraceback | None:
    """The final traceback in a stream of stderr, or None when there is none."""
    lines = text.splitlines()
    start = _start_of_final_traceback(lines)
    if start is None:
        return None
    is_header = not _FRAME.match(lines[start])
    header = lines[start] if is_header else None
    if header is not None and _GROUP_HEADER.match(header):
        group = tuple(line for line in lines[start:] if _GROUP_EXCEPTION.match(line))
        return ParsedTraceback(header, (), group[:1], _chained_errors(lines[:start]))
    frames, message = _split_frames(lines[start + 1 if is_header else start :])
    while message and not message[-1].strip():
        message.pop()
    return ParsedTraceback(
        header, tuple(frames), tuple(message[:_MAX_MESSAGE_LINES]), _chained_errors(lines[:start])
    )


def exception_name(text: str) -> str | None:
    """The name of the exception that ended the script, from its stderr."""
    parsed = parse_traceback(text)
    return parsed.exception if parsed else None


def _fold_library_frames(frames: tuple[Frame, ...], keep_last: int) -> list[str]:
    """Keep the first frame, the script's frames and the last few; fold runs of library frames."""
    kept: list[str] = []
    run: list[Frame] = []
    for index, frame in enumerate(frames):
        if index == 0 or not frame.library or index >= len(frames) - keep_last:
            kept.extend(_folded(run))
            run = []
            kept.append(frame.text)
        else:
            run.append(frame)
    return kept + _folded(run)


def _folded(run: list[Frame]) -> list[str]:
    """One line for a run of library frames; a lone frame is kept, a line for it would save nothing."""
    if len(run) < 2:
        return [frame.text for frame in run]
    return [f"  ... {len(run)} library frames omitted ..."]


def trim_traceback(text: str, max_chars: int = 3000, keep_last: int = 3) -> str | None:
    """The final traceback of `text`, trimmed to at most `max_chars` characters, or None if none."""
    parsed = parse_traceback(text)
    if parsed is None:
        return None
    head = [f"[earlier in the chain: {line}]" for line in parsed.chained[-2:]]
    head += [parsed.header] if parsed.header else []
    message = "\n".join(parsed.message)
    budget = max_chars - len(message) - sum(len(line) + 1 for line in head) - 1
    body = _fit(_fold_library_frames(parsed.frames, keep_last), budget)
    result = "\n".join([*head, *body, message])
    return result if len(result) <= max_chars else result[-max_chars:]


def _fit(parts: list[str], budget: int) -> list[str]:
    """Drop the oldest parts (frames or fold lines) until they fit the budget, saying how many went."""
    total = sum(len(part) + 1 for part in parts)
    if total <= budget:
        return parts
    budget -= 40  # room for the line that says what was dropped
    dropped = 0
    while parts and total > budget:
        total -= len(parts[0]) + 1
        parts = parts[1:]
        dropped += 1
    return [f"  ... {dropped} older entr{'ies' if dropped != 1 else 'y'} omitted ...", *parts]
