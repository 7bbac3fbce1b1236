"""TF op → ONNX node(s): one function per TF op type, collected in `OPS`.

Spatial ops (convolutions, pools, resizes) read and write NCHW; elementwise ops follow whatever
layout their activation inputs are in; shape-bound ops (Reshape, TopK, Gather, StridedSlice…)
take NHWC, so the builder transposes back in front of them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from onnx import TensorProto

from .detect_tfjs_graph import (
    NHWC_AXIS_IN_NCHW,
    TF_DTYPES,
    TO_NCHW,
    GraphBuilder,
    TfNode,
    UnsupportedGraph,
)

Converter = Callable[[GraphBuilder, TfNode], None]
OPS: dict[str, Converter] = {}

_BINARY = {"Add": "Add", "AddV2": "Add", "Mul": "Mul", "Sub": "Sub", "RealDiv": "Div",
           "Maximum": "Max", "Minimum": "Min", "Equal": "Equal", "Greater": "Greater",
           "Less": "Less", "Pow": "Pow"}  # fmt: skip
_UNARY = {"Relu": "Relu", "Sigmoid": "Sigmoid", "Tanh": "Tanh", "Exp": "Exp", "Log": "Log",
          "Sqrt": "Sqrt", "Neg": "Neg", "Abs": "Abs", "Floor": "Floor", "Elu": "Elu"}  # fmt: skip
_INT_MAX = np.iinfo(np.int64).max


def _register(*names: str) -> Callable[[Converter], Converter]:
    def wrap(fn: Converter) -> Converter:
        for name in names:
            OPS[name] = fn
        return fn

    return wrap


def _activation(b: GraphBuilder, kind: str, x: str, hint: str, node: TfNode) -> str:
    if kind == "Relu6":
        return _relu6(b, x, hint)
    if kind == "LeakyRelu":
        return b.emit("LeakyRelu", [x], hint, alpha=node.float("leakyrelu_alpha", 0.2))[0]
    if kind in _UNARY:
        return b.emit(_UNARY[kind], [x], hint)[0]
    raise UnsupportedGraph(f"{node.name}: fused activation {kind}")


def _relu6(b: GraphBuilder, x: str, hint: str) -> str:
    lo = b.initializer(np.array(0.0, np.float32), hint + "/min")
    hi = b.initializer(np.array(6.0, np.float32), hint + "/max")
    return b.emit("Clip", [x, lo, hi], hint)[0]


def _window(node: TfNode, key: str) -> list[int]:
    if node.text("data_format", "NHWC") != "NHWC":
        raise UnsupportedGraph(f"{node.name}: only NHWC graphs are supported")
    values = node.ints(key, (1, 1, 1, 1))
    return [values[1], values[2]]


def _padding(node: TfNode) -> dict[str, Any]:
    mode = node.text("padding", "VALID")
    if mode == "SAME":  # TF puts the odd pixel at the end, as ONNX SAME_UPPER does
        return {"auto_pad": "SAME_UPPER"}
    if mode == "VALID":
        return {"auto_pad": "VALID"}
    if mode == "EXPLICIT":
        p = node.ints("explicit_paddings")
        return {"pads": [p[2], p[4], p[3], p[5]]}
    raise UnsupportedGraph(f"{node.name}: padding {mode}")


@_register("Conv2D", "_FusedConv2D", "DepthwiseConv2dNative", "FusedDepthwiseConv2dNative")
def _conv(b: GraphBuilder, n: TfNode) -> None:
    kernel = b.const(n.inputs[1]).astype(np.float32)
    kh, kw, cin, cout = kernel.shape
    group = 1
    if "Depthwise" in n.op:  # [kh, kw, in, mult] → [in*mult, 1, kh, kw], one group per input
        weights = kernel.reshape(kh, kw, cin * cout).transpose(2, 0, 1)[:, None]
        group = cin
    else:  # [kh, kw, in, out] → [out, in, kh, kw]
        weights = kernel.transpose(3, 2, 0, 1)
    dilations = _window(n, "dilations")
    if n.inputs[0] in b.dilated:  # SpaceToBatchND → conv → BatchToSpaceND: one dilated conv
        if n.text("padding", "VALID") != "VALID":
            raise UnsupportedGraph(f"{n.name}: space-to-batch convolution that is not VALID")
        dilations = list(b.dilated[n.inputs[0]])
    inputs = [b.get(n.inputs[0], nchw=True), b.initializer(weights, n.name + "/W")]
    fused = list(n.texts("fused_ops"))
    if fused and fused[0] == "BiasAdd":
        fused.pop(0)
        bias = b.const(n.inputs[2]).astype(np.float32).reshape(-1)
        inputs.append(b.initializer(bias, n.name + "/B"))
    out = b.emit(
        "Conv",
        inputs,
        n.name,
        strides=_window(n, "strides"),
        dilations=dilations,
        group=group,
        **_padding(n),
    )[0]
    for kind in fused:
        out = _activation(b, kind, out, f"{n.name}/{kind}", n)
    b.define(n.ref(), out, 4, nchw=True)


@_register("MaxPool", "AvgPool")
def _pool(b: GraphBuilder, n: TfNode) -> None:
    op = "MaxPool" if n.op == "MaxPool" else "AveragePool"
    x = b.get(n.inputs[0], nchw=True)
    kernel, strides = _window(n, "ksize"), _window(n, "strides")
    out = b.emit(op, [x], n.name, kernel_shape=kernel, strides=strides, **_padding(n))[0]
    b.define(n.ref(), out, 4, nchw=True)


@_register("ResizeBilinear", "ResizeNearestNeighbor")
def _resize(b: GraphBuilder, n: TfNode) -> None:
    x = b.get(n.inputs[0], nchw=True)
    if b.is_const(n.inputs[1]):
        hw = b.int64(b.const(n.inputs[1]).astype(np.int64).reshape(2), n.name + "/hw")
    else:  # a size computed in the graph (int32)
        hw = b.emit("Cast", [b.get(n.inputs[1])], n.name + "/hw", to=TensorProto.INT64)[0]
    shape = b.emit("Shape", [x], n.name + "/shape")[0]
    nc = b.emit("Slice", [shape, b.int64([0], "zero"), b.int64([2], "two")], n.name + "/nc")[0]
    sizes = b.emit("Concat", [nc, hw], n.name + "/sizes", axis=0)[0]
    attrs: dict[str, Any] = {"mode": "linear" if n.op == "ResizeBilinear" else "nearest"}
    if n.flag("align_corners"):
        attrs.update(
            coordinate_transformation_mode="align_corners", nearest_mode="round_prefer_ceil"
        )
    elif n.flag("half_pixel_centers"):
        nn_mode = "half_pixel" if n.op == "ResizeBilinear" else "tf_half_pixel_for_nn"
        attrs.update(coordinate_transformation_mode=nn_mode, nearest_mode="floor")
    else:  # TF1 default: source = destination * scale, no half-pixel offset
        attrs.update(coordinate_transformation_mode="asymmetric", nearest_mode="floor")
    out = b.emit("Resize", [x, "", "", sizes], n.name, **attrs)[0]
    b.define(n.ref(), out, 4, nchw=True)


def _elementwise_layout(b: GraphBuilder, refs: tuple[str, ...]) -> tuple[list[str], bool, int]:
    nchw = any(b.is_nchw(r) for r in refs)
    ranks = [b.rank(r) for r in refs]
    rank = max((r for r in ranks if r is not None), default=0)
    for ref, r in zip(refs, ranks, strict=True):
        if nchw and not b.is_const(ref) and r not in (0, 4):
            raise UnsupportedGraph(f"{ref}: rank-{r} operand next to an NCHW tensor")
    return [b.get(r, nchw=nchw) for r in refs], nchw, rank


@_register(*_BINARY)
def _binary(b: GraphBuilder, n: TfNode) -> None:
    ins, nchw, rank = _elementwise_layout(b, n.inputs[:2])
    b.define(n.ref(), b.emit(_BINARY[n.op], ins, n.name)[0], rank, nchw=nchw)


@_register(*_UNARY, "Relu6", "LeakyRelu")
def _unary(b: GraphBuilder, n: TfNode) -> None:
    x = b.get(n.inputs[0], nchw=b.is_nchw(n.inputs[0]))
    out = _activation(b, n.op, x, n.name, n)
    b.define(n.ref(), out, b.rank(n.inputs[0]), nchw=b.is_nchw(n.inputs[0]))


@_register("FloorDiv", "FloorMod")
def _floor_div_mod(b: GraphBuilder, n: TfNode) -> None:
    (x, y), nchw, rank = _elementwise_layout(b, n.inputs[:2])
    if n.dtype() == "DT_FLOAT":
        quotient = b.emit("Floor", [b.emit("Div", [x, y], n.name + "/div")[0]], n.name + "/q")[0]
        if n.op == "FloorDiv":
            out = quotient
        else:
            out = b.emit("Sub", [x, b.emit("Mul", [quotient, y], n.name + "/qy")[0]], n.name)[0]
    else:  # integer Mod with fmod=0 takes the divisor's sign (Python/TF floor semantics)
        mod = b.emit("Mod", [x, y], n.name + ("/mod" if n.op == "FloorDiv" else ""), fmod=0)[0]
        out = mod
        if n.op == "FloorDiv":  # (x - x mod y) / y is exact, whatever the signs
            out = b.emit("Div", [b.emit("Sub", [x, mod], n.name + "/sub")[0], y], n.name)[0]
    b.define(n.ref(), out, rank, nchw=nchw)


@_register("Cast")
def _cast(b: GraphBuilder, n: TfNode) -> None:
    nchw = b.is_nchw(n.inputs[0])
    out = b.emit("Cast", [b.get(n.inputs[0], nchw=nchw)], n.name, to=TF_DTYPES[n.dtype("DstT")])
    b.define(n.ref(), out[0], b.rank(n.inputs[0]), nchw=nchw)


@_register("Identity", "StopGradient")
def _identity(b: GraphBuilder, n: TfNode) -> None:
    b.alias(n.ref(), n.inputs[0])


@_register("Mean", "Max", "Min")
def _reduce(b: GraphBuilder, n: TfNode) -> None:
    rank = b.rank(n.inputs[0]) or 0
    axes = [int(a) % rank for a in np.asarray(b.const(n.inputs[1])).reshape(-1)]
    keep = n.flag("keep_dims")
    nchw = keep and b.is_nchw(n.inputs[0])
    if nchw:
        axes = [NHWC_AXIS_IN_NCHW[a] for a in axes]
    out = b.emit(
        f"Reduce{n.op}", [b.get(n.inputs[0], nchw=nchw)], n.name, axes=axes, keepdims=int(keep)
    )
    b.define(n.ref(), out[0], rank if keep else rank - len(set(axes)), nchw=nchw)


@_register("ConcatV2")
def _concat(b: GraphBuilder, n: TfNode) -> None:
    refs = n.inputs[:-1]
    rank = b.rank(refs[0]) or 0
    axis = int(b.const(n.inputs[-1])) % rank
    nchw = rank == 4 and any(b.is_nchw(r) for r in refs)
    ins = [b.get(r, nchw=nchw) for r in refs]
    out = b.emit("Concat", ins, n.name, axis=NHWC_AXIS_IN_NCHW[axis] if nchw else axis)[0]
    b.define(n.ref(), out, rank, nchw=nchw)


@_register("Reshape")
def _reshape(b: GraphBuilder, n: TfNode) -> None:
    shape = b.const(n.inputs[1]).astype(np.int64).reshape(-1)
    out = b.emit("Reshape", [b.get(n.inputs[0]), b.int64(shape, n.name + "/shape")], n.name)[0]
    b.define(n.ref(), out, len(shape))


@_register("ExpandDims")
def _expand_dims(b: GraphBuilder, n: TfNode) -> None:
    axis = b.const(n.inputs[1]).astype(np.int64).reshape(1)
    out = b.emit("Unsqueeze", [b.get(n.inputs[0]), b.int64(axis, n.name + "/axes")], n.name)[0]
    b.define(n.ref(), out, (b.rank(n.inputs[0]) or 0) + 1)


@_register("TopKV2")
def _top_k(b: GraphBuilder, n: TfNode) -> None:
    k = b.const(n.inputs[1]).astype(np.int64).reshape(1)
    values, indices = b.emit(
        "TopK",
        [b.get(n.inputs[0]), b.int64(k, n.name + "/k")],
        n.name,
        n_out=2,
        axis=-1,
        largest=1,
        sorted=1,
    )
    rank = b.rank(n.inputs[0])
    b.define(n.ref(0), values, rank)  # TF returns int32 indices; ONNX int64
    b.define(n.ref(1), b.emit("Cast", [indices], n.name + "/i32", to=TensorProto.INT32)[0], rank)


@_register("GatherV2")
def _gather(b: GraphBuilder, n: TfNode) -> None:
    if n.int("batch_dims") != 0:
        raise UnsupportedGraph(f"{n.name}: GatherV2 with batch_dims")
    axis = int(b.const(n.inputs[2]))
    ins = [b.get(n.inputs[0]), b.get(n.inputs[1])]
    rank = (b.rank(n.inputs[0]) or 0) - 1 + (b.rank(n.inputs[1]) or 0)
    b.define(n.ref(), b.emit("Gather", ins, n.name, axis=axis)[0], rank)


@_register("StridedSlice")
def _strided_slice(b: GraphBuilder, n: TfNode) -> None:
    if n.int("ellipsis_mask") or n.int("new_axis_mask"):
        raise UnsupportedGraph(f"{n.name}: StridedSlice with ellipsis/new-axis masks")
    begin, end, steps = (b.const(r).astype(np.int64).reshape(-1) for r in n.inputs[1:4])
    begin_mask, end_mask, shrink = n.int("begin_mask"), n.int("end_mask"), n.int("shrink_axis_mask")
    starts, ends = [], []
    for axis, step in enumerate(steps):
        starts.append((0 if step > 0 else _INT_MAX) if begin_mask >> axis & 1 else begin[axis])
        if shrink >> axis & 1:
            ends.append(begin[axis] + 1 if begin[axis] != -1 else _INT_MAX)
        else:
            ends.append(
                (_INT_MAX if step > 0 else -_INT_MAX) if end_mask >> axis & 1 else end[axis]
            )
    axes = list(range(len(steps)))
    args = [b.get(n.inputs[0])] + [
        b.int64(v, f"{n.name}/{k}")
        for k, v in (("starts", starts), ("ends", ends), ("axes", axes), ("steps", steps))
    ]
    out = b.emit("Slice", args, n.name + ("/slice" if shrink else ""))[0]
    dropped = [a for a in axes if shrink >> a & 1]
    if dropped:
        out = b.emit("Squeeze", [out, b.int64(dropped, n.name + "/squeeze")], n.name)[0]
    b.define(n.ref(), out, (b.rank(n.inputs[0]) or 0) - len(dropped))


@_register("Pad", "PadV2", "MirrorPad")
def _pad(b: GraphBuilder, n: TfNode) -> None:
    """Constant (or reflect/edge) padding; paddings `[rank, 2]` in TF order, a constant."""
    pads = b.const(n.inputs[1]).astype(np.int64).reshape(-1, 2)
    rank = len(pads)
    nchw = rank == 4 and b.is_nchw(n.inputs[0])
    if nchw:
        pads = pads[[0, 3, 1, 2]]  # NHWC rows → NCHW
    args = [b.get(n.inputs[0], nchw=nchw), b.int64(pads.T.reshape(-1), n.name + "/pads")]
    mode = "constant"
    if n.op == "PadV2":
        args.append(b.get(n.inputs[2]))
    elif n.op == "MirrorPad":
        kind = n.text("mode", "REFLECT")
        if kind != "REFLECT":
            raise UnsupportedGraph(f"{n.name}: MirrorPad mode {kind}")
        mode = "reflect"
    b.define(n.ref(), b.emit("Pad", args, n.name, mode=mode)[0], rank, nchw=nchw)


@_register("Square")
def _square(b: GraphBuilder, n: TfNode) -> None:
    nchw = b.is_nchw(n.inputs[0])
    x = b.get(n.inputs[0], nchw=nchw)
    b.define(n.ref(), b.emit("Mul", [x, x], n.name)[0], b.rank(n.inputs[0]), nchw=nchw)


@_register("Shape")
def _shape(b: GraphBuilder, n: TfNode) -> None:
    """TF's (NHWC) shape, whatever order the value is held in; int32 unless asked otherwise."""
    ref = n.inputs[0]
    nchw = b.is_nchw(ref)
    out = b.emit("Shape", [b.get(ref, nchw=nchw)], n.name + "/shape")[0]
    if nchw:  # NCHW dims back in NHWC order
        out = b.emit("Gather", [out, b.int64([0, 2, 3, 1], "to_nhwc")], n.name + "/nhwc")[0]
    dtype = TF_DTYPES[n.dtype("out_type")] if "out_type" in n.attr else TensorProto.INT32
    b.define(n.ref(), b.emit("Cast", [out], n.name, to=dtype)[0], 1)


@_register("Pack")
def _pack(b: GraphBuilder, n: TfNode) -> None:
    axis = n.int("axis")
    if all(b.is_const(r) for r in n.inputs):
        b.consts[n.ref()] = np.stack([b.const(r) for r in n.inputs], axis=axis)
        return
    rank = b.rank(n.inputs[0])
    if rank is None:
        raise UnsupportedGraph(f"{n.name}: Pack of values of unknown rank")
    axes = b.int64([axis % (rank + 1)], n.name + "/axes")
    parts = [
        b.emit("Unsqueeze", [b.get(r), axes], f"{n.name}/{i}")[0] for i, r in enumerate(n.inputs)
    ]
    b.define(n.ref(), b.emit("Concat", parts, n.name, axis=axis % (rank + 1))[0], rank + 1)


@_register("SpaceToBatchND")
def _space_to_batch(b: GraphBuilder, n: TfNode) -> None:
    """Only as TF's atrous convolution: the convolution it feeds becomes a dilated one."""
    block = b.const(n.inputs[1]).astype(np.int64).reshape(-1)
    if block.shape != (2,):
        raise UnsupportedGraph(f"{n.name}: SpaceToBatchND over {block.shape} dims")
    b.alias(n.ref(), n.inputs[0])
    b.dilated[n.ref()] = (int(block[0]), int(block[1]))


@_register("BatchToSpaceND")
def _batch_to_space(b: GraphBuilder, n: TfNode) -> None:
    """The end of an atrous convolution (see SpaceToBatchND): the dilated conv's output as is."""
    b.alias(n.ref(), n.inputs[0])


def _split_axis(b: GraphBuilder, ref: str, axis: int) -> tuple[int, bool]:
    rank = b.rank(ref) or 0
    nchw = b.is_nchw(ref)
    axis %= rank
    return (NHWC_AXIS_IN_NCHW[axis] if nchw else axis), nchw


@_register("Split", "SplitV")
def _split(b: GraphBuilder, n: TfNode) -> None:
    if n.op == "Split":
        value, sizes, dim = n.inputs[1], None, n.inputs[0]
    else:
        value, sizes, dim = n.inputs[0], n.inputs[1], n.inputs[2]
    axis, nchw = _split_axis(b, value, int(b.const(dim)))
    count = n.int("num_split")
    args = [b.get(value, nchw=nchw)]
    if sizes is not None:
        split = b.const(sizes).astype(np.int64).reshape(-1)
        if (split < 0).any():
            raise UnsupportedGraph(f"{n.name}: SplitV with an inferred size")
        args.append(b.int64(split, n.name + "/split"))
    outs = b.emit("Split", args, n.name, n_out=count, axis=axis)
    for i, out in enumerate(outs):
        b.define(n.ref(i), out, b.rank(value), nchw=nchw)


@_register("BroadcastTo")
def _broadcast_to(b: GraphBuilder, n: TfNode) -> None:
    if b.is_const(n.inputs[1]):
        shape = b.int64(b.const(n.inputs[1]).astype(np.int64).reshape(-1), n.name + "/shape")
        rank = int(b.const(n.inputs[1]).size)
    else:
        shape = b.emit("Cast", [b.get(n.inputs[1])], n.name + "/shape", to=TensorProto.INT64)[0]
        rank = 4  # a shape vector computed in the graph: the decoders' [N, H, W, C]
    b.define(n.ref(), b.emit("Expand", [b.get(n.inputs[0]), shape], n.name)[0], rank)


@_register("Slice")
def _slice(b: GraphBuilder, n: TfNode) -> None:
    """TF Slice(begin, size): size −1 runs to the end; begin/size may be computed."""
    ref = n.inputs[0]
    nchw = b.is_nchw(ref)

    def vector(r: str, hint: str) -> str:
        if b.is_const(r):
            return b.int64(b.const(r).astype(np.int64).reshape(-1), hint)
        return b.emit("Cast", [b.get(r)], hint, to=TensorProto.INT64)[0]

    begin, size = vector(n.inputs[1], n.name + "/begin"), vector(n.inputs[2], n.name + "/size")
    if nchw:
        order = b.int64(list(TO_NCHW), "to_nchw_axes")
        begin = b.emit("Gather", [begin, order], n.name + "/begin_nchw")[0]
        size = b.emit("Gather", [size, order], n.name + "/size_nchw")[0]
    to_end = b.emit("Equal", [size, b.int64([-1], "minus_one")], n.name + "/to_end")[0]
    stop = b.emit("Add", [begin, size], n.name + "/stop")[0]
    ends = b.emit("Where", [to_end, b.int64([_INT_MAX], "int_max"), stop], n.name + "/ends")[0]
    out = b.emit("Slice", [b.get(ref, nchw=nchw), begin, ends], n.name)[0]
    b.define(n.ref(), out, b.rank(ref), nchw=nchw)


@_register("Squeeze")
def _squeeze(b: GraphBuilder, n: TfNode) -> None:
    dims = n.ints("squeeze_dims")
    args = [b.get(n.inputs[0])]
    rank = b.rank(n.inputs[0])
    if dims:
        args.append(b.int64(list(dims), n.name + "/axes"))
    out = b.emit("Squeeze", args, n.name)[0]
    b.define(n.ref(), out, None if rank is None or not dims else rank - len(dims))
