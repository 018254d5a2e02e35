"""A pickle reader whose memory stays flat however large the pickle: for multi-GB benchmark files.

``pickle.load`` (the C unpickler behind ``torch.load``) keeps every object the file memoizes until
the end: on a NAS-Bench-201 ``.pth`` file that is every training curve of every architecture, and a
dense memo table of one pointer per memoized object (about 60 million in the 4.7 GB v1.1 file).
:class:`StreamingUnpickler` reads the same opcodes (protocols 0 to 5) from a stream in chunks, and

* hands every dict to ``on_dict`` as soon as its items are set, so that a caller can read what it
  needs from a finished record and empty it in place (its curves are then freed);
* keeps memoized objects in two generations of :data:`GENERATION` memo writes: an object that is
  not read back (``GET``) within a generation after being written or last read is forgotten. A
  pickle that reads an object back after that raises :class:`MemoMissError`, so a caller can fall
  back to an ordinary load; it never gets a wrong object.

It never imports or calls anything a file names: a ``GLOBAL`` resolves through ``resolve`` (the
caller's allow-list of stand-ins), and ``PERSID``/``BINPERSID`` (torch's tensor storages) through
``persistent_load``. Buffers of protocol 5 out-of-band data and the extension registry are refused.

It is written in Python: slower than the C unpickler (see docs/performance.md), which cannot keep
memory flat on these files.

Example::

    with open("data.pkl", "rb") as handle:
        obj = StreamingUnpickler(handle.read, resolve=my_allow_list).load()
"""

from __future__ import annotations

import codecs
import functools
import pickle
from collections.abc import Callable
from struct import Struct, error
from typing import Any

import numpy as np

#: memo writes per generation: an unread memoized object lives between one and two generations
GENERATION = 100_000
CHUNK = 1 << 22  # bytes read at a time
_MISSING = object()

_I4 = Struct("<i")
_U4 = Struct("<I")
_U8 = Struct("<Q")
_F8 = Struct(">d")

# Dict bodies of numbers (training curves: {epoch: value}) and of read-back keys ({"x-valid@12": value}
# with the key memoized earlier) are long runs of one opcode pattern; numpy decodes a run at once.
_INT_FLOAT = np.dtype([("op", "u1"), ("key", "u1"), ("g", "u1"), ("value", ">f8")])  # K<u1> G<f8>
_GET_FLOAT = np.dtype([("op", "u1"), ("index", "<u4"), ("g", "u1"), ("value", ">f8")])  # j<u4> G<f8>
_GET1_FLOAT = np.dtype([("op", "u1"), ("index", "u1"), ("g", "u1"), ("value", ">f8")])  # h<u1> G<f8>
_PUT_FIELD = {114: ("index", "<u4"), 113: ("index", "u1")}  # after a new key: r<u4> LONG_BINPUT, q<u1> BINPUT
_RUN_MIN = 8  # shorter runs go opcode by opcode
_RUN_MAX = 1000  # pickle batches SETITEMS by 1,000 items
_SHORT_RUN_MAX = 128  # NATS-Bench's runs of short keys are at most 100 long: fewer records to compare per call


def _run(buf: bytes, pos: int, dtype: np.dtype, op: int) -> np.ndarray:
    """The records of ``dtype`` from ``pos`` on while they are ``op ... G float`` (at most :data:`_RUN_MAX`)."""
    count = min((len(buf) - pos) // dtype.itemsize, _RUN_MAX)
    records = np.frombuffer(buf, dtype=dtype, count=count, offset=pos)
    bad = (records["op"] != op) | (records["g"] != 71)
    return records[: int(bad.argmax())] if bad.any() else records


def _new_key_run(buf: bytes, pos: int, n: int, put: int) -> tuple[list[str], list[int], list[float]] | None:
    """Keys, memo indices and values of a run of ``X<n><key> r<u4> G<f8>`` (or ``q<u1>`` for ``put`` 113;
    ASCII keys of ``n`` bytes) from ``pos``."""
    dtype = _new_key_dtype(n, put)
    count = min((len(buf) - pos) // dtype.itemsize, _RUN_MAX)
    records = np.frombuffer(buf, dtype=dtype, count=count, offset=pos)
    bad = (records["op"] != 88) | (records["n"] != n) | (records["r"] != put) | (records["g"] != 71)
    texts = _run_keys(records, bad, n)
    return None if texts is None else (texts, records["index"][: len(texts)].tolist(), _run_values(records, texts))


def _short_key_run(buf: bytes, pos: int, n: int, memoize: bool) -> tuple[list[str], list[float]] | None:
    """Keys and values of a run of protocol 4's ``\x8c<n><key> [\x94] G<f8>`` (SHORT_BINUNICODE, MEMOIZE
    when ``memoize``, BINFLOAT; ASCII keys of ``n`` bytes) from ``pos``: NATS-Bench's ``{"x-valid@12": acc}``."""
    dtype = _short_key_dtype(n, memoize)
    count = min((len(buf) - pos) // dtype.itemsize, _SHORT_RUN_MAX)
    records = np.frombuffer(buf, dtype=dtype, count=count, offset=pos)
    bad = (records["op"] != 140) | (records["n"] != n) | (records["g"] != 71)
    if memoize:
        bad |= records["m"] != 148
    texts = _run_keys(records, bad, n)
    return None if texts is None else (texts, _run_values(records, texts))


@functools.cache
def _new_key_dtype(n: int, put: int) -> np.dtype:
    fields = [("op", "u1"), ("n", "<u4"), ("key", f"S{n}"), ("r", "u1"), _PUT_FIELD[put], ("g", "u1")]
    return np.dtype([*fields, ("value", ">f8")])


@functools.cache
def _short_key_dtype(n: int, memoize: bool) -> np.dtype:
    fields = [("op", "u1"), ("n", "u1"), ("key", f"S{n}")] + ([("m", "u1")] if memoize else []) + [("g", "u1")]
    return np.dtype([*fields, ("value", ">f8")])


def _run_keys(records: np.ndarray, bad: np.ndarray, n: int) -> list[str] | None:
    """The ASCII keys of ``records`` up to the first ``bad`` one; None for a run too short or not plain ASCII."""
    if bad.any():
        records = records[: int(bad.argmax())]
    if len(records) < _RUN_MIN:
        return None
    try:  # one decode of the fixed-width fields, NUL bytes and all; anything not ASCII goes the slow way
        text = records["key"].tobytes().decode("ascii")
    except UnicodeDecodeError:
        return None
    return [text[i : i + n] for i in range(0, len(text), n)]


def _run_values(records: np.ndarray, keys: list[str]) -> list[float]:
    return records["value"][: len(keys)].tolist()


def _interleave(keys: list[Any], values: list[Any]) -> list[Any]:
    out: list[Any] = [None] * (2 * len(keys))
    out[0::2] = keys
    out[1::2] = values
    return out


class MemoMissError(pickle.UnpicklingError):
    """The pickle reads back a memoized object that was already forgotten (see the module docstring)."""

    def __init__(self, index: int | str, generation: int) -> None:
        self.index = index
        super().__init__(
            f"the pickle reads back memo entry {index!r} more than {generation} memo writes after it was "
            "last used; the streaming reader has forgotten it"
        )


class StreamingUnpickler:
    """Unpickle from ``read(n) -> bytes`` with flat memory (see the module docstring).

    Args:
        read: the stream's read function.
        resolve: ``resolve(module, name) -> object`` for ``GLOBAL``/``STACK_GLOBAL`` (raise to refuse).
        persistent_load: ``persistent_load(pid) -> object`` (default: refuse persistent ids).
        on_dict: called with each dict whose items were just set (``SETITEM(S)``, ``DICT``).
        generation: memo writes per generation.
    """

    def __init__(
        self,
        read: Callable[[int], bytes],
        *,
        resolve: Callable[[str, str], Any],
        persistent_load: Callable[[Any], Any] | None = None,
        on_dict: Callable[[dict], None] | None = None,
        generation: int = GENERATION,
    ) -> None:
        self._read = read
        self._resolve = resolve
        self._persistent_load = persistent_load
        self._on_dict = on_dict or (lambda d: None)
        self._generation = generation
        self._buf = b""
        self._pos = 0
        self._eof = False
        self.bytes_read = 0

    # -- input ---------------------------------------------------------------------------------
    def _fill(self, n: int) -> None:
        """Make at least ``n`` bytes available from ``self._pos`` (or raise for a truncated pickle)."""
        self._want(n)
        missing = n - (len(self._buf) - self._pos)
        if missing > 0:
            raise pickle.UnpicklingError(
                f"pickle data was truncated ({self.bytes_read} bytes read, {missing} more needed)"
            )

    def _top_up(self) -> None:
        """Append one chunk of the stream (none at its end: then ``_eof``) to the unread bytes."""
        chunk = self._read(CHUNK)
        self.bytes_read += len(chunk)
        self._buf, self._pos = self._buf[self._pos :] + chunk, 0
        self._eof = not chunk

    def _want(self, n: int) -> None:
        """Read on until ``n`` bytes from ``self._pos`` are buffered or the stream ends (no error)."""
        self._eof = False
        while len(self._buf) - self._pos < n:
            self._top_up()
            if self._eof:
                return

    def _line(self) -> bytes:
        while True:
            end = self._buf.find(b"\n", self._pos)
            if end >= 0:
                line = self._buf[self._pos : end]
                self._pos = end + 1
                return line
            self._fill(len(self._buf) - self._pos + 1)

    def _take(self, n: int) -> bytes:
        if self._pos + n > len(self._buf):
            self._fill(n)
        data = self._buf[self._pos : self._pos + n]
        self._pos += n
        return data

    # -- the machine ---------------------------------------------------------------------------
    def load(self) -> Any:
        """Read one pickle (up to its STOP) and return its object; the stream is left just after it."""
        try:
            return self._run()
        except (MemoMissError, pickle.UnpicklingError):
            raise
        except (IndexError, ValueError, TypeError, KeyError, AttributeError, UnicodeDecodeError, error) as exc:
            where = self.bytes_read - len(self._buf) + self._pos
            raise pickle.UnpicklingError(
                f"malformed or truncated pickle near byte {where} ({type(exc).__name__}: {exc})"
            ) from exc

    def _run(self) -> Any:  # one loop with the frequent opcodes inline: a call per opcode would halve the speed
        stack: list[Any] = []
        marks: list[int] = []
        memo_new: dict[Any, Any] = {}
        memo_old: dict[Any, Any] = {}
        writes = 0
        rotate_at = self._generation
        on_dict = self._on_dict
        push = stack.append
        f8, u4 = _F8.unpack_from, _U4.unpack_from
        buf, pos = self._buf, self._pos
        end = -1  # every fixed-size opcode fits in 16 bytes: the loop reads on when fewer are left
        while True:
            if pos > end:  # fewer than 16 bytes left in the buffer: read on (reads may come back short)
                self._buf, self._pos = buf, pos
                self._want(16)
                buf, pos = self._buf, self._pos
                end = len(buf) - (1 if self._eof else 16)
                if pos >= len(buf):
                    raise pickle.UnpicklingError(f"pickle data was truncated after {self.bytes_read} bytes")
            op = buf[pos]
            if op == 71:  # G BINFLOAT
                push(f8(buf, pos + 1)[0])
                pos += 9
            elif op == 106 or op == 104:  # j LONG_BINGET, h BINGET
                width = 5 if op == 106 else 2
                if buf[pos + width] == 71 and len(buf) - pos > _RUN_MIN * 14:  # {read-back key: float}?
                    records = _run(buf, pos, _GET_FLOAT if op == 106 else _GET1_FLOAT, op)
                    keys = list(map(memo_new.get, records["index"].tolist()))
                    if len(records) >= _RUN_MIN and None not in keys:  # (None is never memoized)
                        stack.extend(_interleave(keys, records["value"].tolist()))
                        pos += len(records) * (width + 9)
                        continue
                if op == 106:
                    index = u4(buf, pos + 1)[0]
                    pos += 5
                else:
                    index = buf[pos + 1]
                    pos += 2
                value = memo_new.get(index, _MISSING)
                if value is _MISSING:
                    value = memo_old.get(index, _MISSING)
                    if value is _MISSING:
                        raise MemoMissError(index, self._generation)
                    memo_new[index] = value  # read again: lives another generation
                push(value)
            elif op == 75:  # K BININT1
                if buf[pos + 2] == 71 and len(buf) - pos > _RUN_MIN * 11:  # a run of {int: float}?
                    records = _run(buf, pos, _INT_FLOAT, 75)
                    if len(records) >= _RUN_MIN:
                        stack.extend(_interleave(records["key"].tolist(), records["value"].tolist()))
                        pos += len(records) * 11
                        continue
                push(buf[pos + 1])
                pos += 2
            elif op == 114 or op == 113 or op == 148:  # r LONG_BINPUT, q BINPUT, \x94 MEMOIZE
                if op == 114:
                    index = u4(buf, pos + 1)[0]
                    pos += 5
                elif op == 113:
                    index = buf[pos + 1]
                    pos += 2
                else:
                    index = writes
                    pos += 1
                memo_new[index] = stack[-1]
                writes += 1
                if writes >= rotate_at:
                    memo_old, memo_new = memo_new, {}
                    rotate_at = writes + self._generation
            elif op == 88 or op == 140:  # X BINUNICODE, \x8c SHORT_BINUNICODE
                if op == 140 and len(buf) - pos > _RUN_MIN * 300:  # a run of {short new key: float}?
                    after = pos + 2 + buf[pos + 1]
                    memoize = buf[after] == 148
                    stride = after - pos + memoize + 9
                    last = pos + (_RUN_MIN - 1) * stride  # the run's 8th key, checked before numpy is asked
                    if buf[after + memoize] == 71 and buf[last] == 140 and buf[last + 1] == buf[pos + 1]:
                        run = _short_key_run(buf, pos, buf[pos + 1], memoize)
                        if run is not None:
                            texts, values = run
                            if memoize:  # protocol 4 numbers memo entries by the count of writes
                                memo_new.update(zip(range(writes, writes + len(texts)), texts, strict=True))
                                writes += len(texts)
                                if writes >= rotate_at:
                                    memo_old, memo_new = memo_new, {}
                                    rotate_at = writes + self._generation
                            stack.extend(_interleave(texts, values))
                            pos += len(texts) * stride
                            continue
                if op == 88:
                    n = u4(buf, pos + 1)[0]
                    start = pos + 5
                else:
                    n = buf[pos + 1]
                    start = pos + 2
                if start + n + 16 > len(buf):  # the string (and the next opcodes) are not all buffered
                    offset = start - pos
                    self._buf, self._pos = buf, pos
                    self._want(offset + n + 16)
                    buf, pos = self._buf, self._pos
                    end = len(buf) - (1 if self._eof else 16)
                    start = pos + offset
                    if start + n > len(buf):
                        raise pickle.UnpicklingError(f"pickle data was truncated after {self.bytes_read} bytes")
                text = str(buf[start : start + n], "utf-8", "surrogatepass")
                pos = start + n
                put = buf[pos] if op == 88 and pos + 14 <= len(buf) else 0
                if (put == 114 and buf[pos + 5] == 71) or (put == 113 and buf[pos + 2] == 71):  # {new key: float}
                    step = 5 if put == 114 else 2  # the PUT opcode and its index
                    while True:  # X r G: this one, then runs of keys of one length at once
                        memo_new[u4(buf, pos + 1)[0] if put == 114 else buf[pos + 1]] = text
                        writes += 1
                        push(text)
                        push(f8(buf, pos + step + 1)[0])
                        pos += step + 9
                        if pos + 64 > len(buf) or buf[pos] != 88:
                            break
                        n = u4(buf, pos + 1)[0]
                        run = _new_key_run(buf, pos, n, put) if n < 64 else None
                        if run is not None:
                            texts, indexes, values = run
                            memo_new.update(zip(indexes, texts, strict=True))
                            writes += len(texts)
                            stack.extend(_interleave(texts, values))
                            pos += len(texts) * (n + step + 14)
                            if pos + 64 > len(buf) or buf[pos] != 88:
                                break
                            n = u4(buf, pos + 1)[0]
                        start = pos + 5
                        stop = start + n
                        if stop + 14 > len(buf) or buf[stop] != put or buf[stop + step] != 71:
                            break
                        text = str(buf[start:stop], "utf-8", "surrogatepass")
                        pos = stop
                    if writes >= rotate_at:
                        memo_old, memo_new = memo_new, {}
                        rotate_at = writes + self._generation
                    continue
                push(text)
            elif op == 40:  # ( MARK
                marks.append(len(stack))
                pos += 1
            elif op == 125:  # } EMPTY_DICT
                push({})
                pos += 1
            elif op == 117:  # u SETITEMS
                k = marks.pop()
                target = stack[k - 1]
                items = iter(stack[k:])
                del stack[k:]
                if type(target) is dict:
                    target.update(zip(items, items, strict=True))
                    on_dict(target)
                else:
                    for key, value in zip(items, items, strict=True):
                        target[key] = value
                pos += 1
            elif op == 77:  # M BININT2
                push(buf[pos + 1] | (buf[pos + 2] << 8))
                pos += 3
            elif op == 93:  # ] EMPTY_LIST
                push([])
                pos += 1
            elif op == 78:  # N NONE
                push(None)
                pos += 1
            elif op == 97:  # a APPEND
                value = stack.pop()
                stack[-1].append(value)
                pos += 1
            elif op == 101:  # e APPENDS
                k = marks.pop()
                target = stack[k - 1]
                if type(target) is list:
                    target.extend(stack[k:])
                else:
                    for value in stack[k:]:
                        target.append(value)
                del stack[k:]
                pos += 1
            elif op == 134:  # \x86 TUPLE2
                stack[-2:] = [(stack[-2], stack[-1])]
                pos += 1
            elif op == 46:  # . STOP
                self._buf, self._pos = buf, pos + 1
                if len(stack) != 1 or marks:
                    raise pickle.UnpicklingError(
                        f"pickle ends with {len(stack)} objects and {len(marks)} open marks on the stack, "
                        "not one object"
                    )
                return stack[0]
            else:
                self._buf, self._pos = buf, pos + 1
                writes_before = writes
                if op in (112, 103):  # p PUT, g GET (text protocol 0)
                    index = int(self._line())
                    if op == 112:
                        memo_new[index] = stack[-1]
                        writes += 1
                    else:
                        value = memo_new.get(index, _MISSING)
                        if value is _MISSING:
                            value = memo_old.get(index, _MISSING)
                            if value is _MISSING:
                                raise MemoMissError(index, self._generation)
                            memo_new[index] = value
                        push(value)
                else:
                    self._rare(op, stack, marks)
                if writes != writes_before and writes >= rotate_at:
                    memo_old, memo_new = memo_new, {}
                    rotate_at = writes + self._generation
                buf, pos = self._buf, self._pos
                end = len(buf) - 16

    def _rare(self, op: int, stack: list[Any], marks: list[int]) -> None:
        """Every opcode the hot loop does not handle; ``self._pos`` is just past the opcode."""
        take, push = self._take, stack.append
        if op == 128:  # \x80 PROTO
            protocol = take(1)[0]
            if protocol > pickle.HIGHEST_PROTOCOL:
                raise pickle.UnpicklingError(f"unsupported pickle protocol: {protocol}")
        elif op == 149:  # \x95 FRAME: frames only group opcodes
            take(8)
        elif op == 74:  # J BININT
            push(_I4.unpack(take(4))[0])
        elif op == 73:  # I INT (text; 00 and 01 are False and True)
            line = self._line()
            push(False if line == b"00" else True if line == b"01" else int(line))
        elif op == 76:  # L LONG (text)
            push(int(self._line().rstrip(b"L")))
        elif op == 138:  # \x8a LONG1
            push(int.from_bytes(take(take(1)[0]), "little", signed=True))
        elif op == 139:  # \x8b LONG4
            n = _I4.unpack(take(4))[0]
            if n < 0:
                raise pickle.UnpicklingError("LONG pickle has negative byte count")
            push(int.from_bytes(take(n), "little", signed=True))
        elif op == 70:  # F FLOAT (text)
            push(float(self._line()))
        elif op == 136:  # \x88 NEWTRUE
            push(True)
        elif op == 137:  # \x89 NEWFALSE
            push(False)
        elif op == 83:  # S STRING (text, quoted)
            data = self._line()
            if len(data) < 2 or data[0] != data[-1] or data[:1] not in (b"'", b'"'):
                raise pickle.UnpicklingError("the STRING opcode argument must be quoted")
            push(codecs.escape_decode(data[1:-1])[0].decode("ascii"))
        elif op in (84, 85):  # T BINSTRING, U SHORT_BINSTRING (Python 2 str: read as ASCII, like pickle)
            n = _I4.unpack(take(4))[0] if op == 84 else take(1)[0]
            push(take(n).decode("ascii"))
        elif op == 86:  # V UNICODE (text, raw-unicode-escape)
            push(str(self._line(), "raw-unicode-escape"))
        elif op == 141:  # \x8d BINUNICODE8
            push(str(take(_U8.unpack(take(8))[0]), "utf-8", "surrogatepass"))
        elif op == 66:  # B BINBYTES
            push(take(_U4.unpack(take(4))[0]))
        elif op == 67:  # C SHORT_BINBYTES
            push(take(take(1)[0]))
        elif op in (142, 150):  # \x8e BINBYTES8, \x96 BYTEARRAY8
            data = take(_U8.unpack(take(8))[0])
            push(bytearray(data) if op == 150 else data)
        elif op == 41:  # ) EMPTY_TUPLE
            push(())
        elif op == 133:  # \x85 TUPLE1
            stack[-1] = (stack[-1],)
        elif op == 135:  # \x87 TUPLE3
            stack[-3:] = [(stack[-3], stack[-2], stack[-1])]
        elif op == 116:  # t TUPLE
            k = marks.pop()
            items = tuple(stack[k:])
            del stack[k:]
            push(items)
        elif op == 108:  # l LIST
            k = marks.pop()
            items = stack[k:]
            del stack[k:]
            push(items)
        elif op == 100:  # d DICT
            k = marks.pop()
            items = iter(stack[k:])
            del stack[k:]
            target = dict(zip(items, items, strict=True))
            self._on_dict(target)
            push(target)
        elif op == 115:  # s SETITEM
            value = stack.pop()
            key = stack.pop()
            stack[-1][key] = value
            if type(stack[-1]) is dict:
                self._on_dict(stack[-1])
        elif op == 143:  # \x8f EMPTY_SET
            push(set())
        elif op == 144:  # \x90 ADDITEMS
            k = marks.pop()
            stack[k - 1].update(stack[k:])
            del stack[k:]
        elif op == 145:  # \x91 FROZENSET
            k = marks.pop()
            items = frozenset(stack[k:])
            del stack[k:]
            push(items)
        elif op == 48:  # 0 POP
            if marks and marks[-1] == len(stack):
                marks.pop()
            else:
                stack.pop()
        elif op == 49:  # 1 POP_MARK
            del stack[marks.pop() :]
        elif op == 50:  # 2 DUP
            push(stack[-1])
        elif op == 99:  # c GLOBAL
            module = self._line().decode("utf-8")
            name = self._line().decode("utf-8")
            push(self._resolve(module, name))
        elif op == 147:  # \x93 STACK_GLOBAL
            name = stack.pop()
            module = stack.pop()
            push(self._resolve(module, name))
        elif op == 82:  # R REDUCE
            args = stack.pop()
            stack[-1] = stack[-1](*args)
        elif op == 129:  # \x81 NEWOBJ
            args = stack.pop()
            cls = stack.pop()
            push(cls.__new__(cls, *args))
        elif op == 146:  # \x92 NEWOBJ_EX
            kwargs = stack.pop()
            args = stack.pop()
            cls = stack.pop()
            push(cls.__new__(cls, *args, **kwargs))
        elif op == 98:  # b BUILD
            state = stack.pop()
            target = stack[-1]
            setstate = getattr(target, "__setstate__", None)
            if setstate is not None:
                setstate(state)
            else:
                slot_state = None
                if isinstance(state, tuple) and len(state) == 2:
                    state, slot_state = state
                if state:
                    target.__dict__.update(state)
                for key, value in (slot_state or {}).items():
                    setattr(target, key, value)
        elif op in (80, 81):  # P PERSID (text), Q BINPERSID
            pid = self._line().decode("ascii") if op == 80 else stack.pop()
            if self._persistent_load is None:
                raise pickle.UnpicklingError("the pickle has a persistent id and this reader takes none")
            push(self._persistent_load(pid))
        elif op == 105:  # i INST: module, name; arguments since the mark
            module = self._line().decode("ascii")
            cls = self._resolve(module, self._line().decode("ascii"))
            k = marks.pop()
            args = tuple(stack[k:])
            del stack[k:]
            push(cls(*args))
        elif op == 111:  # o OBJ: class and arguments since the mark
            k = marks.pop()
            items = stack[k:]
            del stack[k:]
            push(items[0](*items[1:]))
        else:
            names = {130: "EXT1", 131: "EXT2", 132: "EXT4", 151: "NEXT_BUFFER", 152: "READONLY_BUFFER"}
            what = names.get(op, f"unknown opcode {bytes([op])!r}")
            where = self.bytes_read - len(self._buf) + self._pos - 1
            raise pickle.UnpicklingError(f"{what} at byte {where}: not supported")
