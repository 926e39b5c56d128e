"""Frozen trusted values: how a student bundle runs visible checks without the trusted code behind them.

A check computes its expected values in the trusted process, with the reference, the pack's input
generators and its mistake catalogue. The student bundle ships the check's own code (its comparisons
and feedback, unchanged) but none of those modules: each is replaced by a *frozen module*, a proxy
whose functions answer from a table recorded once when the instructor built the bundle.

- **Recording** (``grade pack bundle``, instructor side): the checks run against several submissions
  with every trusted module served as a recording proxy around the real module. Each call to a trusted
  function is stored under a key (the check, the function's path, a digest of its arguments, how many
  identical calls came before in this check) with its result, the arguments it changed in place and
  the global numpy random state it left behind.
- **Replay** (the bundle): the same proxies answer from the stored table (``frozen.json`` for
  structure, ``frozen.npz`` for arrays); a call that was never recorded raises :class:`FrozenMiss`, a
  :class:`CheckFailed` that says the self-check cannot judge this answer offline.

Only plain data is stored (numbers, strings, arrays, lists, tuples and dicts of them); functions,
classes and other objects are stored as paths, never as code. A call whose arguments hold something
that is not plain data (a closure calling the student, for example) is never frozen.

This module ships in the student bundle; it imports the standard library, numpy and the engine only.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.abc
import importlib.machinery
import json
import os
import struct
import sys
import threading
import types
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from grader.engine.compare import CheckFailed

#: Where the frozen structure and arrays live in a bundled pack's folder.
FROZEN_JSON = "frozen.json"
FROZEN_NPZ = "frozen.npz"
#: Format of ``frozen.json`` (bumped when the encoding changes).
FORMAT = 1
#: The logical name of the pack's own trusted submodules (``@pack.mutants``), the same in every install.
PACK_ALIAS = "@pack"


class FrozenMiss(CheckFailed):
    """A trusted value the bundle does not hold: this answer can be judged only by the full grader."""

    def __init__(self, what: str) -> None:
        super().__init__(
            f"this self-check cannot judge this answer offline ({what} was not frozen for these inputs); "
            "the instructor's grader will check it"
        )


class Unfreezable(TypeError):
    """A value that is not plain data and not a frozen proxy (it cannot be part of a key or a record)."""


# --------------------------------------------------------------------------------------------------
# Canonical digests of call arguments


def _canon(value: Any, out: list[bytes]) -> None:
    """Append a canonical byte encoding of ``value`` (the same in every process) to ``out``."""
    if _is_proxy(value):
        out.append(b"P" + object.__getattribute__(value, "_path").encode() + b"\0")
    elif value is None or isinstance(value, bool):
        out.append(b"B" + repr(value).encode())
    elif isinstance(value, int):
        out.append(b"I" + str(value).encode() + b"\0")
    elif isinstance(value, float):
        out.append(b"F" + struct.pack("<d", value))
    elif isinstance(value, str):
        data = value.encode()
        out.append(b"S" + struct.pack("<Q", len(data)) + data)
    elif isinstance(value, (np.ndarray, np.generic)) and np.asarray(value).dtype.kind in "biufc":
        array = np.ascontiguousarray(value)
        out.append(b"A" + array.dtype.str.encode() + repr(array.shape).encode() + array.tobytes())
    elif isinstance(value, (list, tuple)):
        out.append((b"L" if isinstance(value, list) else b"T") + struct.pack("<Q", len(value)))
        for item in value:
            _canon(item, out)
    elif isinstance(value, dict):
        out.append(b"D" + struct.pack("<Q", len(value)))
        for key, item in value.items():
            _canon(key, out)
            _canon(item, out)
    else:
        raise Unfreezable(f"{type(value).__name__} is not plain data")


def digest(value: Any) -> str:
    """A short hex digest of ``value``'s canonical encoding; raises :class:`Unfreezable`."""
    parts: list[bytes] = []
    _canon(value, parts)
    return hashlib.sha256(b"".join(parts)).hexdigest()[:20]


def _is_data(value: Any) -> bool:
    try:
        digest(value)
    except Unfreezable:
        return False
    return not _holds_proxy(value)


def _holds_proxy(value: Any) -> bool:
    if _is_proxy(value):
        return True
    if isinstance(value, (list, tuple)):
        return any(_holds_proxy(v) for v in value)
    if isinstance(value, dict):
        return any(_holds_proxy(v) for v in value.values())
    return False


# --------------------------------------------------------------------------------------------------
# The stored form: JSON structure with arrays kept apart


class Table:
    """The frozen entries of one pack: path -> encoded value, and call key -> encoded outcome."""

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}
        self.calls: dict[str, Any] = {}
        #: The public seed the checks' ``hidden_seed`` was while recording (the self-check replays with it).
        self.seed: int | None = None
        self.arrays: dict[str, np.ndarray] = {}
        self._array_ids: dict[str, str] = {}

    def encode(self, value: Any) -> Any:
        """The JSON form of plain data or of a proxy (by path)."""
        if _is_proxy(value):
            kind = object.__getattribute__(value, "_kind")
            return {"t": kind, "p": object.__getattribute__(value, "_path")}
        if value is None or isinstance(value, (bool, str)):
            return value
        if isinstance(value, int):
            return {"t": "int", "v": str(value)}
        if isinstance(value, float):
            return {"t": "float", "v": value.hex()}
        if isinstance(value, (np.ndarray, np.generic)):
            array = np.asarray(value)
            key = digest(array)
            if key not in self._array_ids:
                self._array_ids[key] = f"a{len(self._array_ids)}"
                self.arrays[self._array_ids[key]] = array
            return {"t": "array" if isinstance(value, np.ndarray) else "scalar", "k": self._array_ids[key]}
        if isinstance(value, (list, tuple)):
            return {"t": "list" if isinstance(value, list) else "tuple", "v": [self.encode(v) for v in value]}
        if isinstance(value, dict):
            return {"t": "dict", "v": [[self.encode(k), self.encode(v)] for k, v in value.items()]}
        raise Unfreezable(f"{type(value).__name__} cannot be stored")

    def decode(self, data: Any, store: Store) -> Any:
        """The value ``encode`` stored (fresh copies of arrays, proxies for paths)."""
        if data is None or isinstance(data, (bool, str)):
            return data
        kind = data["t"]
        if kind == "int":
            return int(data["v"])
        if kind == "float":
            return float.fromhex(data["v"])
        if kind == "array":
            return self.arrays[data["k"]].copy()
        if kind == "scalar":
            return self.arrays[data["k"]][()]
        if kind == "list":
            return [self.decode(v, store) for v in data["v"]]
        if kind == "tuple":
            return tuple(self.decode(v, store) for v in data["v"])
        if kind == "dict":
            return {self.decode(k, store): self.decode(v, store) for k, v in data["v"]}
        return _PROXY_KINDS[kind](data["p"], store)

    def save(self, folder: Path) -> None:
        """Write ``frozen.json`` and ``frozen.npz`` into ``folder``."""
        document = {"format": FORMAT, "values": self.values, "calls": self.calls, "seed": self.seed}
        text = json.dumps(document, sort_keys=True, separators=(",", ":"))
        (folder / FROZEN_JSON).write_text(text + "\n", encoding="utf-8")
        np.savez_compressed(folder / FROZEN_NPZ, **self.arrays)

    @classmethod
    def load(cls, folder: Path) -> Table:
        """Read a table written by :meth:`save` (arrays with ``allow_pickle=False``)."""
        table = cls()
        document = json.loads((folder / FROZEN_JSON).read_text(encoding="utf-8"))
        if document.get("format") != FORMAT:
            raise RuntimeError(f"{folder / FROZEN_JSON}: format {document.get('format')}, expected {FORMAT}")
        table.values, table.calls = document["values"], document["calls"]
        table.seed = document.get("seed")
        with np.load(folder / FROZEN_NPZ, allow_pickle=False) as arrays:
            table.arrays = {name: arrays[name] for name in arrays.files}
        return table


def recorded_seed(folder: Path) -> int | None:
    """The public seed a bundled pack in ``folder`` was recorded with, or None for a pack without a table.

    A frozen check replays answers recorded for fixed arguments, so inputs a check draws from
    ``hidden_seed`` must be the recorded ones: the bundle's self-check runs with this public seed.
    """
    path = Path(folder) / FROZEN_JSON
    if not path.is_file():
        return None
    seed = json.loads(path.read_text(encoding="utf-8")).get("seed")
    return seed if type(seed) is int else None


# --------------------------------------------------------------------------------------------------
# Where a call happens: the running check and how many identical calls it made before


def current_check() -> str:
    """The node id of the running check (pytest sets ``PYTEST_CURRENT_TEST``), or "" at import time."""
    text = os.environ.get("PYTEST_CURRENT_TEST", "")
    return text.rsplit(" (", 1)[0] if text else ""


class _Counter:
    """Per-check occurrence numbers, so repeated identical calls (after a reseed, say) get keys of their own."""

    def __init__(self) -> None:
        self._check = ""
        self._seen: dict[str, int] = {}
        self._lock = threading.Lock()

    def next(self, base: str) -> str:
        check = current_check()
        with self._lock:
            if check != self._check:
                self._check, self._seen = check, {}
            number = self._seen.get(base, 0)
            self._seen[base] = number + 1
        return f"{check}|{base}#{number}"


def _rng_state() -> tuple[str, Any]:
    state = np.random.get_state()
    return digest([state[1], int(state[2]), int(state[3]), float(state[4])]), state


# --------------------------------------------------------------------------------------------------
# Stores: where proxies get their answers


class Store:
    """Answers attribute reads and calls of frozen proxies (recording or replaying)."""

    def __init__(self) -> None:
        self.table = Table()
        self.counter = _Counter()

    def attribute(self, path: str, owner: Any, name: str) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def call(self, path: str, args: tuple, kwargs: dict) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError


class ReplayStore(Store):
    """The bundle's side: every answer comes from the recorded table."""

    def __init__(self, table: Table) -> None:
        super().__init__()
        self.table = table

    def attribute(self, path: str, owner: Any, name: str) -> Any:
        if path not in self.table.values:
            raise AttributeError(f"{path} was not frozen")
        return self.table.decode(self.table.values[path], self)

    def call(self, path: str, args: tuple, kwargs: dict) -> Any:
        short = path.rsplit(".", 1)[-1] + "(...)"
        try:
            base = f"{path}({digest([list(args), kwargs])})"
        except Unfreezable:
            raise FrozenMiss(short) from None
        variants = self.table.calls.get(self.counter.next(base))
        if not variants:
            raise FrozenMiss(short)
        now, _ = _rng_state()
        for variant in variants:
            if variant.get("rng_before") in (None, now):
                return self._apply(variant, args, kwargs)
        raise FrozenMiss(short)

    def _apply(self, variant: dict, args: tuple, kwargs: dict) -> Any:
        for where, encoded in variant.get("changed", {}).items():
            target = args[int(where)] if where.isdigit() else kwargs[where]
            _assign_in_place(target, self.table.decode(encoded, self))
        if "rng_after" in variant:
            keys = self.table.arrays[variant["rng_after"]["k"]]
            pos, has_gauss, cached = variant["rng_after"]["rest"]
            np.random.set_state(("MT19937", keys, int(pos), int(has_gauss), float.fromhex(cached)))
        return self.table.decode(variant["result"], self)


class RecordStore(Store):
    """The instructor's side: answers come from the real modules and are written down as they go."""

    def __init__(self, resolve: Callable[[str], Any], modules: dict[str, types.ModuleType] | None = None) -> None:
        super().__init__()
        self._resolve_module = resolve
        #: The real trusted modules by import name, importable while a real function runs (see ``_real_imports``).
        self._modules = dict(modules or {})
        self._objects: dict[str, Any] = {}
        self._lock = threading.RLock()
        #: Calls answered live because their arguments were not plain data (never frozen).
        self.live_calls: set[str] = set()
        #: Keys recorded twice with different outcomes (the first one is kept).
        self.conflicts: set[str] = set()

    @contextlib.contextmanager
    def _real_imports(self) -> Iterator[None]:
        """While a real trusted function runs, an import it makes at call time (``importlib.import_module``
        of the reference, say) finds the real module, not the frozen proxy the checks' own code gets."""
        with self._lock:
            before = {name: sys.modules.get(name) for name in self._modules}
            sys.modules.update(self._modules)
            try:
                yield
            finally:
                for name, module in before.items():
                    if module is None:
                        sys.modules.pop(name, None)
                    else:
                        sys.modules[name] = module

    def real(self, proxy: Any) -> Any:
        path = object.__getattribute__(proxy, "_path")
        with self._lock:
            if path not in self._objects:
                self._objects[path] = self._resolve_module(path)
            return self._objects[path]

    def _unwrap(self, value: Any) -> Any:
        """The real objects behind proxies; containers without proxies stay the same objects, so a
        trusted function that changes its arguments in place changes the check's own."""
        if not _holds_proxy(value):
            return value
        if _is_proxy(value):
            return self.real(value)
        if isinstance(value, list):
            return [self._unwrap(v) for v in value]
        if isinstance(value, tuple):
            return tuple(self._unwrap(v) for v in value)
        if isinstance(value, dict):
            return {k: self._unwrap(v) for k, v in value.items()}
        return value

    def freeze(self, value: Any, path: str) -> Any:
        """Plain data as itself; modules, callables and other objects as proxies named ``path``."""
        if _is_data(value):
            return value
        if isinstance(value, (list, tuple)):
            items = [self.freeze(v, f"{path}[{i}]") for i, v in enumerate(value)]
            return items if isinstance(value, list) else tuple(items)
        if isinstance(value, dict) and all(_is_data(k) for k in value):
            return {k: self.freeze(v, f"{path}[{digest(k)}]") for k, v in value.items()}
        with self._lock:
            self._objects[path] = value
        if isinstance(value, types.ModuleType):
            return FrozenModule(path, self)
        if callable(value):
            return FrozenCallable(path, self)
        return FrozenObject(path, self)

    def attribute(self, path: str, owner: Any, name: str) -> Any:
        parent = self.real(owner)
        try:
            value = getattr(parent, name)
        except AttributeError:
            if not isinstance(parent, types.ModuleType) or name.startswith("__"):
                raise
            value = self._resolve_module(path)  # a submodule not imported yet
        frozen = self.freeze(value, path)
        with self._lock:
            self.table.values.setdefault(path, self.table.encode(frozen))
        return frozen

    def call(self, path: str, args: tuple, kwargs: dict) -> Any:
        function = self._objects.get(path) or self._resolve_module(path)
        real_args, real_kwargs = self._unwrap(args), self._unwrap(kwargs)
        try:
            base = f"{path}({digest([list(args), kwargs])})"
            before = {str(i): digest(a) for i, a in enumerate(args)}
            before.update({k: digest(v) for k, v in kwargs.items()})
        except Unfreezable:
            self.live_calls.add(path)
            with self._real_imports():
                return function(*real_args, **real_kwargs)
        key = self.counter.next(base)
        rng_before, _ = _rng_state()
        with self._real_imports():
            result = function(*real_args, **real_kwargs)
        rng_after, state = _rng_state()
        frozen = self.freeze(result, key)
        variant: dict[str, Any] = {"result": self.table.encode(frozen)}
        changed = {}
        for where, value in [*((str(i), a) for i, a in enumerate(real_args)), *real_kwargs.items()]:
            if _is_data(value) and digest(value) != before[where]:
                changed[where] = self.table.encode(value)
        if changed:
            variant["changed"] = changed
        if rng_after != rng_before:
            variant["rng_before"] = rng_before
            variant["rng_after"] = {
                "k": self.table.encode(np.asarray(state[1]))["k"],
                "rest": [int(state[2]), int(state[3]), float(state[4]).hex()],
            }
        with self._lock:
            variants = self.table.calls.setdefault(key, [])
            same_start = [v for v in variants if v.get("rng_before") == variant.get("rng_before")]
            if not same_start:
                variants.append(variant)
            elif same_start[0] != variant:
                self.conflicts.add(key)
        return frozen


def _assign_in_place(target: Any, value: Any) -> None:
    """Make ``target`` hold ``value`` without replacing the object (as the real call mutated it)."""
    if isinstance(target, dict):
        target.clear()
        target.update(value)
    elif isinstance(target, list):
        target[:] = value
    elif isinstance(target, np.ndarray):
        target[...] = value


# --------------------------------------------------------------------------------------------------
# Proxies


class _Proxy:
    _kind = "object"

    def __init__(self, path: str, store: Store) -> None:
        object.__setattr__(self, "_path", path)
        object.__setattr__(self, "_store", store)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)
        path = f"{object.__getattribute__(self, '_path')}.{name}"
        return object.__getattribute__(self, "_store").attribute(path, self, name)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        store = object.__getattribute__(self, "_store")
        return store.call(object.__getattribute__(self, "_path"), args, kwargs)

    def __repr__(self) -> str:
        return f"<frozen {object.__getattribute__(self, '_kind')} {object.__getattribute__(self, '_path')}>"


class FrozenCallable(_Proxy):
    """A trusted function or class: calls answer from the store."""

    _kind = "function"


class FrozenObject(_Proxy):
    """Any other trusted object (a model, a generator): attributes and calls answer from the store."""

    _kind = "object"


class FrozenModule(types.ModuleType):
    """A trusted module: ``from it import name`` and ``it.name`` answer from the store."""

    _kind = "module"

    def __init__(self, path: str, store: Store) -> None:
        super().__init__(path)
        self._path = path
        self._store = store

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)
        path = f"{object.__getattribute__(self, '_path')}.{name}"
        value = object.__getattribute__(self, "_store").attribute(path, self, name)
        return value


_PROXY_KINDS: dict[str, Callable[[str, Store], Any]] = {
    "function": FrozenCallable,
    "object": FrozenObject,
    "module": FrozenModule,
}


def _is_proxy(value: Any) -> bool:
    """Frozen modules are proxies too (digests and encodings name them by path)."""
    return isinstance(value, (_Proxy, FrozenModule))


# --------------------------------------------------------------------------------------------------
# Serving trusted modules as frozen modules


class FrozenFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Serves every import of a trusted module as a :class:`FrozenModule`.

    ``roots``: top-level packages that never ship (``reference``); ``pack``: the bundled pack's
    package, whose submodules not in ``shipped`` (``mutants``, ``inputs``) never ship either. Logical
    paths are ``reference.x.y`` and ``@pack.mutants``, the same when recording and replaying.
    """

    def __init__(self, store: Store, roots: Sequence[str], pack: str, shipped: Sequence[str]) -> None:
        self.store = store
        self.roots = tuple(roots)
        self.pack = pack
        self.shipped = set(shipped)

    def logical(self, fullname: str) -> str | None:
        """The logical path of a trusted module name, or None for a module that is not trusted."""
        if fullname.split(".", 1)[0] in self.roots:
            return fullname
        prefix = self.pack + "."
        if fullname.startswith(prefix) and fullname[len(prefix) :].split(".", 1)[0] not in self.shipped:
            return PACK_ALIAS + "." + fullname[len(prefix) :]
        return None

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> importlib.machinery.ModuleSpec | None:
        if self.logical(fullname) is None:
            return None
        return importlib.machinery.ModuleSpec(fullname, self, is_package=True)

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType:
        module = FrozenModule(self.logical(spec.name) or spec.name, self.store)
        return module

    def exec_module(self, module: types.ModuleType) -> None:
        object.__setattr__(module, "__path__", [])


#: Set while ``grade pack bundle`` records: makes the store of a pack being staged (see :mod:`.bundle`).
recording: Callable[[str], Store] | None = None


def install(package: str, folder: str | Path, roots: Sequence[str], shipped: Sequence[str]) -> FrozenFinder:
    """Serve the trusted modules of the bundled pack ``package`` from the table in ``folder``.

    Called by the bundled pack's ``__init__``; installs the finder once per package. While a bundle is
    being built, the finder records from the real modules instead.
    """
    for finder in sys.meta_path:
        if isinstance(finder, FrozenFinder) and finder.pack == package:
            return finder
    store = recording(package) if recording is not None else ReplayStore(Table.load(Path(folder)))
    finder = FrozenFinder(store, roots, package, shipped)
    sys.meta_path.insert(0, finder)
    return finder
