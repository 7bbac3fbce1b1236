"""The TFJS → ONNX converter (per op, against numpy) and the detector (against goldens)."""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path
from typing import Any, Literal

import numpy as np
import onnxruntime as ort
import pytest

from alphacdn.models.detect_classes import (
    HINT_TO_COCO,
    classes_for_type,
    coco_class_of,
    hint_class,
    removebg_type,
)
from alphacdn.models.detect_resize import resize_bilinear
from alphacdn.models.detector import (
    Detection,
    Detector,
    decode,
    detections_from_json,
    detections_to_json,
    nms,
)
from alphacdn.models.tfjs_convert import UnsupportedGraph, convert_tfjs_graph

HERE = Path(__file__).resolve().parents[1] / "fixtures" / "detector"
UPDATE = os.environ.get("ALPHACDN_UPDATE_GOLDEN") == "1"
RNG = np.random.default_rng(7)


# -- a tiny TFJS graph writer ------------------------------------------------------------------


def _attr(value: Any) -> dict[str, Any]:
    if isinstance(value, bool):
        return {"b": value}
    if isinstance(value, int):
        return {"i": str(value)}
    if isinstance(value, float):
        return {"f": value}
    if isinstance(value, str):
        return (
            {"type": value}
            if value.startswith("DT_")
            else {"s": base64.b64encode(value.encode()).decode()}
        )
    if all(isinstance(v, str) for v in value):
        return {"list": {"s": [base64.b64encode(v.encode()).decode() for v in value]}}
    return {"list": {"i": [str(v) for v in value]}}


def _node(name: str, op: str, *inputs: str, **attr: Any) -> dict[str, Any]:
    return {
        "name": name,
        "op": op,
        "input": list(inputs),
        "attr": {k: _attr(v) for k, v in attr.items()},
    }


def _run(
    tmp: Path,
    nodes: list[dict[str, Any]],
    consts: dict[str, np.ndarray],
    x: np.ndarray,
    outputs: list[str],
    quant: dict[str, dict[str, Any]] | None = None,
    cond_branch: Literal["then", "else"] | None = None,
) -> list[np.ndarray]:
    """Write a TFJS graph (input `x` as Placeholder `x`), convert it, run it with onnxruntime."""
    entries, blobs = [], []
    for name, value in consts.items():
        entry: dict[str, Any] = {
            "name": name,
            "shape": list(value.shape),
            "dtype": str(value.dtype),
        }
        q = (quant or {}).get(name)
        if q:
            entry["quantization"] = q
            stored = (
                value.astype(np.float16)
                if q["dtype"] == "float16"
                else np.round((value - q["min"]) / q["scale"]).astype(q["dtype"])
            )
            blobs.append(stored.tobytes())
        else:
            blobs.append(value.tobytes())
        entries.append(entry)
    dims = {"dim": [{"size": str(d)} for d in x.shape]}
    graph = [
        _node("x", "Placeholder", dtype="DT_FLOAT"),
        *[_node(n, "Const") for n in consts],
        *nodes,
    ]
    graph[0]["attr"]["shape"] = {"shape": dims}
    spec = {
        "format": "graph-model",
        "modelTopology": {"node": graph},
        "signature": {"outputs": {o: {"name": o} for o in outputs}},
        "weightsManifest": [{"paths": ["w.bin"], "weights": entries}],
    }
    (tmp / "m.json").write_text(json.dumps(spec))
    (tmp / "w.bin").write_bytes(b"".join(blobs))
    convert_tfjs_graph(tmp / "m.json", tmp / "w.bin", tmp / "m.onnx", cond_branch=cond_branch)
    session = ort.InferenceSession(str(tmp / "m.onnx"), providers=["CPUExecutionProvider"])
    return list(session.run([f"{o}:0" for o in outputs], {"x:0": x}))


def _conv_ref(x: np.ndarray, w: np.ndarray, stride: int, depthwise: bool) -> np.ndarray:
    """NHWC convolution with TF SAME padding (odd pixel at the end), by loops."""
    _, h, wd, cin = x.shape
    kh, kw = w.shape[:2]
    oh, ow = -(-h // stride), -(-wd // stride)
    ph, pw = max((oh - 1) * stride + kh - h, 0), max((ow - 1) * stride + kw - wd, 0)
    xp = np.pad(x, ((0, 0), (ph // 2, ph - ph // 2), (pw // 2, pw - pw // 2), (0, 0)))
    cout = cin * w.shape[3] if depthwise else w.shape[3]
    out = np.zeros((1, oh, ow, cout), np.float32)
    for i in range(oh):
        for j in range(ow):
            patch = xp[0, i * stride : i * stride + kh, j * stride : j * stride + kw]
            if depthwise:
                out[0, i, j] = np.einsum("hwc,hwcm->cm", patch, w).reshape(-1)
            else:
                out[0, i, j] = np.einsum("hwc,hwco->o", patch, w)
    return out


# -- converter, op by op -----------------------------------------------------------------------


def test_fused_convolutions_split_into_conv_bias_and_activation(tmp_path: Path) -> None:
    x = RNG.normal(size=(1, 7, 9, 3)).astype(np.float32)
    dw = RNG.normal(size=(3, 3, 3, 2)).astype(np.float32)  # channel multiplier 2
    dw_b = RNG.normal(size=6).astype(np.float32)
    pw = RNG.normal(size=(1, 1, 6, 4)).astype(np.float32)
    pw_b = RNG.normal(size=4).astype(np.float32)
    nodes = [
        _node("dw", "FusedDepthwiseConv2dNative", "x", "dw_w", "dw_b", strides=[1, 2, 2, 1],
              padding="SAME", data_format="NHWC", fused_ops=["BiasAdd", "Relu"]),
        _node("pw", "_FusedConv2D", "dw", "pw_w", "pw_b", strides=[1, 1, 1, 1], padding="VALID",
              data_format="NHWC", fused_ops=["BiasAdd"]),
        _node("r6", "Relu6", "pw"),
    ]  # fmt: skip
    (out,) = _run(tmp_path, nodes, {"dw_w": dw, "dw_b": dw_b, "pw_w": pw, "pw_b": pw_b}, x, ["r6"])
    hidden = np.maximum(_conv_ref(x, dw, 2, depthwise=True) + dw_b, 0)
    want = np.clip(_conv_ref(hidden, pw, 1, depthwise=False) + pw_b, 0, 6)
    assert out.shape == (1, 4, 5, 4)
    np.testing.assert_allclose(out, want, atol=1e-4)


def test_layout_follows_through_squeeze_excite_concat_resize_and_reshape(tmp_path: Path) -> None:
    x = RNG.uniform(size=(1, 4, 6, 2)).astype(np.float32)
    k = RNG.normal(size=(1, 1, 2, 2)).astype(np.float32)
    consts = {
        "k": k,
        "axes": np.array([1, 2], np.int32),
        "caxis": np.array(-1, np.int32),
        "size": np.array([8, 12], np.int32),
        "shape": np.array([1, -1], np.int32),
        "half": np.array([0.5, 2.0], np.float32),
    }
    nodes = [
        _node("c", "Conv2D", "x", "k", strides=[1, 1, 1, 1], padding="SAME", data_format="NHWC"),
        _node("m", "Mean", "c", "axes", keep_dims=True),
        _node("se", "Mul", "m", "c"),
        _node("sc", "Mul", "se", "half"),  # a per-channel constant next to an NCHW tensor
        _node("cat", "ConcatV2", "sc", "c", "caxis", N=2),
        _node("up", "ResizeBilinear", "cat", "size", align_corners=False, half_pixel_centers=False),
        _node("flat", "Reshape", "up", "shape"),
    ]  # fmt: skip
    (out,) = _run(tmp_path, nodes, consts, x, ["flat"])
    c = _conv_ref(x, k, 1, depthwise=False)
    cat = np.concatenate([c * c.mean(axis=(1, 2), keepdims=True) * consts["half"], c], axis=-1)
    ys, xs = np.arange(8) * 4 / 8, np.arange(12) * 6 / 12  # TF1 "asymmetric" sampling
    y0, x0 = np.floor(ys).astype(int), np.floor(xs).astype(int)
    y1, x1 = np.minimum(y0 + 1, 3), np.minimum(x0 + 1, 5)
    wy, wx = (ys - y0)[:, None, None], (xs - x0)[None, :, None]
    img = cat[0]
    top = img[y0][:, x0] * (1 - wx) + img[y0][:, x1] * wx
    bottom = img[y1][:, x0] * (1 - wx) + img[y1][:, x1] * wx
    np.testing.assert_allclose(out, (top * (1 - wy) + bottom * wy).reshape(1, -1), atol=1e-5)


def test_post_processing_ops_topk_gather_slice_floordiv(tmp_path: Path) -> None:
    x = RNG.permutation(24).astype(np.float32).reshape(1, 2, 3, 4) - 12
    consts = {
        "shape": np.array([1, 24], np.int32),
        "k": np.array(5, np.int32),
        "three": np.array(3, np.int32),
        "minus": np.array(-7, np.int32),
        "table": np.arange(48, dtype=np.float32).reshape(24, 2),
        "ax": np.array(0, np.int32),
        "sq": np.array([0, 2], np.int32),
        "b": np.array([0, 1, 0], np.int32),
        "e": np.array([0, 2, 0], np.int32),
        "s": np.array([1, 1, 1], np.int32),
        "gshape": np.array([5], np.int32),
        "one": np.array(1, np.int32),
    }
    nodes = [
        _node("flat", "Reshape", "x", "shape"),
        _node("top", "TopKV2", "flat", "k", sorted=True),
        _node("idx", "Reshape", "top:1", "gshape"),
        _node("row", "FloorDiv", "top:1", "three", T="DT_INT32"),
        _node("col", "FloorMod", "top:1", "three", T="DT_INT32"),
        _node("neg", "FloorDiv", "top:1", "minus", T="DT_INT32"),
        _node("negmod", "FloorMod", "top:1", "minus", T="DT_INT32"),
        _node("g", "GatherV2", "table", "idx", "ax", batch_dims=0),
        _node("g3", "ExpandDims", "g", "ax"),
        _node("sl", "StridedSlice", "g3", "b", "e", "s", begin_mask=5, end_mask=5),
        _node("pick", "StridedSlice", "g3", "b", "e", "s", begin_mask=5, end_mask=5,
              shrink_axis_mask=2),
        _node("f", "Cast", "col", DstT="DT_FLOAT", SrcT="DT_INT32"),
    ]  # fmt: skip
    got = _run(
        tmp_path, nodes, consts, x, ["top", "row", "col", "neg", "negmod", "sl", "pick", "f"]
    )
    flat = x.reshape(-1)
    order = np.argsort(-flat)[:5]
    np.testing.assert_array_equal(got[0], flat[order][None])
    np.testing.assert_array_equal(got[1], (order // 3)[None])
    np.testing.assert_array_equal(got[2], (order % 3)[None])
    np.testing.assert_array_equal(got[3], (order // -7)[None])  # Python floor semantics
    np.testing.assert_array_equal(got[4], (order % -7)[None])
    table = consts["table"][order][None]
    np.testing.assert_array_equal(got[5], table[:, 1:2, :])
    np.testing.assert_array_equal(got[6], table[:, 1, :])
    assert got[7].dtype == np.float32


@pytest.mark.parametrize(
    "quant",
    [
        {"dtype": "float16", "original_dtype": "float32"},
        {"dtype": "uint8", "min": -1.0, "scale": 2 / 255, "original_dtype": "float32"},
    ],
)
def test_quantised_weights_are_dequantised(tmp_path: Path, quant: dict[str, Any]) -> None:
    x = RNG.normal(size=(1, 3, 3, 2)).astype(np.float32)
    w = RNG.uniform(-1, 1, size=(1, 1, 2, 3)).astype(np.float32)
    nodes = [
        _node("c", "Conv2D", "x", "w", strides=[1, 1, 1, 1], padding="SAME", data_format="NHWC")
    ]
    (out,) = _run(tmp_path, nodes, {"w": w}, x, ["c"], quant={"w": quant})
    np.testing.assert_allclose(out, _conv_ref(x, w, 1, depthwise=False), atol=0.02)


def test_unsupported_op_is_named(tmp_path: Path) -> None:
    with pytest.raises(UnsupportedGraph, match="Erf"):
        _run(tmp_path, [_node("e", "Erf", "x")], {}, np.zeros((1, 2), np.float32), ["e"])


# -- pre/post-processing without weights -------------------------------------------------------


def test_resize_bilinear_keeps_constants_and_halves_by_averaging() -> None:
    flat = np.full((300, 200, 3), 77, np.uint8)
    np.testing.assert_allclose(resize_bilinear(flat, 512, 512), 77, atol=1e-4)
    ramp = np.tile(np.arange(8, dtype=np.uint8)[None, :, None], (2, 1, 1))
    np.testing.assert_allclose(resize_bilinear(ramp, 4, 1)[0, :, 0], [0.5, 2.5, 4.5, 6.5])
    big = RNG.integers(0, 255, size=(4000, 3000, 3), dtype=np.uint8)
    assert resize_bilinear(big, 512, 512).shape == (512, 512, 3)


def test_decode_maps_boxes_back_and_runs_per_class_nms() -> None:
    raw = np.array(
        [
            [10, 20, 110, 220, 0.9, 16],
            [12, 22, 108, 218, 0.6, 16],
            [12, 22, 108, 218, 0.5, 15],
            [0, 0, 5, 5, 0.1, 2],
        ],
        np.float32,
    )
    dets = decode(raw, scale=(2.0, 0.5), offset=(10, 20), size=(300, 100), threshold=0.3)
    assert [(d.coco_class, d.score) for d in dets] == [("dog", 0.9), ("cat", 0.5)]
    assert dets[0].box == (0.0, 0.0, 200.0, 100.0)  # clipped to the source size
    assert dets[0].hint_class == "dog"
    assert detections_from_json(detections_to_json(dets)) == dets
    same = [
        Detection((0, 0, 10, 10), 0.5, "car", "car"),
        Detection((0, 0, 10, 9), 0.6, "car", "car"),
    ]
    assert nms(same) == [same[1]]


def test_class_vocabularies() -> None:
    assert len(HINT_TO_COCO) == 20
    assert hint_class("couch") == "sofa" and hint_class("motorcycle") == "motorbike"
    assert hint_class("dining table") == "dining-table" and hint_class("kite") is None
    assert coco_class_of("potted-plant") == "potted plant" and coco_class_of("Couch") == "couch"
    assert coco_class_of("dining_table") == "dining table" and coco_class_of("lion") is None
    assert [removebg_type(c) for c in ("person", "cat", "truck", "bus", "cup")] == [
        "person",
        "animal",
        "car",
        "transportation",
        "product",
    ]
    assert classes_for_type("auto") is None and "giraffe" in (classes_for_type("animal") or ())
    with pytest.raises(ValueError):
        classes_for_type("robot")


def test_detector_missing_model_says_how_to_fix(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="fetch-models"):
        Detector(tmp_path / "nope.onnx")


# -- the real detector (weights from `alphacdn fetch-models --for-tests`) ----------------------


@pytest.fixture(scope="module")
def model_path(models_dir: Path) -> Path:
    path = models_dir / "centernet-coco.onnx"
    assert path.is_file(), f"{path} is missing: run `alphacdn fetch-models --for-tests`"
    return path


@pytest.fixture(scope="module")
def detector(model_path: Path) -> Detector:
    return Detector(model_path, threads=2)


def _fixture_rgb() -> np.ndarray:
    import pyvips

    image = pyvips.Image.new_from_file(str(HERE / "dog-bike-256.png"))
    return np.ndarray(buffer=image.write_to_memory(), dtype=np.uint8, shape=(192, 256, 3))


@pytest.mark.model
def test_converted_graph_matches_tfjs_reference(model_path: Path) -> None:
    ref = json.loads((HERE / "tfjs-reference.json").read_text())
    x = np.full((1, 512, 512, 3), 114, np.float32)
    x[0, 64:448] = _fixture_rgb().repeat(2, axis=0).repeat(2, axis=1)
    session = ort.InferenceSession(str(model_path), providers=["CPUExecutionProvider"])
    names = ["tower_0/detections:0", "tower_0/keypoints:0", "tower_0/wh:0"]
    raw, heat, wh = (a[0] for a in session.run(names, {"tower_0/images:0": x}))
    # the whole heat map and size head, not only the peaks that survive TopK
    np.testing.assert_allclose(heat.max(axis=(0, 1)), ref["keypoints_class_max"], atol=1e-4)
    np.testing.assert_allclose(wh.mean(axis=(0, 1)), ref["wh_mean"], atol=1e-2)
    want = np.array(ref["detections"], np.float32)
    strong = want[want[:, 4] >= 0.1]
    assert len(strong) >= 5
    for row in strong:  # each reference peak is found with the same class, box and score
        same = raw[(raw[:, 5] == row[5]) & (np.abs(raw[:, :4] - row[:4]).max(axis=1) < 0.5)]
        assert len(same) == 1, f"reference detection {row.tolist()} not reproduced"
        assert abs(same[0, 4] - row[4]) < 2e-3


@pytest.mark.model
@pytest.mark.parametrize("letterbox", [False, True])
def test_detections_on_fixture_match_golden(detector: Detector, letterbox: bool) -> None:
    golden_path = HERE / "golden-detections.json"
    key = "letterboxed" if letterbox else "plain"
    dets = detector.detect(_fixture_rgb(), letterbox=letterbox)
    golden = json.loads(golden_path.read_text()) if golden_path.is_file() else {}
    if UPDATE:
        golden[key] = json.loads(detections_to_json(dets))
        rows = {
            k: "[\n  " + ",\n  ".join(json.dumps(d) for d in v) + "\n ]" for k, v in golden.items()
        }
        golden_path.write_text(
            "{\n" + ",\n".join(f' "{k}": {v}' for k, v in rows.items()) + "\n}\n"
        )
    want = detections_from_json(json.dumps(golden[key]))
    assert {d.coco_class for d in want} >= {"dog", "bicycle", "car"}
    assert sorted(d.coco_class for d in dets) == sorted(d.coco_class for d in want)
    for w in want:
        close = [
            d
            for d in dets
            if d.coco_class == w.coco_class
            and max(abs(a - b) for a, b in zip(d.box, w.box, strict=True)) <= 3
        ]
        assert close and abs(close[0].score - w.score) < 0.02, f"{w} not reproduced in {dets}"
