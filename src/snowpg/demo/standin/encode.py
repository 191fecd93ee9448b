"""Re-encode fakesnow's Arrow answer column by column the way the Snowflake service sends it.

Each rule names the connector code that decodes it (snowflake-connector-python,
``nanoarrow_cpp/ArrowIterator/CArrowTableIterator.cpp`` and ``SnowflakeType.cpp``); docs/testing.md
lists them with their sources. The input is one fakesnow result (FIXED as decimal128, timestamps as
``{epoch, fraction[, timezone]}`` structs with microseconds, TIME as int64 nanoseconds); the output
is one Arrow record batch per result chunk, each encoded on its own, so a FIXED column's integer
width can differ from one chunk to the next as it does on the service.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

_INT_TYPES: tuple[tuple[pa.DataType, int, int], ...] = (
    (pa.int8(), -(2**7), 2**7 - 1),
    (pa.int16(), -(2**15), 2**15 - 1),
    (pa.int32(), -(2**31), 2**31 - 1),
    (pa.int64(), -(2**63), 2**63 - 1),
)
_TS_TYPES = frozenset({"TIMESTAMP_NTZ", "TIMESTAMP_LTZ"})
# Up to this scale the service sends TIMESTAMP_NTZ/LTZ as one int64 (value x 10^scale), past it
# as a struct {epoch seconds, fraction nanoseconds} (connector: a struct child "epoch"/"fraction"
# for scale > 7, an int64 otherwise; 9999-12-31 x 10^7 still fits int64, x 10^8 does not).
ONE_FIELD_MAX_SCALE = 7
# TIMESTAMP_TZ: {epoch x 10^scale, timezone} (byteLength 8) up to scale 3, else
# {epoch seconds, fraction ns, timezone} (byteLength 16).
TZ_ONE_FIELD_MAX_SCALE = 3
UTC_TIMEZONE_INDEX = 1440  # the service's timezone child: offset minutes + 1440

NanoExtras = Mapping[str, Mapping[int, int]]


class Extras:
    """What fakesnow cannot store and a test registers for the stand-in to send (docs/testing.md):

    - ``nanos``: {column: {stored value in microseconds: nanoseconds 0-999}} for TIMESTAMP_*(9)
      (key: epoch microseconds) and TIME(9) (key: microseconds since midnight);
    - ``offsets``: {column: {epoch microseconds: offset minutes}} for TIMESTAMP_TZ, whose offset
      fakesnow drops (it stores UTC);
    - ``numbers``: {column: {stored integer: exact integer text}} for NUMBER(38,0) values past
      int64, which fakesnow cannot store (it keeps a placeholder the test chose).
    """

    def __init__(
        self,
        nanos: NanoExtras | None = None,
        offsets: Mapping[str, Mapping[int, int]] | None = None,
        numbers: Mapping[str, Mapping[int, str]] | None = None,
    ) -> None:
        self.nanos: NanoExtras = nanos or {}
        self.offsets: Mapping[str, Mapping[int, int]] = offsets or {}
        self.numbers: Mapping[str, Mapping[int, str]] = numbers or {}


def _meta(field: pa.Field) -> dict[str, str]:
    return {k.decode(): v.decode() for k, v in (field.metadata or {}).items()}


def _narrowest(lo: int, hi: int) -> pa.DataType | None:
    for typ, tmin, tmax in _INT_TYPES:
        if tmin <= lo and hi <= tmax:
            return typ
    return None


def _unscaled_int64(arr: pa.Array) -> tuple[np.ndarray, bool]:
    """The unscaled values of a decimal128 array as int64, and whether every value fits."""
    values = np.frombuffer(arr.buffers()[1], dtype="<i8")
    start = arr.offset * 2
    pairs = values[start : start + 2 * len(arr)].reshape(-1, 2)
    low, high = pairs[:, 0], pairs[:, 1]
    valid = np.ones(len(arr), dtype=bool) if arr.null_count == 0 else ~np.asarray(arr.is_null())
    fits = bool(np.all((high == (low >> 63)) | ~valid))
    return np.where(valid, low, 0), fits


def _replace_numbers(arr: pa.Array, table: Mapping[int, str] | None) -> pa.Array:
    """Integers the test registered in place of fakesnow's placeholders, as decimal128(38, 0)."""
    if not table or (pa.types.is_decimal(arr.type) and arr.type.scale != 0):
        return arr
    out = [None if v is None else Decimal(table.get(int(v), int(v))) for v in arr.to_pylist()]
    return pa.array(out, pa.decimal128(38, 0))


def encode_fixed(
    arr: pa.Array, field: pa.Field, numbers: Mapping[int, str] | None = None
) -> tuple[pa.Array, pa.Field]:
    """FIXED: the narrowest signed int holding this chunk's unscaled values, decimal128 past int64.

    Connector: ``CArrowTableIterator::convertScaledFixedNumberColumn`` reads int8..int64 and
    decimal128 with the field's ``scale`` metadata (``FixedSizeBinary`` never).
    """
    meta = _meta(field)
    meta["logicalType"] = "FIXED"
    arr = _replace_numbers(arr, numbers)
    if pa.types.is_decimal(arr.type):
        arr = arr.cast(pa.decimal128(38, arr.type.scale)) if arr.type.bit_width != 128 else arr
        unscaled, fits = _unscaled_int64(arr)
        if not fits:
            return arr, field.with_type(pa.decimal128(38, arr.type.scale)).with_metadata(meta)
        ints = pa.array(unscaled, mask=np.asarray(arr.is_null()) if arr.null_count else None)
    elif pa.types.is_integer(arr.type):
        ints = arr.cast(pa.int64())
    else:
        return arr, field.with_metadata(meta)
    valid = ints.drop_null()
    lo = int(pc.min(valid).as_py()) if len(valid) else 0
    hi = int(pc.max(valid).as_py()) if len(valid) else 0
    typ = _narrowest(lo, hi) or pa.int64()
    return ints.cast(typ), field.with_type(typ).with_metadata(meta)


def _struct_parts(arr: pa.Array) -> tuple[pa.Array, pa.Array, np.ndarray]:
    """(epoch seconds, fraction ns, valid mask) of fakesnow's timestamp struct.

    fakesnow leaves the struct itself non-null and nulls only its children: the row validity is
    taken from the epoch child, as the service marks the struct slot itself null.
    """
    epoch = arr.field("epoch")
    fraction = arr.field("fraction")
    valid = ~np.asarray(epoch.is_null()) if epoch.null_count else np.ones(len(arr), dtype=bool)
    return epoch.fill_null(0), fraction.fill_null(0), valid


def _micros(epoch: pa.Array, fraction: pa.Array) -> np.ndarray:
    """Each value's epoch microseconds as fakesnow stored it: the side channels' key."""
    return (
        np.asarray(epoch, dtype=np.int64) * 1_000_000 + np.asarray(fraction, dtype=np.int64) // 1000
    )


def _lookup(keys: np.ndarray, table: Mapping[int, int] | None, default: int) -> np.ndarray:
    if not table:
        return np.full(len(keys), default, dtype=np.int64)
    return np.array([table.get(int(k), default) for k in keys], dtype=np.int64)


def encode_timestamp(
    arr: pa.Array, field: pa.Field, extras: Extras | None = None
) -> tuple[pa.Array, pa.Field]:
    """TIMESTAMP_NTZ/LTZ/TZ in the form ``convertTimestamp[TZ]Column_nanoarrow`` decodes."""
    extras = extras or Extras()
    meta = _meta(field)
    logical = meta.get("logicalType", "TIMESTAMP_NTZ")
    scale = int(meta.get("scale") or 9)
    meta["scale"] = str(scale)
    if not pa.types.is_struct(arr.type):
        return arr, field
    epoch, fraction, valid = _struct_parts(arr)
    keys = _micros(epoch, fraction)
    mask = pa.array(~valid) if not valid.all() else None
    e = np.asarray(epoch, dtype=np.int64)
    # fakesnow keeps microseconds; the nanoseconds a test registered are added back.
    f = (np.asarray(fraction, dtype=np.int64) // 1000) * 1000 + _lookup(
        keys, extras.nanos.get(field.name), 0
    )
    # Digits past the column's scale are not stored by the service.
    f = (f // 10 ** (9 - scale)) * 10 ** (9 - scale)
    if logical in _TS_TYPES:
        if scale <= ONE_FIELD_MAX_SCALE:
            ints = e * 10**scale + f // 10 ** (9 - scale)
            out = pa.array(ints, type=pa.int64(), mask=mask)
            return out, field.with_type(pa.int64()).with_metadata(meta)
        children = [pa.array(e, pa.int64()), pa.array(f, pa.int32())]
        names = ["epoch", "fraction"]
    else:  # TIMESTAMP_TZ: epoch is the UTC instant, timezone = offset minutes + 1440
        tz = np.full(len(arr), UTC_TIMEZONE_INDEX, dtype=np.int64)
        if "timezone" in [arr.type.field(i).name for i in range(arr.type.num_fields)]:
            tz = np.asarray(arr.field("timezone").fill_null(UTC_TIMEZONE_INDEX), dtype=np.int64)
        if offsets := extras.offsets.get(field.name):
            tz = _lookup(keys, offsets, 0) + UTC_TIMEZONE_INDEX
        tz32 = pa.array(tz, pa.int32())
        if scale <= TZ_ONE_FIELD_MAX_SCALE:
            children = [pa.array(e * 10**scale + f // 10 ** (9 - scale)), tz32]
            names = ["epoch", "timezone"]
            meta["byteLength"] = "8"
        else:
            children = [pa.array(e, pa.int64()), pa.array(f, pa.int32()), tz32]
            names = ["epoch", "fraction", "timezone"]
            meta["byteLength"] = "16"
    fields = [pa.field(n, c.type, nullable=False) for n, c in zip(names, children, strict=True)]
    out = pa.StructArray.from_arrays(children, fields=fields, mask=mask)
    return out, field.with_type(out.type).with_metadata(meta)


def encode_time(
    arr: pa.Array, field: pa.Field, nanos: Mapping[int, int] | None = None
) -> tuple[pa.Array, pa.Field]:
    """TIME(s): an integer of value x 10^s (``convertTimeColumn_nanoarrow``); fakesnow sends ns,
    truncated to microseconds, and the nanoseconds a test registered are added back."""
    meta = _meta(field)
    scale = int(meta.get("scale") or 9)
    meta["scale"] = str(scale)
    if nanos:
        ns = arr.cast(pa.int64())
        micros = np.asarray(ns.fill_null(0), dtype=np.int64) // 1000
        full = micros * 1000 + _lookup(micros, nanos, 0)
        mask = np.asarray(ns.is_null()) if ns.null_count else None
        arr = pa.array(full, pa.int64(), mask=mask)
    ints = pc.divide(arr.cast(pa.int64()), 10 ** (9 - scale)) if scale < 9 else arr
    typ = pa.int32() if scale <= 4 else pa.int64()
    out = ints.cast(typ)
    return out, field.with_type(typ).with_metadata(meta)


def encode_batch(batch: pa.RecordBatch, extras: Extras | None = None) -> pa.RecordBatch:
    """One result chunk in the service's encoding."""
    extras = extras or Extras()
    arrays: list[pa.Array] = []
    fields: list[pa.Field] = []
    for i, field in enumerate(batch.schema):
        arr = batch.column(i)
        logical = _meta(field).get("logicalType", "")
        if logical == "FIXED":
            arr, field = encode_fixed(arr, field, extras.numbers.get(field.name))
        elif logical.startswith("TIMESTAMP_"):
            arr, field = encode_timestamp(arr, field, extras)
        elif logical == "TIME":
            arr, field = encode_time(arr, field, extras.nanos.get(field.name))
        arrays.append(arr)
        fields.append(field)
    return pa.RecordBatch.from_arrays(arrays, schema=pa.schema(fields))


def split_rows(table: pa.Table, chunk_bytes: int) -> list[pa.RecordBatch]:
    """The result as chunks of about ``chunk_bytes`` (in fakesnow's encoding), at least one row."""
    table = table.combine_chunks()
    if table.num_rows == 0:
        return [pa.RecordBatch.from_pylist([], schema=table.schema)]
    per_row = max(1, table.nbytes // max(1, table.num_rows))
    rows = max(1, chunk_bytes // per_row)
    return [table.slice(i, rows).to_batches()[0] for i in range(0, table.num_rows, rows)]


def to_ipc(batch: pa.RecordBatch) -> bytes:
    """One chunk as an Arrow IPC stream with its own schema, as every chunk of the service is."""
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, batch.schema) as writer:
        writer.write_batch(batch)
    return bytes(sink.getvalue().to_pybytes())


def from_ipc(data: bytes) -> pa.Table:
    return pa.ipc.open_stream(pa.BufferReader(data)).read_all()
