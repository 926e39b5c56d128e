"""The wire format between the trusted grader and the sandboxed worker.

Both sides import this module, so it depends on the standard library and numpy only.

A *message* is one JSON frame followed by as many ``.npy`` frames as the JSON names. Every frame is
a 4-byte big-endian length and that many bytes. Values are plain data only: ``None``, ``bool``,
``int``, ``float``, ``str``, lists, dicts with string keys, and numeric numpy arrays. JSON objects are
always *tagged* so that nothing a student returns can be mistaken for protocol structure:

- ``{"$d": {...}}`` a dict, ``{"$a": i}`` the i-th array frame, ``{"$f": "nan" | "inf" | "-inf"}`` a
  non-finite float (JSON itself never carries NaN; the decoder refuses bare ``NaN``).

Decoding is strict: size caps on frames, arrays and nesting depth; arrays are read with
``allow_pickle=False`` after their header has been checked against a dtype allowlist.
"""

from __future__ import annotations

import io
import json
import math
import struct
from collections.abc import Callable
from typing import Any, BinaryIO

import numpy as np

MAX_FRAME_BYTES = 64 * 1024 * 1024
MAX_ARRAYS = 256
MAX_DEPTH = 32
MAX_ITEMS = 1_000_000
#: Array dtypes that may cross the boundary: booleans, integers and real floats.
ALLOWED_DTYPE_KINDS = frozenset("biuf")

_LENGTH = struct.Struct(">I")


class ProtocolError(Exception):
    """A frame or value that breaks the wire format."""


class Ref:
    """A request-only reference the worker resolves itself: ``Ref("$h", 3)`` is the student object
    behind handle 3, ``Ref("$file", "X_train")`` a data array in the worker's data folder,
    ``Ref("$dir", "")`` that folder's path as the worker sees it."""

    __slots__ = ("tag", "key")

    def __init__(self, tag: str, key: int | str) -> None:
        self.tag = tag
        self.key = key


# --------------------------------------------------------------------------- frames


def write_frame(stream: BinaryIO, payload: bytes) -> None:
    """Write one length-prefixed frame (without flushing)."""
    if len(payload) > MAX_FRAME_BYTES:
        raise ProtocolError(f"frame of {len(payload)} bytes exceeds the {MAX_FRAME_BYTES}-byte limit")
    stream.write(_LENGTH.pack(len(payload)))
    stream.write(payload)


def frame_length(prefix: bytes) -> int:
    """Decode and check a 4-byte length prefix."""
    (length,) = _LENGTH.unpack(prefix)
    if length > MAX_FRAME_BYTES:
        raise ProtocolError(f"frame declares {length} bytes, more than the {MAX_FRAME_BYTES}-byte limit")
    return length


def read_exact(stream: BinaryIO, n: int) -> bytes:
    """Read exactly ``n`` bytes from a blocking stream; EOF raises ``EOFError``."""
    chunks = []
    while n:
        chunk = stream.read(n)
        if not chunk:
            raise EOFError("stream closed")
        chunks.append(chunk)
        n -= len(chunk)
    return b"".join(chunks)


def read_message_blocking(stream: BinaryIO) -> tuple[dict[str, Any], list[bytes]]:
    """Read one message (JSON header + array frames) from a blocking stream."""
    header = parse_header(read_exact(stream, frame_length(read_exact(stream, 4))))
    blobs = [read_exact(stream, frame_length(read_exact(stream, 4))) for _ in range(header_array_count(header))]
    return header, blobs


def write_message(stream: BinaryIO, header: dict[str, Any], blobs: list[bytes]) -> None:
    """Write one message and flush.

    A message the reader would refuse (a frame over the size cap, more arrays than the cap) raises
    :class:`ProtocolError` before anything is written, so the stream stays in step.
    """
    if len(blobs) > MAX_ARRAYS:
        raise ProtocolError(f"too many arrays: {len(blobs)}, the limit is {MAX_ARRAYS}")
    payload = json.dumps(dict(header, n=len(blobs)), allow_nan=False, separators=(",", ":")).encode()
    for frame in (payload, *blobs):
        if len(frame) > MAX_FRAME_BYTES:
            raise ProtocolError(f"too large: a frame of {len(frame)} bytes, the limit is {MAX_FRAME_BYTES}")
    write_frame(stream, payload)
    for blob in blobs:
        write_frame(stream, blob)
    stream.flush()


def _reject_constant(name: str) -> Any:
    raise ProtocolError(f"bare {name} is not allowed in a frame")


def parse_header(payload: bytes) -> dict[str, Any]:
    """Parse a JSON header frame, refusing NaN/Infinity literals and absurd nesting."""
    try:
        header = json.loads(payload.decode("utf-8"), parse_constant=_reject_constant)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError, ValueError) as exc:
        raise ProtocolError(f"unreadable header frame: {type(exc).__name__}") from None
    if not isinstance(header, dict):
        raise ProtocolError("header frame is not a JSON object")
    return header


def header_array_count(header: dict[str, Any]) -> int:
    """How many array frames follow a header; checked against the cap."""
    n = header.get("n", 0)
    if type(n) is not int or not 0 <= n <= MAX_ARRAYS:
        raise ProtocolError(f"header announces an invalid number of arrays: {n!r}")
    return n


# --------------------------------------------------------------------------- values


def encode_value(value: Any, blobs: list[bytes], *, _depth: int = 0) -> Any:
    """Turn plain data (and numpy arrays/scalars) into tagged JSON, appending array frames to ``blobs``.

    Objects of any other type raise ``TypeError``: the worker refuses to send what it cannot encode
    as plain data, instead of sending a lossy or lying stand-in.
    """
    if _depth > MAX_DEPTH:
        raise TypeError("value is nested too deeply")
    if value is None or type(value) in (bool, str):
        return value
    if type(value) is int:
        return value
    if type(value) is float:
        return value if math.isfinite(value) else {"$f": repr(value)}
    if isinstance(value, np.generic) and type(value).__module__ == "numpy":
        return encode_value(value.item(), blobs, _depth=_depth + 1)
    if type(value) is np.ndarray:
        if value.dtype.kind not in ALLOWED_DTYPE_KINDS:
            raise TypeError(f"an array of dtype {value.dtype} cannot be sent (only numeric arrays)")
        buf = io.BytesIO()
        # ascontiguousarray turns a 0-d array into shape (1,): the reshape keeps the shape it was given.
        np.save(buf, np.ascontiguousarray(value).reshape(value.shape), allow_pickle=False)
        blobs.append(buf.getvalue())
        return {"$a": len(blobs) - 1}
    if type(value) is Ref:
        return {value.tag: value.key}
    if type(value) in (list, tuple):
        return [encode_value(v, blobs, _depth=_depth + 1) for v in value]
    if type(value) is dict:
        out = {}
        for key, item in value.items():
            if type(key) is not str:
                raise TypeError(f"dict keys must be strings, not {type(key).__name__}")
            out[key] = encode_value(item, blobs, _depth=_depth + 1)
        return {"$d": out}
    raise TypeError(f"a value of type {type(value).__name__} cannot be sent")


def load_array(blob: bytes, max_bytes: int = MAX_FRAME_BYTES) -> np.ndarray:
    """Read one ``.npy`` frame strictly: numeric dtype, sane header, no pickle."""
    stream = io.BytesIO(blob)
    try:
        version = np.lib.format.read_magic(stream)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(stream, max_header_size=10000)
        elif version in ((2, 0), (3, 0)):
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(stream, max_header_size=10000)
        else:
            raise ProtocolError(f"unsupported .npy version {version}")
    except ProtocolError:
        raise
    except Exception as exc:  # numpy raises ValueError and others on malformed headers
        raise ProtocolError(f"malformed array header: {exc}") from None
    if dtype.kind not in ALLOWED_DTYPE_KINDS or dtype.fields is not None or dtype.subdtype is not None:
        raise ProtocolError(f"array dtype {dtype} is not allowed")
    if any(length < 0 for length in shape):
        raise ProtocolError(f"array shape {shape} has a negative length")
    count = math.prod(shape)
    if count * dtype.itemsize > max_bytes:
        raise ProtocolError(f"array of shape {shape} exceeds the size limit")
    # The data follows the header, exactly: read it from the frame directly (np.load would parse the
    # header a second time, which cost as much as everything else in decoding a reply).
    offset = stream.tell()
    if len(blob) - offset != count * dtype.itemsize:
        raise ProtocolError("array frame does not match its header")
    flat = np.frombuffer(blob, dtype=dtype, count=count, offset=offset)
    return flat.reshape(shape, order="F" if fortran else "C").copy(order="K")


def decode_value(
    value: Any,
    blobs: list[bytes],
    *,
    resolvers: dict[str, Callable[[Any], Any]] | None = None,
    _depth: int = 0,
    _count: list[int] | None = None,
) -> Any:
    """Inverse of :func:`encode_value`, strict about every tag. Raises :class:`ProtocolError`.

    ``resolvers`` maps the request-only tags of :class:`Ref` (``$h``, ``$file``) to the worker's
    functions that resolve them; the trusted side passes none, so it refuses those tags in replies.
    """
    if _count is None:
        _count = [0]
    _count[0] += 1
    if _count[0] > MAX_ITEMS or _depth > MAX_DEPTH:
        raise ProtocolError("value is too large or nested too deeply")
    if value is None or type(value) in (bool, int, str):
        return value
    if type(value) is float:
        return value
    if type(value) is list:
        return [decode_value(v, blobs, resolvers=resolvers, _depth=_depth + 1, _count=_count) for v in value]
    if type(value) is dict and len(value) == 1:
        ((tag, inner),) = value.items()
        if tag == "$a" and type(inner) is int and 0 <= inner < len(blobs):
            return load_array(blobs[inner])
        if tag == "$f" and inner in ("nan", "inf", "-inf"):
            return float(inner)
        if tag == "$d" and type(inner) is dict:
            return {
                k: decode_value(v, blobs, resolvers=resolvers, _depth=_depth + 1, _count=_count)
                for k, v in inner.items()
            }
        if resolvers and tag in resolvers and type(inner) in (int, str):
            return resolvers[tag](inner)
    raise ProtocolError("malformed value in reply")
