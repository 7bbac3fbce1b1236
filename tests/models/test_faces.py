"""The face detector: the converter's Pad op, BlazeFace against TF.js, decoding, real photos."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest

from alphacdn.models import MODELS
from alphacdn.models import faces as faces_module
from alphacdn.models.faces import (
    INPUT_SIZE,
    Face,
    FaceDetector,
    anchors,
    decode_faces,
    faces_from_json,
    faces_to_json,
)
from alphacdn.models.fetch import is_verified

from .test_detector import RNG, _conv_ref, _node, _run

HERE = Path(__file__).resolve().parents[1] / "fixtures" / "faces"
E2E = Path(__file__).resolve().parents[1] / "fixtures" / "e2e"


def test_pad_keeps_layout_after_a_convolution(tmp_path: Path) -> None:
    x = RNG.uniform(size=(1, 4, 5, 2)).astype(np.float32)
    k = RNG.normal(size=(1, 1, 2, 3)).astype(np.float32)
    pads = np.array([[0, 0], [1, 2], [0, 1], [0, 3]], np.int32)  # channels too (BlazeFace)
    nodes = [
        _node("c", "Conv2D", "x", "k", strides=[1, 1, 1, 1], padding="VALID", data_format="NHWC"),
        _node("p", "Pad", "c", "pads"),
        _node("r", "Relu", "p"),
    ]  # fmt: skip
    (out,) = _run(tmp_path, nodes, {"k": k, "pads": pads}, x, ["r"])
    want = np.maximum(np.pad(_conv_ref(x, k, 1, depthwise=False), pads), 0)
    np.testing.assert_allclose(out, want, atol=1e-5)


def test_pad_on_a_plain_tensor(tmp_path: Path) -> None:
    x = RNG.uniform(size=(2, 3)).astype(np.float32)
    pads = np.array([[1, 0], [2, 1]], np.int32)
    (out,) = _run(tmp_path, [_node("p", "Pad", "x", "pads")], {"pads": pads}, x, ["p"])
    np.testing.assert_array_equal(out, np.pad(x, pads))


def test_anchors_follow_the_two_grids() -> None:
    a = anchors()
    assert a.shape == (896, 2)
    np.testing.assert_allclose(a[0], (1 / 32, 1 / 32))
    np.testing.assert_allclose(a[2], (3 / 32, 1 / 32))  # 2 anchors per 16×16 cell
    np.testing.assert_allclose(a[512], (1 / 16, 1 / 16))
    np.testing.assert_allclose(a[512 + 6], (3 / 16, 1 / 16))  # 6 per 8×8 cell


def test_decode_offsets_from_anchors_and_merges_overlaps() -> None:
    scores = np.full(896, -10.0, np.float32)
    regs = np.zeros((896, 16), np.float32)
    # two anchors of one 16×16 cell (centre 0.5 + 1/32) see one 64-pixel face
    for i, dx in ((2 * (8 * 16 + 8), 0.0), (2 * (8 * 16 + 8) + 1, 4.0)):
        scores[i] = 3.0
        regs[i, :4] = (dx, 0.0, 64.0, 64.0)
    scores[600], regs[600, :4] = 2.0, (0.0, 0.0, 32.0, 40.0)  # another face elsewhere
    scores[700] = -1.0  # below the threshold
    faces = decode_faces(scores, regs, threshold=0.6)
    assert len(faces) == 2
    centre = 8.5 / 16
    x1, y1, x2, y2 = faces[0].box
    assert abs((x1 + x2) / 2 - (centre + 2 / INPUT_SIZE)) < 1e-6  # the two boxes averaged
    assert abs((y1 + y2) / 2 - centre) < 1e-6 and abs(x2 - x1 - 0.25) < 1e-6
    assert faces[0].score == pytest.approx(1 / (1 + np.exp(-3.0)))
    assert faces[1].score < faces[0].score
    assert decode_faces(scores, regs, threshold=0.99) == []


def test_faces_json_round_trip() -> None:
    faces = [Face((1.5, 2.0, 30.0, 41.2), 0.91), Face((0.0, 0.0, 5.0, 5.0), 0.6)]
    assert faces_from_json(faces_to_json(faces)) == faces
    assert faces_from_json(faces_to_json([])) == []


def test_missing_model_says_how_to_fix(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="fetch-models blazeface"):
        FaceDetector(tmp_path / "nope.onnx")


# -- the real model (weights from `alphacdn fetch-models --for-tests`) -------------------------


@pytest.fixture(scope="module")
def model_path(models_dir: Path) -> Path:
    spec = MODELS["blazeface"]
    path = spec.file_path(models_dir)
    assert is_verified(spec, models_dir), f"{path}: run `alphacdn fetch-models --for-tests`"
    return path


@pytest.fixture(scope="module")
def detector(model_path: Path) -> FaceDetector:
    return FaceDetector(model_path)


def _rgb(path: Path) -> np.ndarray:
    import pyvips

    image = pyvips.Image.new_from_file(str(path)).colourspace("srgb")[0:3]
    return np.ndarray(
        buffer=image.write_to_memory(), dtype=np.uint8, shape=(image.height, image.width, 3)
    )


@pytest.mark.model
def test_converted_graph_matches_tfjs_reference(model_path: Path) -> None:
    ref = json.loads((HERE / "tfjs-reference.json").read_text())
    x = _rgb(HERE / "two-women-128.png").repeat(2, axis=0).repeat(2, axis=1)
    batch = (x.astype(np.float32) / 127.5 - 1.0)[None]
    session = ort.InferenceSession(str(model_path), providers=["CPUExecutionProvider"])
    s16, s8, r16, r8 = (
        a[0] for a in session.run(["Identity:0", "Identity_1:0", "Identity_2:0", "Identity_3:0"],
                                  {"input:0": batch})
    )  # fmt: skip
    scores = np.concatenate([s16[:, 0], s8[:, 0]])
    np.testing.assert_allclose(scores, ref["scores"], atol=2e-3, rtol=1e-4)
    regs = np.concatenate([r16, r8])[ref["top"]]
    np.testing.assert_allclose(regs, ref["regressions"], atol=2e-3)
    assert [int(i) for i in np.argsort(-scores)[:3]] == ref["top"][:3]


@pytest.mark.model
def test_two_faces_found_where_they_are(detector: FaceDetector) -> None:
    faces = detector.detect(_rgb(HERE / "two-women.jpg"))  # 320×480: faces at left and right
    assert len(faces) == 2, faces
    left, right = sorted(faces, key=lambda f: f.box[0])
    assert left.box[0] < 80 < left.box[2] and 200 < left.box[3] < 360
    assert right.box[0] > 160 and all(f.score > 0.8 for f in faces)


@pytest.mark.model
def test_no_face_in_a_car_photo(detector: FaceDetector) -> None:
    assert detector.detect(_rgb(E2E / "car-house.jpg")) == []


@pytest.mark.model
def test_single_face_of_a_landscape_portrait(detector: FaceDetector) -> None:
    faces = detector.detect(_rgb(E2E / "portrait-longhair.jpg"))
    assert len(faces) == 1
    x1, y1, x2, y2 = faces[0].box
    w = _rgb(E2E / "portrait-longhair.jpg").shape[1]
    assert 0.4 * w < (x1 + x2) / 2 < 0.6 * w and y2 - y1 > 20


@pytest.mark.model
def test_small_faces_are_found_by_the_tiles(
    detector: FaceDetector, monkeypatch: pytest.MonkeyPatch
) -> None:
    rgb = _rgb(HERE / "two-women.jpg")[::4, ::4]  # 80×120: faces ~35 px across
    canvas = np.full((750, 1000, 3), 128, np.uint8)
    canvas[400:520, 650:730] = rgb
    faces = detector.detect(canvas)
    assert len(faces) == 2, faces
    for face in faces:
        assert 650 <= face.box[0] < face.box[2] <= 730
        assert 400 <= face.box[1] < face.box[3] <= 520
    # ~9 px in the whole-image view: without the tiles they are missed
    monkeypatch.setattr(faces_module, "TILE_ABOVE", 10**9)
    assert detector.detect(canvas) == []
