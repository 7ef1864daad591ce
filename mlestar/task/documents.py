"""BSON files read without a driver: one table row per document, and each document's pictures.

BSON is a sequence of length-prefixed documents (bsonspec.org): a little-endian int32 with the
document's size, its elements (a type byte, a NUL-terminated name, the value) and a NUL. This is
a small decoder of that format, standard library only and importing nothing from mlestar: intake
reads the tables with it, and the media kit copies it into scripts (media/source.py), which read
a document's pictures as the row's files ("train.bson/{id}.jpg": the first picture of the
document whose _id is the row's key).
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

BSON_SUFFIX = ".bson"
FIXED_SIZES = {0x01: 8, 0x06: 0, 0x07: 12, 0x08: 1, 0x09: 8, 0x0A: 0, 0x10: 4, 0x11: 8, 0x12: 8,
               0x13: 16, 0x7F: 0, 0xFF: 0}  # fmt: skip
"""Bytes of the values whose size the type says (double, ObjectId, bool, date, null, ints...)."""
PICTURE_MAGIC = ((b"\xff\xd8\xff", "jpg"), (b"\x89PNG", "png"), (b"GIF8", "gif"), (b"BM", "bmp"))


def iter_documents(handle: BinaryIO) -> Iterator[tuple[int, dict[str, Any]]]:
    """(offset, document) for each document of an open BSON file, in file order."""
    offset = 0
    while True:
        head = handle.read(4)
        if len(head) < 4:
            return
        size = struct.unpack("<i", head)[0]
        body = handle.read(size - 4)
        if size < 5 or len(body) != size - 4:
            raise ValueError(f"expected a BSON document of {size} bytes at offset {offset}, found a cut file")
        yield offset, decode_document(head + body)
        offset += size


def read_document(handle: BinaryIO, offset: int) -> dict[str, Any]:
    """The document starting at offset (from iter_documents) of an open BSON file."""
    handle.seek(offset)
    head = handle.read(4)
    size = struct.unpack("<i", head)[0]
    return decode_document(head + handle.read(size - 4))


def decode_document(data: bytes, start: int = 0) -> dict[str, Any]:
    """The document at data[start:]: strings, numbers, bools, None, nested documents, lists, and
    binary data as bytes; dates as milliseconds, ObjectIds and decimals as hex text."""
    end = start + struct.unpack_from("<i", data, start)[0] - 1
    at, out = start + 4, {}
    while at < end:
        kind = data[at]
        name_end = data.index(b"\x00", at + 1)
        name = data[at + 1 : name_end].decode("utf-8", errors="replace")
        out[name], at = _value(data, kind, name_end + 1)
    return out


def _value(data: bytes, kind: int, at: int) -> tuple[Any, int]:
    """The value of type `kind` at data[at:], and where the next element starts."""
    if kind in (0x02, 0x0D, 0x0E):  # string, code, symbol: int32 size (NUL included), text
        size = struct.unpack_from("<i", data, at)[0]
        return data[at + 4 : at + 3 + size].decode("utf-8", errors="replace"), at + 4 + size
    if kind in (0x03, 0x04):  # document, array (a document keyed "0", "1", ...)
        size = struct.unpack_from("<i", data, at)[0]
        inner = decode_document(data, at)
        return (list(inner.values()) if kind == 0x04 else inner), at + size
    if kind == 0x05:  # binary: int32 size, a subtype byte, the bytes
        size = struct.unpack_from("<i", data, at)[0]
        return bytes(data[at + 5 : at + 5 + size]), at + 5 + size
    if kind == 0x0B:  # regular expression: two NUL-terminated strings
        second = data.index(b"\x00", data.index(b"\x00", at) + 1)
        return None, second + 1
    if kind in (0x0C, 0x0F):  # DB pointer, code with scope: both start with an int32 size
        size = struct.unpack_from("<i", data, at)[0]
        return None, at + (4 + size + 12 if kind == 0x0C else size)
    if kind not in FIXED_SIZES:
        raise ValueError(f"expected a BSON element type, found 0x{kind:02x} at byte {at - 1}")
    raw = data[at : at + FIXED_SIZES[kind]]
    scalars = {0x01: "<d", 0x08: "<?", 0x09: "<q", 0x10: "<i", 0x11: "<Q", 0x12: "<q"}
    if kind in scalars:
        return struct.unpack(scalars[kind], raw)[0], at + len(raw)
    return (raw.hex() if raw else None), at + len(raw)  # ObjectId as its hex spelling


def scalar_fields(document: dict[str, Any]) -> dict[str, Any]:
    """The document's top-level text, numbers and bools: its cells in a table."""
    return {k: v for k, v in document.items() if isinstance(v, str | int | float | bool) or v is None}


def first_picture(value: Any) -> bytes | None:
    """The first binary value that is a picture, depth first (a list of {picture: bytes})."""
    if isinstance(value, bytes):
        return value if picture_suffix(value) else None
    children = value.values() if isinstance(value, dict) else value if isinstance(value, list) else ()
    for child in children:
        found = first_picture(child)
        if found is not None:
            return found
    return None


def picture_suffix(data: bytes) -> str | None:
    """ "jpg", "png", ... from the picture's first bytes; None for other data."""
    return next((suffix for magic, suffix in PICTURE_MAGIC if data.startswith(magic)), None)


def document_key(document: dict[str, Any], position: int) -> str:
    """The document's name as a member: its _id (or id), else its place in the file."""
    key = document.get("_id", document.get("id"))
    return str(key) if isinstance(key, str | int) and not isinstance(key, bool) else str(position)


def picture_members(path: Path, limit: int | None = None) -> dict[str, int]:
    """{"<key>.jpg": offset} for each document of a BSON file that holds a picture (the first
    `limit` documents when given)."""
    members = {}
    with open(path, "rb") as handle:
        for position, (offset, document) in enumerate(iter_documents(handle)):
            if limit is not None and position >= limit:
                break
            picture = first_picture(document)
            if picture is not None:
                members[f"{document_key(document, position)}.{picture_suffix(picture)}"] = offset
    return members
