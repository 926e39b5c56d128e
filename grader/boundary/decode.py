"""Bounded decoding of a worker's replies on the trusted side.

A reply is data a submission chose. Frame-size caps alone do not bound what decoding it costs: one
array frame referenced a million times would be materialised a million times. This decoder bounds
every dimension of a reply and refuses structure the worker never legitimately sends:

- the bytes of one reply (all frames together): :data:`MAX_REPLY_BYTES`;
- the elements of all its arrays together: :data:`MAX_REPLY_ELEMENTS`;
- JSON items and nesting depth (the protocol's ``MAX_ITEMS`` and ``MAX_DEPTH``);
- aliasing: every array frame is referenced exactly once;
- time: decoding stops with :class:`protocol.ProtocolError` when the request's deadline passes.

The worker side keeps :func:`grader.worker.protocol.decode_value` for requests, which only the
trusted grader writes.
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np

from grader.worker import protocol

#: All frames of one reply together (header and arrays).
MAX_REPLY_BYTES = 256 * 1024 * 1024
#: All array elements of one reply together (32 M float64 is 256 MiB).
MAX_REPLY_ELEMENTS = 32 * 1024 * 1024
#: How often (in JSON items) the decoder looks at the clock.
_CLOCK_EVERY = 1024


#: Integers beyond this magnitude are no number a check can use (float64 overflows at about 1.8e308;
#: anything beyond 64 bits is already meaningless as a count, an index or a label).
MAX_INT_BITS = 64


class SubmissionValueError(protocol.ProtocolError):
    """A well-formed reply holding a value no check can use: the submission's mistake, not a fault."""


class _State:
    __slots__ = ("blobs", "deadline", "elements", "items", "used")

    def __init__(self, blobs: list[bytes], deadline: float | None) -> None:
        self.blobs = blobs
        self.deadline = deadline
        self.items = 0
        self.elements = 0
        self.used: set[int] = set()


def check_reply_size(frames: list[bytes] | list[int]) -> None:
    """Refuse a reply whose frames together exceed :data:`MAX_REPLY_BYTES` (sizes or frames)."""
    total = sum(f if isinstance(f, int) else len(f) for f in frames)
    if total > MAX_REPLY_BYTES:
        raise protocol.ProtocolError(f"the reply is larger than the {MAX_REPLY_BYTES // 2**20} MiB limit")


def decode_reply(value: Any, blobs: list[bytes], deadline: float | None = None) -> Any:
    """Decode a reply body strictly and within bounds; raises :class:`protocol.ProtocolError`."""
    check_reply_size(blobs)
    state = _State(blobs, deadline)
    decoded = _decode(value, state, 0)
    if len(state.used) != len(blobs):
        raise protocol.ProtocolError("the reply carries array frames it does not use")
    return decoded


def _decode(value: Any, state: _State, depth: int) -> Any:
    state.items += 1
    if state.items > protocol.MAX_ITEMS or depth > protocol.MAX_DEPTH:
        raise protocol.ProtocolError("value is too large or nested too deeply")
    if state.deadline is not None and state.items % _CLOCK_EVERY == 0 and time.monotonic() > state.deadline:
        raise protocol.ProtocolError("decoding the reply took longer than the time limit")
    if type(value) is int and value.bit_length() > MAX_INT_BITS:
        digits = len(str(abs(value))) if value.bit_length() < 20000 else "thousands of"
        raise SubmissionValueError(f"an integer with {digits} digits, too large to be a number any check can use")
    if value is None or type(value) in (bool, int, str, float):
        return value
    if type(value) is list:
        return [_decode(v, state, depth + 1) for v in value]
    if type(value) is dict and len(value) == 1:
        ((tag, inner),) = value.items()
        if tag == "$a" and type(inner) is int and 0 <= inner < len(state.blobs):
            return _array(inner, state)
        if tag == "$f" and inner in ("nan", "inf", "-inf"):
            return float(inner)
        if tag == "$d" and type(inner) is dict:
            return {k: _decode(v, state, depth + 1) for k, v in inner.items()}
    raise protocol.ProtocolError("malformed value in reply")


def _array(index: int, state: _State) -> np.ndarray:
    if index in state.used:
        raise protocol.ProtocolError("the reply references one array more than once")
    state.used.add(index)
    array = protocol.load_array(state.blobs[index])
    state.elements += math.prod(array.shape)
    if state.elements > MAX_REPLY_ELEMENTS:
        raise protocol.ProtocolError(f"the reply holds more than {MAX_REPLY_ELEMENTS} array elements")
    return array
