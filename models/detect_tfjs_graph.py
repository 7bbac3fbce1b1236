"""The ONNX graph under construction while a TFJS graph model is converted.

TensorFlow graphs are NHWC; ONNX convolutions, pools and resizes are NCHW. Rather than wrapping
every convolution in a pair of transposes, the builder records for each TF tensor whether its
ONNX value is held in NCHW order, and inserts a `Transpose` only where an op needs the other
order (a `Reshape` or `TopK` after the head, say). Constants are permuted in numpy instead.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
from onnx import NodeProto, TensorProto, helper, numpy_helper

Array = npt.NDArray[Any]

TO_NCHW = (0, 3, 1, 2)
TO_NHWC = (0, 2, 3, 1)
# Where NHWC axis i lives once the tensor is NCHW.
NHWC_AXIS_IN_NCHW = (0, 2, 3, 1)

TF_DTYPES: dict[str, int] = {
    "DT_FLOAT": TensorProto.FLOAT,
    "DT_INT32": TensorProto.INT32,
    "DT_INT64": TensorProto.INT64,
    "DT_BOOL": TensorProto.BOOL,
    "DT_HALF": TensorProto.FLOAT16,
    "DT_UINT8": TensorProto.UINT8,
}


class UnsupportedGraph(ValueError):
    """The TFJS graph uses an op, attribute or layout this converter does not handle."""


@dataclass(frozen=True, slots=True)
class TfNode:
    """One node of `modelTopology.node`, inputs normalised to `name:index` tensor refs."""

    name: str
    op: str
    inputs: tuple[str, ...]
    attr: dict[str, Any]

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> TfNode:
        refs = tuple(
            i if ":" in i else f"{i}:0" for i in raw.get("input", []) if not i.startswith("^")
        )
        return cls(raw["name"], raw["op"], refs, raw.get("attr", {}))

    def ref(self, index: int = 0) -> str:
        return f"{self.name}:{index}"

    def ints(self, key: str, default: tuple[int, ...] = ()) -> tuple[int, ...]:
        raw = self.attr.get(key, {}).get("list", {}).get("i")
        return tuple(int(v) for v in raw) if raw else default

    def int(self, key: str, default: int = 0) -> int:
        return int(self.attr.get(key, {}).get("i", default))

    def flag(self, key: str, default: bool = False) -> bool:
        return bool(self.attr.get(key, {}).get("b", default))

    def float(self, key: str, default: float = 0.0) -> float:
        return float(self.attr.get(key, {}).get("f", default))

    def text(self, key: str, default: str = "") -> str:
        raw = self.attr.get(key, {}).get("s")
        return base64.b64decode(raw).decode() if raw else default

    def texts(self, key: str) -> tuple[str, ...]:
        raw = self.attr.get(key, {}).get("list", {}).get("s", [])
        return tuple(base64.b64decode(s).decode() for s in raw)

    def dtype(self, key: str = "T") -> str:
        return str(self.attr.get(key, {}).get("type", "DT_FLOAT"))


@dataclass(slots=True)
class _Value:
    onnx_name: str
    rank: int | None
    nchw: bool


@dataclass
class GraphBuilder:
    """Collects ONNX nodes and initializers, and the layout of every converted TF tensor."""

    consts: dict[str, Array]
    reserved: set[str] = field(default_factory=set)
    nodes: list[NodeProto] = field(default_factory=list)
    initializers: list[TensorProto] = field(default_factory=list)
    _values: dict[str, _Value] = field(default_factory=dict)
    _names: set[str] = field(default_factory=set)
    _cache: dict[tuple[str, bool], str] = field(default_factory=dict)
    #: SpaceToBatchND outputs: the block of the dilated convolution they feed (TF's atrous conv)
    dilated: dict[str, tuple[int, int]] = field(default_factory=dict)

    def fresh(self, hint: str) -> str:
        """A tensor name not used yet (graph output names are reserved up front)."""
        name, n = hint, 0
        while name in self._names or name in self.reserved:
            n += 1
            name = f"{hint}__{n}"
        self._names.add(name)
        return name

    def is_const(self, ref: str) -> bool:
        return ref in self.consts

    def const(self, ref: str) -> Array:
        try:
            return self.consts[ref]
        except KeyError:
            raise UnsupportedGraph(f"{ref} must be a constant") from None

    def rank(self, ref: str) -> int | None:
        if ref in self.consts:
            return self.consts[ref].ndim
        return self._values[ref].rank

    def is_nchw(self, ref: str) -> bool:
        value = self._values.get(ref)
        return value is not None and value.nchw

    def define(self, ref: str, onnx_name: str, rank: int | None, *, nchw: bool = False) -> None:
        self._values[ref] = _Value(onnx_name, rank, nchw)

    def alias(self, ref: str, source: str) -> None:
        if source in self.consts:
            self.consts[ref] = self.consts[source]
        else:
            self._values[ref] = self._values[source]

    def initializer(self, value: Array, hint: str) -> str:
        name = self.fresh(hint)
        # not np.ascontiguousarray: it turns a scalar into a 1-vector
        value = value if value.flags.c_contiguous else value.copy(order="C")
        self.initializers.append(numpy_helper.from_array(value, name))
        return name

    def get(self, ref: str, *, nchw: bool = False) -> str:
        """The ONNX name of `ref` in the requested layout, transposing (once) if needed."""
        key = (ref, nchw)
        if key in self._cache:
            return self._cache[key]
        if ref in self.consts:
            value = self.consts[ref]
            if nchw and value.ndim > 0:
                value = value.reshape((1,) * (4 - value.ndim) + value.shape).transpose(TO_NCHW)
            name = self.initializer(value, ref + ("/nchw" if nchw else ""))
        else:
            held = self._values[ref]
            if held.nchw == nchw:
                return held.onnx_name
            if held.rank != 4:
                raise UnsupportedGraph(f"{ref}: cannot change layout of a rank-{held.rank} tensor")
            perm = TO_NCHW if nchw else TO_NHWC
            name = self.emit("Transpose", [held.onnx_name], ref + "/transposed", perm=perm)[0]
        self._cache[key] = name
        return name

    def emit(
        self, op_type: str, inputs: list[str], hint: str, n_out: int = 1, **attrs: Any
    ) -> list[str]:
        """Append one ONNX node; returns its output names."""
        outs = [self.fresh(hint if i == 0 else f"{hint}:{i}") for i in range(n_out)]
        self.nodes.append(helper.make_node(op_type, inputs, outs, name=outs[0], **attrs))
        return outs

    def int64(self, values: Array | list[int], hint: str) -> str:
        return self.initializer(np.asarray(values, dtype=np.int64), hint)
