"""The official NAS-Bench-101 record layout (``nasbench_full.tfrecord``, ``nasbench_only108.tfrecord``).

Each TFRecord record is one training run (one repeat of one cell at one epoch budget). Its data is
UTF-8 JSON, as read by google-research/nasbench ``api.NASBench.__init__``::

    [module_hash, epochs, raw_adjacency, raw_operations, raw_metrics]

``module_hash``: the cell's md5 graph hash; ``epochs``: 4, 12, 36 or 108; ``raw_adjacency``: the
pruned V x V adjacency as a row-major '0'/'1' string; ``raw_operations``: the V labels joined by
``,``; ``raw_metrics``: base64 of a serialized ``nasbench.ModelMetrics`` (proto2,
``nasbench/lib/model_metrics.proto``)::

    message ModelMetrics {
      repeated EvaluationData evaluation_data = 1;
      optional int32 trainable_parameters = 2;
      optional double total_time = 3;
    }
    message EvaluationData {
      optional double current_epoch = 1;
      optional double training_time = 2;
      optional double train_accuracy = 3;
      optional double validation_accuracy = 4;
      optional double test_accuracy = 5;
      optional string checkpoint_path = 6;
    }

``evaluation_data`` holds the evaluations at step 0, halfway and at the end: the official API reads
``[1]`` as halfway and ``[2]`` as final. Accuracies are fractions in [0, 1].

The protobuf wire format is decoded (and encoded, for fixtures) by hand: varint (0), 64-bit (1),
length-delimited (2) and 32-bit (5) fields; unknown fields are skipped; the last value of a
non-repeated field wins, as in protobuf.
"""

from __future__ import annotations

import base64
import binascii
import json
import struct
from collections.abc import Iterator
from dataclasses import dataclass, field

VARINT, I64, LEN, I32 = 0, 1, 2, 5
_DOUBLE = struct.Struct("<d")
#: EvaluationData field number -> attribute name (all doubles but checkpoint_path)
_EVAL_FIELDS = {
    1: "current_epoch",
    2: "training_time",
    3: "train_accuracy",
    4: "validation_accuracy",
    5: "test_accuracy",
}
_CHECKPOINT_PATH = 6
HALFWAY, FINAL = 1, 2  # indices into evaluation_data, as the official API reads them


class RecordFormatError(ValueError):
    """A record that does not have the official layout (the caller adds file and offset)."""


@dataclass
class EvaluationData:
    """``nasbench.EvaluationData``: one evaluation during training (None: field absent)."""

    current_epoch: float | None = None
    training_time: float | None = None
    train_accuracy: float | None = None
    validation_accuracy: float | None = None
    test_accuracy: float | None = None
    checkpoint_path: str | None = None


@dataclass
class ModelMetrics:
    """``nasbench.ModelMetrics``: the evaluations of one training run and the parameter count."""

    evaluation_data: list[EvaluationData] = field(default_factory=list)
    trainable_parameters: int | None = None
    total_time: float | None = None


@dataclass
class NB101Record:
    """One decoded record: ``[module_hash, epochs, raw_adjacency, raw_operations, metrics]``."""

    module_hash: str
    epochs: int
    raw_adjacency: str
    raw_operations: str
    metrics: ModelMetrics


# -- protobuf wire format --------------------------------------------------------------------------
def _read_varint(buf: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(buf):
            raise RecordFormatError("protobuf varint runs past the end of the message")
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7
        if shift >= 70:
            raise RecordFormatError("protobuf varint longer than 10 bytes")


def iter_fields(buf: bytes) -> Iterator[tuple[int, int, int | bytes]]:
    """``(field number, wire type, value)`` of each field of a message: ints for varint, 64-bit and
    32-bit fields (raw little-endian bits), bytes for length-delimited ones."""
    pos, end = 0, len(buf)
    while pos < end:
        key, pos = _read_varint(buf, pos)
        number, wire = key >> 3, key & 7
        if number == 0:
            raise RecordFormatError("protobuf field number 0")
        if wire == VARINT:
            value, pos = _read_varint(buf, pos)
        elif wire == I64:
            if pos + 8 > end:
                raise RecordFormatError(f"protobuf 64-bit field {number} runs past the end of the message")
            value, pos = int.from_bytes(buf[pos : pos + 8], "little"), pos + 8
        elif wire == LEN:
            size, pos = _read_varint(buf, pos)
            if pos + size > end:
                raise RecordFormatError(f"protobuf field {number} of {size} bytes runs past the end of the message")
            value, pos = buf[pos : pos + size], pos + size
        elif wire == I32:
            if pos + 4 > end:
                raise RecordFormatError(f"protobuf 32-bit field {number} runs past the end of the message")
            value, pos = int.from_bytes(buf[pos : pos + 4], "little"), pos + 4
        else:
            raise RecordFormatError(f"protobuf field {number} has unsupported wire type {wire}")
        yield number, wire, value


def _expect(number: int, wire: int, want: int, message: str) -> None:
    if wire != want:
        raise RecordFormatError(f"{message} field {number} has wire type {wire}, expected {want}")


def _double(bits: int) -> float:
    return _DOUBLE.unpack(bits.to_bytes(8, "little"))[0]


def _int32(value: int) -> int:
    value &= 0xFFFFFFFF  # negative int32 values are sign-extended to 10-byte varints
    return value - (1 << 32) if value & 0x80000000 else value


#: the usual serialization of an EvaluationData: fields 1-5 in order, each a key byte and a double
_PLAIN_EVALUATION = struct.Struct("<BdBdBdBdBd")
_PLAIN_KEYS = tuple(number << 3 | I64 for number in _EVAL_FIELDS)


def decode_evaluation_data(buf: bytes) -> EvaluationData:
    """Parse a serialized ``nasbench.EvaluationData``."""
    if len(buf) == _PLAIN_EVALUATION.size:  # fast path for the usual layout (same result)
        values = _PLAIN_EVALUATION.unpack(buf)
        if values[0::2] == _PLAIN_KEYS:
            return EvaluationData(*values[1::2])
    out = EvaluationData()
    for number, wire, value in iter_fields(buf):
        if number in _EVAL_FIELDS:
            _expect(number, wire, I64, "EvaluationData")
            setattr(out, _EVAL_FIELDS[number], _double(value))  # type: ignore[arg-type]
        elif number == _CHECKPOINT_PATH:
            _expect(number, wire, LEN, "EvaluationData")
            try:
                out.checkpoint_path = value.decode("utf-8")  # type: ignore[union-attr]
            except UnicodeDecodeError as exc:
                raise RecordFormatError(f"EvaluationData.checkpoint_path is not UTF-8 ({exc})") from None
    return out


def decode_model_metrics(buf: bytes) -> ModelMetrics:
    """Parse a serialized ``nasbench.ModelMetrics``."""
    out = ModelMetrics()
    for number, wire, value in iter_fields(buf):
        if number == 1:
            _expect(number, wire, LEN, "ModelMetrics")
            out.evaluation_data.append(decode_evaluation_data(value))  # type: ignore[arg-type]
        elif number == 2:
            _expect(number, wire, VARINT, "ModelMetrics")
            out.trainable_parameters = _int32(value)  # type: ignore[arg-type]
        elif number == 3:
            _expect(number, wire, I64, "ModelMetrics")
            out.total_time = _double(value)  # type: ignore[arg-type]
    return out


def _varint(value: int) -> bytes:
    if value < 0:
        value += 1 << 64
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _key(number: int, wire: int) -> bytes:
    return _varint(number << 3 | wire)


def encode_evaluation_data(data: EvaluationData) -> bytes:
    """Serialize ``data`` (absent fields are left out)."""
    out = bytearray()
    for number, name in _EVAL_FIELDS.items():
        value = getattr(data, name)
        if value is not None:
            out += _key(number, I64) + _DOUBLE.pack(value)
    if data.checkpoint_path is not None:
        raw = data.checkpoint_path.encode("utf-8")
        out += _key(_CHECKPOINT_PATH, LEN) + _varint(len(raw)) + raw
    return bytes(out)


def encode_model_metrics(metrics: ModelMetrics) -> bytes:
    """Serialize ``metrics`` in field-number order, as protobuf does."""
    out = bytearray()
    for data in metrics.evaluation_data:
        raw = encode_evaluation_data(data)
        out += _key(1, LEN) + _varint(len(raw)) + raw
    if metrics.trainable_parameters is not None:
        out += _key(2, VARINT) + _varint(metrics.trainable_parameters)
    if metrics.total_time is not None:
        out += _key(3, I64) + _DOUBLE.pack(metrics.total_time)
    return bytes(out)


# -- the record's JSON layout ----------------------------------------------------------------------
_LAYOUT = "a UTF-8 JSON list [module_hash, epochs, raw_adjacency, raw_operations, base64 ModelMetrics]"


def decode_record(data: bytes) -> NB101Record:
    """Parse one record's data; raises :class:`RecordFormatError` saying what does not fit."""
    try:
        row = json.loads(data)
    except (UnicodeDecodeError, ValueError) as exc:
        raise RecordFormatError(f"not JSON ({exc}); expected {_LAYOUT}") from None
    if not isinstance(row, list) or len(row) != 5:
        raise RecordFormatError(f"holds {_short(row)}; expected {_LAYOUT}")
    module_hash, epochs, raw_adjacency, raw_operations, raw_metrics = row
    types = (str, int, str, str, str)
    for name, value, kind in zip(
        ("module_hash", "epochs", "raw_adjacency", "raw_operations", "raw_metrics"), row, types, strict=True
    ):
        if not isinstance(value, kind) or isinstance(value, bool):
            raise RecordFormatError(f"{name} is {_short(value)}, not a {kind.__name__}; expected {_LAYOUT}")
    try:
        blob = base64.b64decode(raw_metrics, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise RecordFormatError(f"raw_metrics is not base64 ({exc})") from None
    return NB101Record(module_hash, epochs, raw_adjacency, raw_operations, decode_model_metrics(blob))


def encode_record(record: NB101Record) -> bytes:
    """One record's data in the official layout (the inverse of :func:`decode_record`)."""
    raw_metrics = base64.b64encode(encode_model_metrics(record.metrics)).decode("ascii")
    row = [record.module_hash, record.epochs, record.raw_adjacency, record.raw_operations, raw_metrics]
    return json.dumps(row).encode("utf-8")


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."
