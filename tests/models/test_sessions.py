"""Session helpers that need no weights: pre/post-processing and running a graph at another size."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

from alphacdn.models import MODELS
from alphacdn.models.registry import Output, Preprocess, Resize, Scaling
from alphacdn.models.sessions import _at_size, model_alpha, model_input


def _upsample_like_isnet(path: Path) -> None:
    """X → MaxPool /2 → Resize to the constant [64, 64] (IS-Net's exported upsample pattern)."""
    const = lambda name, v: helper.make_node(  # noqa: E731
        "Constant", [], [name], value=numpy_helper.from_array(np.array(v, np.int64))
    )
    nodes = [
        helper.make_node("MaxPool", ["x"], ["p"], kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("Shape", ["p"], ["shape"]),
        const("start", [0]),
        const("end", [2]),
        helper.make_node("Slice", ["shape", "start", "end"], ["nc"]),
        const("hw", [64, 64]),
        helper.make_node("Concat", ["nc", "hw"], ["sizes"], axis=0),
        helper.make_node("Resize", ["p", "", "", "sizes"], ["y"], mode="linear"),
    ]
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, 64, 64])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 1, 64, 64])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(path))


def test_graph_runs_at_another_size(tmp_path: Path) -> None:
    path = tmp_path / "tiny.onnx"
    _upsample_like_isnet(path)
    session = ort.InferenceSession(_at_size(path, 64, 32), providers=["CPUExecutionProvider"])
    (y,) = session.run(None, {"x": np.ones((1, 1, 32, 32), np.float32)})
    assert y.shape == (1, 1, 32, 32)


def test_isnet_input_is_centred_and_scaled() -> None:
    rgb = np.full((10, 20, 3), 255, np.uint8)
    x = model_input(rgb, MODELS["isnet-768"])
    assert x.shape == (1, 3, 768, 768) and x.dtype == np.float32
    assert np.allclose(x, (255 - 128) / 256)


def test_outputs_become_alpha() -> None:
    pre = Preprocess(Resize.BILINEAR, Scaling.UNIT, (0.5,) * 3, (1.0,) * 3, output=Output.AUTO)
    logits = np.array([[[[-20.0, 0.0, 20.0]]]], np.float32)
    assert np.allclose(model_alpha(logits, pre), [[0.0, 0.5, 1.0]], atol=1e-6)
    minmax = Preprocess(
        Resize.LANCZOS, Scaling.IMAGE_MAX, (0,) * 3, (1,) * 3, output=Output.MIN_MAX
    )
    assert np.allclose(model_alpha(np.array([[2.0, 3.0, 4.0]]), minmax), [[0.0, 0.5, 1.0]])
