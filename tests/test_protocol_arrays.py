"""Array frames across the worker boundary: what numpy wrote comes back equal, anything else is refused.

``load_array`` reads a ``.npy`` frame the submission's side produced, so it is strict. Expected values
come from numpy's own reader (``np.load``) on the same bytes.
"""

from __future__ import annotations

import io

import numpy as np
import pytest

from grader.worker.protocol import ProtocolError, decode_value, encode_value, load_array


def _frame(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()


def _with_header(header: str, data: bytes = b"") -> bytes:
    """A version 1.0 frame with a header of our own (padded as numpy pads it)."""
    text = header.encode("latin1")
    padding = 64 - (10 + len(text) + 1) % 64
    text += b" " * padding + b"\n"
    return b"\x93NUMPY\x01\x00" + len(text).to_bytes(2, "little") + text + data


ARRAYS = [
    np.arange(12.0).reshape(3, 4),
    np.asfortranarray(np.arange(12.0).reshape(3, 4)),
    np.arange(6, dtype=np.int32),
    np.array([True, False, True]),
    np.arange(24, dtype=np.uint8).reshape(2, 3, 4),
    np.array(3.5, dtype=np.float32),
    np.zeros((0, 5)),
    np.arange(4, dtype=">f8"),
]


@pytest.mark.parametrize("array", ARRAYS, ids=lambda a: f"{a.dtype.str}{a.shape}{'F' if a.flags.f_contiguous else ''}")
def test_numpys_frames_come_back_equal_and_writable(array: np.ndarray) -> None:
    frame = _frame(array)
    expected = np.load(io.BytesIO(frame), allow_pickle=False)
    got = load_array(frame)
    assert type(got) is np.ndarray and got.dtype == expected.dtype and got.shape == expected.shape
    assert np.array_equal(got, expected)
    assert got.flags.f_contiguous == expected.flags.f_contiguous and got.flags.writeable
    got[...] = 0  # its own memory, not the frame's
    assert np.array_equal(np.load(io.BytesIO(frame), allow_pickle=False), expected)


@pytest.mark.parametrize(
    ("frame", "words"),
    [
        (_frame(np.arange(4.0))[:-1], "does not match"),
        (_frame(np.arange(4.0)) + b"\x00", "does not match"),
        (_with_header("{'descr': '<f8', 'fortran_order': False, 'shape': (-2, -3), }", bytes(48)), "negative"),
        (_with_header("{'descr': '|O', 'fortran_order': False, 'shape': (1,), }", bytes(8)), "not allowed"),
        (_with_header("{'descr': '<U3', 'fortran_order': False, 'shape': (1,), }", bytes(12)), "not allowed"),
        (_with_header("{'descr': '<f8', 'fortran_order': False, 'shape': (1099511627776,), }"), "size limit"),
        (_with_header("{'descr': '<f8', 'shape': (1,), }", bytes(8)), "malformed"),
        (b"NOTNUMPY" + bytes(64), "malformed"),
    ],
    ids=["truncated", "trailing-byte", "negative-shape", "object", "unicode", "huge", "no-order", "bad-magic"],
)
def test_a_frame_that_is_not_a_plain_numeric_array_is_refused(frame: bytes, words: str) -> None:
    with pytest.raises(ProtocolError, match=words):
        load_array(frame)


@pytest.mark.parametrize("array", ARRAYS, ids=lambda a: f"{a.dtype}{a.shape}")
def test_an_array_sent_across_keeps_its_shape_dtype_and_values(array: np.ndarray) -> None:
    blobs: list[bytes] = []
    back = decode_value(encode_value(array, blobs), blobs)
    # A 0-d array (a torch scalar's .numpy(), np.array(x)) stays 0-d: a scalar, not a list of one.
    assert back.shape == array.shape and back.dtype == array.dtype
    assert np.array_equal(back, array)
