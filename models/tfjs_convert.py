"""Convert a TFJS graph model (`model.json` + weights `.bin`) to ONNX, without TensorFlow.

Used once, at install, for the `centernet-coco` detector. Supports the ops in `detect_tfjs_ops.OPS`
(what TFJS's converter emits for MobileNet-style detectors: fused convolutions with BiasAdd and
Relu/Relu6, pools, bilinear resizes, concat, reductions, and the TopK/Gather post-processing),
float16- and uint8/uint16-quantised weights. Tensor names keep TF's `name:index` form, so the
converted detector has input `tower_0/images:0` and output `tower_0/detections:0`.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any, Literal

import numpy as np
import onnx
from onnx import TensorProto, helper

from .detect_tfjs_graph import TF_DTYPES, Array, GraphBuilder, TfNode, UnsupportedGraph
from .detect_tfjs_ops import OPS

__all__ = ["CondBranch", "UnsupportedGraph", "convert_tfjs_graph", "load_tfjs_weights"]

OPSET = 13
CondBranch = Literal["then", "else"]
_STORED = {
    "float32": np.float32,
    "int32": np.int32,
    "bool": np.bool_,
    "float16": np.float16,
    "uint8": np.uint8,
    "uint16": np.uint16,
}


def convert_tfjs_graph(
    model_json: Path, weights_bin: Path, out_onnx: Path, *, cond_branch: CondBranch | None = None
) -> None:
    """Convert the TFJS graph model to an ONNX file (written atomically) and check it.

    `cond_branch` chooses the branch of every `tf.cond` (Switch/Merge) the graph holds: ONNX
    graphs here are straight-line, so a graph with conditionals converts to one of its paths.
    """
    spec = json.loads(Path(model_json).read_text())
    if spec.get("format", "graph-model") != "graph-model":
        raise UnsupportedGraph(f"{model_json}: not a TFJS graph model")
    weights = load_tfjs_weights(spec["weightsManifest"], Path(weights_bin))
    model = build_onnx(spec, weights, cond_branch=cond_branch)
    onnx.checker.check_model(model, full_check=True)
    out_onnx = Path(out_onnx)
    out_onnx.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=out_onnx.parent, prefix=out_onnx.name, suffix=".tmp")
    os.close(fd)
    try:
        onnx.save_model(model, tmp)
        os.chmod(tmp, 0o644)  # mkstemp makes it private; the file is a plain artefact
        os.replace(tmp, out_onnx)
    finally:
        Path(tmp).unlink(missing_ok=True)


def load_tfjs_weights(manifest: list[dict[str, Any]], weights_bin: Path) -> dict[str, Array]:
    """Decode every weight of the manifest to numpy (dequantised to its original dtype).

    `weights_bin` is the single shard of a one-file model; with several shards, each path of the
    manifest is read next to it.
    """
    paths = [p for group in manifest for p in group["paths"]]
    out: dict[str, Array] = {}
    for group in manifest:
        if len(paths) == 1:
            buffer = weights_bin.read_bytes()
        else:
            buffer = b"".join((weights_bin.parent / p).read_bytes() for p in group["paths"])
        offset = 0
        for entry in group["weights"]:
            array, offset = _decode(entry, buffer, offset)
            out[entry["name"]] = array
        if offset != len(buffer):
            raise UnsupportedGraph(f"weights: {len(buffer) - offset} bytes left over")
    return out


def _decode(entry: dict[str, Any], buffer: bytes, offset: int) -> tuple[Array, int]:
    shape = tuple(int(d) for d in entry["shape"])
    count = int(np.prod(shape, dtype=np.int64))
    quant = entry.get("quantization")
    stored = quant["dtype"] if quant else entry["dtype"]
    if stored not in _STORED:
        raise UnsupportedGraph(f"{entry['name']}: weight dtype {stored}")
    raw: Array = np.frombuffer(buffer, _STORED[stored], count, offset)
    offset += raw.nbytes
    if quant and stored in ("uint8", "uint16"):
        raw = raw.astype(np.float32) * np.float32(quant["scale"]) + np.float32(quant["min"])
    return raw.astype(_STORED[entry["dtype"]]).reshape(shape), offset


def _inline_const(node: TfNode) -> Array:
    tensor = node.attr.get("value", {}).get("tensor", {})
    for key, dtype in (("floatVal", np.float32), ("intVal", np.int32), ("boolVal", np.bool_)):
        if key in tensor:
            dims = [int(d["size"]) for d in tensor.get("tensorShape", {}).get("dim", [])]
            return np.asarray(tensor[key], dtype).reshape(dims)
    raise UnsupportedGraph(f"{node.name}: constant without weights")


def _dims(shape: dict[str, Any]) -> list[int | str]:
    dims = [int(d.get("size", -1)) for d in shape.get("dim", [])]
    return [d if d >= 0 else f"d{i}" for i, d in enumerate(dims)]


def build_onnx(
    spec: dict[str, Any], weights: dict[str, Array], *, cond_branch: CondBranch | None = None
) -> onnx.ModelProto:
    """Translate the parsed TFJS graph to an ONNX model (opset 13)."""
    nodes = [TfNode.from_json(raw) for raw in spec["modelTopology"]["node"]]
    # older converters put the signature under `userDefinedMetadata` (BlazeFace)
    signature = spec.get("signature") or spec.get("userDefinedMetadata", {}).get("signature", {})
    outputs = signature.get("outputs", {})
    # ONNX output name → TF tensor ref: the signature's key, unless it names the tensor itself
    wanted: dict[str, tuple[str, dict[str, Any]]] = {}
    for key, sig in outputs.items():
        ref = str(sig.get("name", key))
        ref = ref if ":" in ref else f"{ref}:0"
        wanted[ref if ref.rsplit(":", 1)[0] == key or ":" in key else key] = (ref, sig)
    if not wanted:
        wanted[nodes[-1].ref()] = (nodes[-1].ref(), {})
    consts: dict[str, Array] = {}
    for n in nodes:
        if n.op == "Const":
            consts[n.ref()] = weights[n.name] if n.name in weights else _inline_const(n)
    b = GraphBuilder(consts, reserved=set(wanted))
    inputs = []
    dead_refs: set[str] = set()  # outputs of the branch of a tf.cond that is not taken
    dead_nodes: set[str] = set()

    def is_dead(ref: str) -> bool:
        return ref in dead_refs or ref.rsplit(":", 1)[0] in dead_nodes

    for n in nodes:
        if n.op in ("Const", "NoOp"):
            continue
        if n.op == "Merge":  # the one input that is alive is the cond's result
            live = [r for r in n.inputs if not is_dead(r)]
            if len(live) == 1:
                b.alias(n.ref(), live[0])
            elif not live:
                dead_nodes.add(n.name)
            # several live inputs: a merge used only as a control edge (`branch_executed`),
            # left undefined so that a data use of it fails to convert
            continue
        if any(is_dead(r) for r in n.inputs):
            dead_nodes.add(n.name)
            continue
        if n.op == "Switch":  # output 0 flows when the predicate is false, output 1 when true
            if cond_branch is None:
                raise UnsupportedGraph(f"{n.name}: the graph has tf.cond; choose cond_branch")
            taken = 1 if cond_branch == "then" else 0
            b.alias(n.ref(taken), n.inputs[0])
            dead_refs.add(n.ref(1 - taken))
        elif n.op == "Placeholder":
            shape = n.attr.get("shape", {}).get("shape", {})
            name = b.fresh(n.ref())
            dtype = TF_DTYPES[n.dtype("dtype")]
            # unknown rank (RVM's recurrent states and downsample ratio): a scalar here
            dims = _dims(shape)
            inputs.append(helper.make_tensor_value_info(name, dtype, dims))
            b.define(n.ref(), name, len(dims))
        elif n.op in OPS:
            OPS[n.op](b, n)
        else:
            raise UnsupportedGraph(f"{n.name}: op {n.op} is not supported")
    graph_outputs = []
    for out_name, (ref, sig) in wanted.items():
        b.nodes.append(helper.make_node("Identity", [b.get(ref)], [out_name], name=out_name))
        out_dims: list[int | str] | None = (
            _dims(sig["tensorShape"]) if "tensorShape" in sig else None
        )
        dtype = TF_DTYPES[sig["dtype"]] if "dtype" in sig else TensorProto.UNDEFINED
        graph_outputs.append(helper.make_tensor_value_info(out_name, dtype, out_dims))
    kept_nodes, kept_inits = _reachable(b.nodes, b.initializers, list(wanted))
    graph = helper.make_graph(kept_nodes, "tfjs", inputs, graph_outputs, kept_inits)
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", OPSET)],
        producer_name="alphacdn.models.tfjs_convert",
    )
    model.ir_version = 8
    return _fill_output_shapes(model)


def _reachable(
    nodes: list[onnx.NodeProto], inits: list[onnx.TensorProto], outputs: list[str]
) -> tuple[list[onnx.NodeProto], list[onnx.TensorProto]]:
    """The nodes and initializers the outputs depend on (a cond's predicate is not needed)."""
    producer = {o: i for i, node in enumerate(nodes) for o in node.output}
    needed: set[str] = set()
    keep: set[int] = set()
    stack = list(outputs)
    while stack:
        name = stack.pop()
        if name in needed:
            continue
        needed.add(name)
        index = producer.get(name)
        if index is not None and index not in keep:
            keep.add(index)
            stack.extend(i for i in nodes[index].input if i)
    return [n for i, n in enumerate(nodes) if i in keep], [t for t in inits if t.name in needed]


def _fill_output_shapes(model: onnx.ModelProto) -> onnx.ModelProto:
    """Give outputs the signature did not describe the type and shape onnx infers."""
    missing = [
        o
        for o in model.graph.output
        if not o.type.tensor_type.HasField("shape") or not o.type.tensor_type.elem_type
    ]
    if missing:
        inferred = onnx.shape_inference.infer_shapes(model, strict_mode=True)
        known = {v.name: v for v in [*inferred.graph.value_info, *inferred.graph.output]}
        for out in missing:
            producer = next(n for n in model.graph.node if out.name in n.output)
            source = known.get(producer.input[0])
            if source is not None and source.type.tensor_type.HasField("shape"):
                out.type.tensor_type.CopyFrom(source.type.tensor_type)
            else:
                raise UnsupportedGraph(f"cannot infer the shape of output {out.name}")
    return model
