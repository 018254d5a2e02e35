"""The streaming pickle reader: the same objects as ``pickle`` for protocols 0-5, chunked input, flat memory."""

from __future__ import annotations

import codecs
import copyreg
import gc
import io
import math
import pickle
import tracemalloc
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import pytest

from nas_harness.benchmarks import pickle_stream
from nas_harness.benchmarks.pickle_stream import MemoMissError, StreamingUnpickler
from nas_harness.benchmarks.pickles import ForbiddenGlobal

PROTOCOLS = range(pickle.HIGHEST_PROTOCOL + 1)


# -- objects and the globals they need -------------------------------------------------------------
class Point:
    """A plain class: NEWOBJ + BUILD (protocol 2+), copyreg._reconstructor + BUILD (0 and 1)."""

    def __init__(self, x: Any, y: Any) -> None:
        self.x, self.y = x, y

    def __eq__(self, other: object) -> bool:
        return type(other) is Point and vars(self) == vars(other)

    __hash__ = None  # type: ignore[assignment]


class Slotted:
    """State in slots: BUILD with a (None, slot state) pair."""

    __slots__ = ("a", "b")

    def __init__(self, a: Any, b: Any) -> None:
        self.a, self.b = a, b

    def __eq__(self, other: object) -> bool:
        return type(other) is Slotted and (self.a, self.b) == (other.a, other.b)

    __hash__ = None  # type: ignore[assignment]


class KeywordNew:
    """``__getnewargs_ex__`` with keywords: NEWOBJ_EX (protocol 4+)."""

    def __new__(cls, a: Any, *, b: Any) -> KeywordNew:
        self = super().__new__(cls)
        self.a, self.b = a, b
        return self

    def __getnewargs_ex__(self) -> tuple[tuple[Any, ...], dict[str, Any]]:
        return (self.a,), {"b": self.b}

    def __eq__(self, other: object) -> bool:
        return type(other) is KeywordNew and (self.a, self.b) == (other.a, other.b)

    __hash__ = None  # type: ignore[assignment]


ALLOWED: dict[tuple[str, str], Any] = {
    ("collections", "OrderedDict"): OrderedDict,
    ("_codecs", "encode"): codecs.encode,
    ("copyreg", "_reconstructor"): copyreg._reconstructor,  # type: ignore[attr-defined]
    ("copy_reg", "_reconstructor"): copyreg._reconstructor,  # type: ignore[attr-defined]
    (__name__, "Point"): Point,
    (__name__, "Slotted"): Slotted,
    (__name__, "KeywordNew"): KeywordNew,
}
for _module in ("builtins", "__builtin__"):
    for _type in (object, set, frozenset, bytes, bytearray, list):
        ALLOWED[_module, _type.__name__] = _type


class Refused(Exception):
    """What the test resolver raises for a global outside :data:`ALLOWED`."""


def resolve(module: str, name: str) -> Any:
    try:
        return ALLOWED[module, name]
    except KeyError:
        raise Refused(f"{module}.{name}") from None


class ReferenceUnpickler(pickle.Unpickler):
    """``pickle``'s own unpickler with the same globals: what the streaming reader must agree with."""

    def find_class(self, module: str, name: str) -> Any:
        return resolve(module, name)

    def persistent_load(self, pid: Any) -> Any:
        return ("stub", pid)


def reference(data: bytes) -> Any:
    return ReferenceUnpickler(io.BytesIO(data)).load()


def stream(data: bytes, **options: Any) -> Any:
    options.setdefault("resolve", resolve)
    return StreamingUnpickler(io.BytesIO(data).read, **options).load()


KEYS = [f"x-valid@{e}" for e in range(200)]  # keys of two dicts: the second reads them back from the memo


def sample(protocol: int) -> dict[str, Any]:
    """Every kind of value the pickles of benchmark files hold, and then some."""
    shared = [1, 2, "shared"]
    obj: dict[str, Any] = {
        "padding": [f"pad{i}" for i in range(300)],  # memo indices past 255: LONG_BINPUT/LONG_BINGET later
        "ints": [0, 1, -1, 255, 256, 65535, 65536, 2**31 - 1, -(2**31), 2**31, 2**63, -(2**100), 2**2100, -(3**1400)],
        "floats": [0.0, 0.5, -1e300, 5e-324, 1 / 3, float("inf"), float("-inf")],
        "constants": [None, True, False],
        "strings": ["", "a", "é€😀", "line\nbreak \\ 'q' \"dq\" \r\t", "s" * 64, "t" * 65, "long " * 100, "\x00nul"],
        "bytes": [b"", b"\x00\xff\n", b"x" * 300],
        "bytearray": bytearray(b"\x00abc\xff"),
        "tuples": [(), (1,), (1, 2), (1, 2, 3), (1, 2, 3, 4)],
        "sets": [{1, 2, 3}, set(), frozenset({"a", "b"}), frozenset()],
        "ordered": OrderedDict([("b", 1), ("a", [2]), ("c", OrderedDict())]),
        "shared": [shared, shared, (shared,)],
        "int_floats": {e: e / 7 for e in range(256)},  # K G runs
        "int_floats_big": {e: e / 3 for e in range(2500)},  # > 1000 items: several SETITEMS; BININT2 keys too
        "int_ints": {e: e for e in range(300)},  # K K: not a run of floats
        "str_floats": {f"key{i:04d}": i / 9 for i in range(1500)},  # new keys of equal length: X r G runs
        "mixed_lengths": {f"ori-test@{e}": e * 0.25 for e in range(200)},  # runs of 9, 10 and 11-byte keys
        "read_back": [{k: e / 11 for e, k in enumerate(KEYS)}, {k: -e / 13 for e, k in enumerate(KEYS)}],
        "nul_keys": {f"k{i:03d}\x00": float(i) for i in range(20)},  # numpy's bytes would drop the NUL
        "non_ascii_keys": {f"é{i:03d}": float(i) for i in range(20)},
        "long_keys": {f"{'k' * 70}{i:04d}": i / 5 for i in range(50)},  # > 64 bytes: one at a time
        "point": Point(1, [2.5, "x"]),
        "nested": {"a": [{"b": (1, [2, {"c": 3.5}])}]},
    }
    if protocol >= 2:
        obj["slotted"] = Slotted(1, "two")
    if protocol >= 4:  # (2 and 3 pickle it through functools.partial)
        obj["keyword_new"] = KeywordNew([1], b={"x": 2.0})
    return obj


# -- round trips -----------------------------------------------------------------------------------
@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_round_trip_equals_pickle(protocol: int) -> None:
    original = sample(protocol)
    data = pickle.dumps(original, protocol=protocol)
    got = stream(data)
    assert got == original
    assert got == reference(data)
    assert list(got) == list(original)  # dict order too
    for key in ("int_floats", "int_floats_big", "str_floats", "mixed_lengths", "nul_keys", "non_ascii_keys"):
        assert list(got[key].items()) == list(original[key].items())
    for x in got["ints"]:
        assert type(x) is int
    for key in ("int_floats", "int_floats_big", "str_floats", "read_back"):  # runs decoded by numpy: plain types
        for d in got[key] if key == "read_back" else [got[key]]:
            assert all(type(k) in (int, str) and type(v) is float for k, v in d.items())
    assert type(got["bytearray"]) is bytearray and type(got["bytes"][2]) is bytes
    assert type(got["sets"][2]) is frozenset and type(got["ordered"]) is OrderedDict
    assert type(got["tuples"][4]) is tuple


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_shared_and_recursive_references_keep_identity(protocol: int) -> None:
    got = stream(pickle.dumps(sample(protocol), protocol=protocol))
    first, second, (third,) = got["shared"]
    assert first is second is third
    keys_a, keys_b = list(got["read_back"][0]), list(got["read_back"][1])
    assert keys_a == KEYS and all(a is b for a, b in zip(keys_a, keys_b, strict=True))  # from the memo
    loop: list[Any] = []
    loop.append(loop)
    d: dict[str, Any] = {"self": None}
    d["self"] = d
    back = stream(pickle.dumps([loop, d], protocol=protocol))
    assert back[0][0] is back[0] and back[1]["self"] is back[1]


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_nan_and_negative_zero(protocol: int) -> None:
    got = stream(pickle.dumps([float("nan"), -0.0, {1: float("nan")}], protocol=protocol))
    assert math.isnan(got[0]) and math.isnan(got[2][1])
    assert math.copysign(1.0, got[1]) == -1.0


HAND_MADE = {  # opcodes Python 3's pickler never writes (or only for huge objects)
    "STRING": b"S'ab\\nc'\n.",
    "SHORT_BINSTRING": b"\x80\x02U\x03abc.",
    "BINSTRING": b"\x80\x02T\x03\x00\x00\x00abc.",
    "BINUNICODE8": b"\x80\x04\x8d\x04\x00\x00\x00\x00\x00\x00\x00\xc3\xa9ab.",
    "BINBYTES8": b"\x80\x04\x8e\x03\x00\x00\x00\x00\x00\x00\x00abc.",
    "BYTEARRAY8": b"\x80\x05\x96\x03\x00\x00\x00\x00\x00\x00\x00abc.",
    "LONG text": b"L12345678901234567890L\n.",
    "FLOAT text": b"F1.25\n.",
    "INT bools": b"(I01\nI00\nI-7\nt.",
    "POP": b"\x80\x02K\x01K\x020.",
    "POP of a mark": b"\x80\x02K\x01(0.",
    "POP_MARK": b"\x80\x02K\x01(K\x02K\x031.",
    "DUP": b"\x80\x02K\x012\x86.",
    "LIST": b"(K\x01K\x02l.",
    "DICT": b"(U\x01aK\x01U\x01bK\x02d.",
    "SETITEM": b"}U\x01aK\x01s.",
    "INST": b"(icollections\nOrderedDict\n.",
    "OBJ": b"(ccollections\nOrderedDict\no.",
    "TUPLE3": b"\x80\x02K\x01K\x02K\x03\x87.",
    "PERSID": b"Pstorage-7\n.",
    "BINPERSID": b"\x80\x02U\x03keyK\x05\x86Q.",
}


@pytest.mark.parametrize("name", sorted(HAND_MADE))
def test_opcodes_pickle_itself_rarely_writes(name: str) -> None:
    data = HAND_MADE[name]
    got = stream(data, persistent_load=lambda pid: ("stub", pid))
    assert got == reference(data) and type(got) is type(reference(data))


@pytest.mark.parametrize(
    ("data", "match"),
    [
        (b"\x80\x02\x82\x01.", "EXT1"),
        (b"\x80\x02\x83\x01\x00.", "EXT2"),
        (b"\x80\x02\x84\x01\x00\x00\x00.", "EXT4"),
        (b"\x80\x05\x97.", "NEXT_BUFFER"),
        (b"\x80\x05\x98.", "READONLY_BUFFER"),
        (b"\x80\x02\xff.", "unknown opcode"),
        (b"\x80\x09N.", "unsupported pickle protocol: 9"),
        (b"\x80\x02K\x01K\x02.", "ends with 2 objects"),
        (b"\x80\x02(K\x01.", "open marks"),
        (b"Pstorage\n.", "persistent id"),
    ],
)
def test_refused_and_malformed_opcodes(data: bytes, match: str) -> None:
    with pytest.raises(pickle.UnpicklingError, match=match):
        stream(data)


def test_out_of_band_buffers_are_refused() -> None:
    data = pickle.dumps(pickle.PickleBuffer(b"abc"), protocol=5, buffer_callback=lambda b: False)
    with pytest.raises(pickle.UnpicklingError, match="NEXT_BUFFER"):
        stream(data)


# -- streams ---------------------------------------------------------------------------------------
def test_several_pickles_in_one_stream(monkeypatch: pytest.MonkeyPatch) -> None:
    objects = [sample(2), [1, 2.5, "x"], sample(4), {"a": None}, "last"]
    data = b"".join(pickle.dumps(o, protocol=p) for o, p in zip(objects, (2, 0, 4, 5, 1), strict=True))
    for chunk in (pickle_stream.CHUNK, 64):
        monkeypatch.setattr(pickle_stream, "CHUNK", chunk)
        unpickler = StreamingUnpickler(io.BytesIO(data).read, resolve=resolve)
        assert [unpickler.load() for _ in objects] == objects
        with pytest.raises(pickle.UnpicklingError, match="truncated"):
            unpickler.load()  # the stream is at its end


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_truncated_pickles_raise_at_every_cut(protocol: int) -> None:
    small = {"a": [1, 2.5, "é" * 3, b"xy", (None, True)], "s": {1, 2}, 7: OrderedDict(k=-(2**70)), "p": Point(1, 2)}
    data = pickle.dumps(small, protocol=protocol)
    assert stream(data) == small
    for cut in range(len(data)):  # every prefix short of the STOP
        with pytest.raises(pickle.UnpicklingError):
            stream(data[:cut])


@pytest.mark.parametrize("protocol", [2, 4])
def test_truncated_runs_raise(protocol: int) -> None:
    obj = [sample(protocol)["str_floats"], sample(protocol)["read_back"], sample(protocol)["int_floats_big"]]
    data = pickle.dumps(obj, protocol=protocol)
    for cut in [*range(1, len(data), 997), *range(len(data) - 40, len(data))]:
        with pytest.raises(pickle.UnpicklingError):
            stream(data[:cut])


def test_a_refused_global_raises_what_resolve_raises_and_calls_nothing(tmp_path: Any) -> None:
    marker = tmp_path / "ran"

    class Payload:
        def __reduce__(self) -> tuple[Callable[..., Any], tuple[str]]:
            return exec, (f"open({str(marker)!r}, 'w').close()",)

    calls: list[tuple[str, str]] = []

    def refuse(module: str, name: str) -> Any:
        calls.append((module, name))
        raise Refused(f"{module}.{name}")

    for protocol in PROTOCOLS:
        data = pickle.dumps({"ok": [1.5], "evil": Payload()}, protocol=protocol)
        calls.clear()
        with pytest.raises(Refused, match=r"^(builtins|__builtin__)\.exec$"):
            stream(data, resolve=refuse)
        assert calls == [("builtins" if protocol >= 3 else "__builtin__", "exec")]

        def forbid(module: str, name: str) -> Any:
            raise ForbiddenGlobal(f"{module}.{name}")

        with pytest.raises(ForbiddenGlobal) as info:
            stream(data, resolve=forbid)
        assert info.value.global_name.endswith(".exec")
    assert not marker.exists()


# -- the memo's generations ------------------------------------------------------------------------
def far_back(gap: int, *, lead: int = 0, every: int | None = None) -> list[Any]:
    """``target`` memoized after ``lead`` other memo writes, read back after ``gap`` more (and every ``every``)."""
    target: list[Any] = [None]  # one memo write (None is never memoized)
    items: list[Any] = [[i] for i in range(lead)]  # one memo write each
    items.append(target)
    for i in range(gap):
        items.append([i])
        if every and (i + 1) % every == 0:
            items.append(target)
    items.append(target)
    return items


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_a_far_back_reference_raises_memo_miss(protocol: int) -> None:
    data = pickle.dumps(far_back(50), protocol=protocol)
    with pytest.raises(MemoMissError, match="memo entry 1 more than 10 memo writes") as info:
        stream(data, generation=10)
    assert info.value.index == 1 and isinstance(info.value, pickle.UnpicklingError)
    got = stream(data)  # the default generation is far larger
    assert got[0] is got[-1]


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_an_entry_lives_between_one_and_two_generations(protocol: int) -> None:
    generation = 10
    for lead in range(2 * generation):  # every position of the write within a generation
        for gap in range(generation):  # read back within a generation: always there
            got = stream(pickle.dumps(far_back(gap, lead=lead), protocol=protocol), generation=generation)
            assert got[lead] is got[-1]
        for gap in (2 * generation - 1, 3 * generation):  # two generations later: always forgotten
            with pytest.raises(MemoMissError):
                stream(pickle.dumps(far_back(gap, lead=lead), protocol=protocol), generation=generation)


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_reading_an_entry_back_keeps_it(protocol: int) -> None:
    data = pickle.dumps(far_back(300, every=9), protocol=protocol)  # 300 writes, the target read every 9
    got = stream(data, generation=10)
    targets = [x for x in got if x == [None]]
    assert len(targets) == 300 // 9 + 2 and all(t is got[0] for t in targets)


def test_read_back_keys_are_refreshed_through_the_run_path() -> None:
    # the second and third dicts read back 200 keys (LONG_BINGET + BINFLOAT runs) one generation apart
    keys = [f"k{e:04d}" for e in range(200)]
    filler = [[i] for i in range(380)]
    obj = [[f"pad{i}" for i in range(300)], {k: 1.0 for k in keys}, filler, {k: 2.0 for k in keys}]
    obj += [[[i] for i in range(380)], {k: 3.0 for k in keys}]
    data = pickle.dumps(obj, protocol=2)
    got = stream(data, generation=600)  # each read within 600 memo writes of the last
    assert got == obj
    assert all(a is b is c for a, b, c in zip(got[1], got[3], got[5], strict=True))


@pytest.mark.parametrize("generation", [20, 100, 1000])
def test_a_run_of_new_keys_does_not_shorten_later_generations(generation: int) -> None:
    # 900 new keys of one length are memoized at once (the X r G run path); an object written after
    # them and read back 3 memo writes later is well within a generation and must still be there
    target = ["target"]
    obj = [[f"p{i}" for i in range(300)], {f"key{i:04d}": i / 9 for i in range(900)}, target, [1], [2], [3], target]
    got = stream(pickle.dumps(obj, protocol=2), generation=generation)
    assert got == obj and got[2] is got[-1]


# -- chunked input and flat memory -----------------------------------------------------------------
def test_the_stream_is_read_in_chunks() -> None:
    obj = [{"id": i, "curve": {e: (i + e) / 7 for e in range(200)}, "name": f"arch-{i}"} for i in range(6000)]
    data = pickle.dumps(obj, protocol=2)
    assert len(data) > 3 * pickle_stream.CHUNK
    handle = io.BytesIO(data)
    asked: list[int] = []
    given: list[int] = []
    first_dict_at: list[int] = []

    def read(n: int) -> bytes:
        asked.append(n)
        chunk = handle.read(n)
        given.append(len(chunk))
        return chunk

    def on_dict(d: dict) -> None:
        if not first_dict_at:
            first_dict_at.append(handle.tell())

    assert StreamingUnpickler(read, resolve=resolve, on_dict=on_dict).load() == obj
    assert all(0 < n <= pickle_stream.CHUNK for n in asked) and len(asked) >= len(data) // pickle_stream.CHUNK
    assert sum(given) == len(data)
    assert first_dict_at[0] <= pickle_stream.CHUNK  # the first record was handed over before the rest was read


def test_any_chunk_boundary_gives_the_same_object(monkeypatch: pytest.MonkeyPatch) -> None:
    # chunk boundaries anywhere: in a run of new keys, of read-back keys, of {int: float}, in a long key
    obj = [sample(2)["str_floats"], sample(2)["long_keys"], sample(2)["read_back"], sample(2)["int_floats"]]
    data = pickle.dumps(obj, protocol=2)
    failed = []
    for chunk in range(16, 400):
        monkeypatch.setattr(pickle_stream, "CHUNK", chunk)
        try:
            got = stream(data)
        except pickle.UnpicklingError as exc:
            failed.append(f"{chunk}: {exc}")
            continue
        assert got == obj, chunk
    assert not failed, f"{len(failed)} chunk sizes fail: {failed[:3]}"


def _dumps_without_memo(obj: Any, protocol: int) -> bytes:
    """As a pickler in fast mode writes it: no PUT/MEMOIZE at all (the synthetic NATS-Bench file's records)."""
    out = io.BytesIO()
    pickler = pickle.Pickler(out, protocol=protocol)
    pickler.fast = True
    pickler.dump(obj)
    return out.getvalue()


@pytest.mark.parametrize("memo", [True, False], ids=["memoize", "fast-pickler"])
def test_protocol_4_short_key_runs_take_the_numpy_path(memo: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    # NATS-Bench's curves: {"ori-test@0": acc, ...} as \x8c<n><key> [\x94] G<f8>; runs of 10, 90 and 100
    # keys of one length, then a dict reading the first dict's keys back from the memo
    curves = [{f"{split}@{e}": (e + i) / 7 for e in range(200)} for i, split in enumerate(("ori-test", "x-valid"))]
    obj = [curves, [{"x": 1.5}, {"é-key": 2.5}], [{k: -1.0 for k in curves[0]}]]
    data = pickle.dumps(obj, protocol=4) if memo else _dumps_without_memo(obj, 4)
    taken: list[int] = []
    real_run = pickle_stream._short_key_run

    def spy(*args: Any) -> Any:
        run = real_run(*args)
        taken.append(0 if run is None else len(run[0]))
        return run

    monkeypatch.setattr(pickle_stream, "_short_key_run", spy)
    got = stream(data)
    assert got == reference(data) == obj
    assert sum(taken) >= 2 * 190  # every run of 8 or more keys of one length went through numpy
    if memo:
        assert all(a is b for a, b in zip(got[0][0], got[2][0], strict=True))  # read back from the memo


@pytest.mark.parametrize("memo", [True, False], ids=["memoize", "fast-pickler"])
def test_any_chunk_boundary_in_protocol_4_short_key_runs(memo: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    obj = [sample(4)["mixed_lengths"], sample(4)["nul_keys"], sample(4)["non_ascii_keys"], sample(4)["read_back"]]
    data = pickle.dumps(obj, protocol=4) if memo else _dumps_without_memo(obj, 4)
    for chunk in range(16, 400, 3):
        monkeypatch.setattr(pickle_stream, "CHUNK", chunk)
        assert stream(data) == obj, chunk


def test_a_full_chunk_ending_at_a_key_boundary() -> None:
    # a 7 MB dict of new 16-byte keys read with full-size reads: the 4 MB boundary falls exactly after a
    # key's value for one of these paddings (found by sweeping them)
    big = {f"ori-test@{i:07d}": i * 0.5 for i in range(200_000)}
    for pad in range(20, 28):
        obj = ["x" * pad, big]
        assert stream(pickle.dumps(obj, protocol=2)) == obj, pad


def _peak_while_streaming(data: bytes, on_dict: Callable[[dict], None] | None) -> int:
    gc.collect()
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        got = StreamingUnpickler(io.BytesIO(data).read, resolve=resolve, on_dict=on_dict, generation=10).load()
        peak = tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()
    assert len(got) == 1000
    return peak


def test_memory_stays_flat_when_the_hook_empties_records(monkeypatch: pytest.MonkeyPatch) -> None:
    # The 4 MB read buffer would dominate a test-sized pickle: read in 16 kB chunks here.
    monkeypatch.setattr(pickle_stream, "CHUNK", 1 << 14)
    records = [
        {"id": i, "curve": {e: (i + e) / 7 for e in range(200)}, "loss": [e / 3 for e in range(50)]}
        for i in range(1000)
    ]
    data = pickle.dumps(records, protocol=2)  # memoized throughout, as torch.save writes
    del records
    gc.collect()

    def empty(d: dict) -> None:
        if "curve" in d:
            d.clear()

    flat = _peak_while_streaming(data, empty)
    kept = _peak_while_streaming(data, None)
    print(f"pickle {len(data)} bytes, peak with the hook {flat}, without {kept}")
    assert flat < len(data) / 5, (flat, len(data))
    assert kept > len(data), (kept, len(data))  # without the hook every curve stays: the measure sees them
