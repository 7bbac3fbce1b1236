"""The person matting network (RVM): its conversion, against TF.js, and the route by content."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import pyvips

from alphacdn.models import MODELS, Matter, make_cutout
from alphacdn.models.detector import Detection
from alphacdn.models.faces import FaceDetector
from alphacdn.models.fetch import is_verified
from alphacdn.models.person import (
    PersonRouter,
    RouteDecision,
    choose_route,
    confirm,
    find_face,
    fuse,
    person_alpha,
    with_face,
)
from alphacdn.models.tfjs_convert import UnsupportedGraph
from tests.models.test_detector import _node, _run

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
RNG = np.random.default_rng(11)


# -- converter: the ops RVM added ----------------------------------------------------------------


def _cond_graph() -> tuple[list[dict[str, object]], dict[str, np.ndarray]]:
    """x → tf.cond (then: −x, else: x²) → depthwise 1×1 (NCHW from here) → Pad → Split → add →
    Slice sized from Shape/StridedSlice/Pack → + BroadcastTo(0.5, Shape)."""
    consts = {
        "p": np.array(False),
        "k": np.ones((1, 1, 4, 1), np.float32),
        "pads": np.array([[0, 0], [1, 2], [0, 1], [0, 0]], np.int32),
        "axis": np.array(3, np.int32),
        "b1": np.array([1], np.int32),
        "b2": np.array([2], np.int32),
        "b3": np.array([3], np.int32),
        "one": np.array([1], np.int32),
        "two": np.array(2, np.int32),
        "three": np.array(3, np.int32),
        "m1": np.array(-1, np.int32),
        "begin": np.array([0, 1, 1, 0], np.int32),
        "half": np.array(0.5, np.float32),
    }
    nodes = [
        _node("sw", "Switch", "x", "p"),
        _node("t", "Neg", "sw:1"),
        _node("e", "Square", "sw"),
        _node("m", "Merge", "t", "e"),
        _node("dw", "DepthwiseConv2dNative", "m", "k", strides=[1, 1, 1, 1], padding="VALID"),
        _node("pad", "Pad", "dw", "pads"),
        _node("sp", "Split", "axis", "pad", num_split=2),
        _node("sum", "AddV2", "sp", "sp:1"),
        _node("shape", "Shape", "sum", out_type="DT_INT32"),
        _node("h", "StridedSlice", "shape", "b1", "b2", "one", shrink_axis_mask=1),
        _node("w", "StridedSlice", "shape", "b2", "b3", "one", shrink_axis_mask=1),
        _node("h2", "Sub", "h", "two"),
        _node("w3", "Sub", "w", "three"),
        _node("size", "Pack", "m1", "h2", "w3", "m1", N=4, axis=0),
        _node("cut", "Slice", "sum", "begin", "size"),
        _node("cut_shape", "Shape", "cut", out_type="DT_INT32"),
        _node("fill", "BroadcastTo", "half", "cut_shape"),
        _node("y", "AddV2", "cut", "fill"),
    ]
    return nodes, consts  # type: ignore[return-value]


def test_cond_converts_to_the_chosen_branch_with_pad_split_shape_slice(tmp_path: Path) -> None:
    x = RNG.normal(size=(1, 6, 8, 4)).astype(np.float32)
    nodes, consts = _cond_graph()
    (y,) = _run(tmp_path, nodes, consts, x, ["y"], cond_branch="else")
    padded = np.pad(x**2, ((0, 0), (1, 2), (0, 1), (0, 0)))
    summed = padded[..., :2] + padded[..., 2:]
    want = summed[:, 1 : 1 + 7, 1 : 1 + 6, :] + 0.5
    np.testing.assert_allclose(y, want, rtol=1e-5, atol=1e-5)
    (y_then,) = _run(tmp_path, nodes, consts, x, ["y"], cond_branch="then")
    padded = np.pad(-x, ((0, 0), (1, 2), (0, 1), (0, 0)))
    want = (padded[..., :2] + padded[..., 2:])[:, 1:8, 1:7, :] + 0.5
    np.testing.assert_allclose(y_then, want, rtol=1e-5, atol=1e-5)


def test_cond_without_a_chosen_branch_is_refused(tmp_path: Path) -> None:
    nodes, consts = _cond_graph()
    x = np.zeros((1, 6, 8, 4), np.float32)
    with pytest.raises(UnsupportedGraph, match="cond_branch"):
        _run(tmp_path, nodes, consts, x, ["y"])


# -- the converted network against TF.js ------------------------------------------------------


@pytest.fixture(scope="module")
def person_matter(models_dir: Path) -> Matter:
    if not is_verified(MODELS["rvm"], models_dir):
        pytest.fail(
            f"rvm missing in {models_dir}: run `alphacdn fetch-models --for-tests` (the test "
            "command does)"
        )
    return Matter(models_dir, ort_threads=2)


def _fixture(name: str, width: int) -> np.ndarray:
    im = pyvips.Image.new_from_file(str(FIXTURES / name))
    if im.width != width:
        im = im.resize(width / im.width, kernel="lanczos3")
    return np.ascontiguousarray(np.asarray(im.numpy())[..., :3])


@pytest.mark.model
def test_converted_rvm_matches_tfjs_reference(person_matter: Matter) -> None:
    ref = json.loads((FIXTURES / "person" / "rvm-reference.json").read_text())
    assert len(ref["cases"]) >= 2
    for case in ref["cases"]:
        rgb = _fixture(case["input"], case["width"])
        zero = np.zeros((), np.float32)
        feed = {
            "src:0": rgb[None].astype(np.float32) / 255,
            **{f"r{i}i:0": zero for i in range(1, 5)},
            "downsample_ratio:0": np.array(case["downsample_ratio"], np.float32),
        }
        pha = person_matter.run_feed("rvm", feed, "pha")[0, ..., 0]
        png = pyvips.Image.new_from_file(str(FIXTURES / "person" / case["pha"]))
        want = np.asarray(png.numpy()).astype(np.float32) / 65535
        assert pha.shape == want.shape
        diff = np.abs(pha - want)
        # TF.js' CPU kernels and onnxruntime's round differently; a wrong op is off by ≫ 0.01
        assert diff.max() < 2e-3 and diff.mean() < 1e-4, (case["input"], diff.max())
        assert abs(float(pha.mean()) - case["mean"]) < 1e-3


# -- the route ---------------------------------------------------------------------------------


def _person(box: tuple[float, float, float, float], score: float = 0.8) -> Detection:
    return Detection(box, score, "person", "person")


def test_route_needs_a_person_box_holding_the_subject() -> None:
    alpha = np.zeros((400, 300), np.float32)
    alpha[100:380, 80:220] = 1.0
    assert choose_route(alpha, []).route == "salient"
    dog = Detection((80, 100, 220, 380), 0.9, "dog", "dog")
    assert choose_route(alpha, [dog]).reason == "no-person"
    routed = choose_route(alpha, [_person((70, 90, 230, 390))])
    assert routed.route == "person" and routed.overlap > 0.99
    aside = choose_route(alpha, [_person((0, 0, 60, 60))])  # a passer-by, not the subject
    assert aside.route == "salient" and aside.reason == "person-not-subject"
    tiny = np.zeros((400, 300), np.float32)
    tiny[10:20, 10:20] = 1.0  # holds the whole foreground, but covers too little of the picture
    assert choose_route(tiny, [_person((8, 8, 22, 22))]).route == "salient"


def test_confirm_falls_back_when_the_network_does_not_see_the_subject() -> None:
    salient = np.zeros((200, 200), np.float32)
    salient[40:190, 50:150] = 1.0
    decision = RouteDecision("person", "person", 1.0, 0.4, box=(40, 30, 160, 200))
    same = salient.copy()
    assert confirm(decision, same, salient).route == "person"
    half = salient.copy()
    half[40:120] = 0.0  # an object held in front of the person: the network leaves it out
    fallen = confirm(decision, half, salient)
    assert fallen.route == "salient" and fallen.reason == "person-not-matted"
    assert fallen.cover < 0.85


@pytest.mark.model
def test_a_person_box_without_a_face_keeps_the_salient_pipeline(models_dir: Path) -> None:
    faces = FaceDetector(models_dir / "blazeface.onnx", threads=2)
    portrait = _fixture("e2e/portrait-longhair.jpg", 360)
    h, w = portrait.shape[:2]
    decision = RouteDecision("person", "person", 0.97, 0.8, box=(0, 0, w, h))
    kept = with_face(decision, faces, portrait)
    assert kept.route == "person" and kept.face > 0.75
    # the box must hold the face: the same picture with the box on the other side
    aside = with_face(replace(decision, box=(0, 0, 120, h)), faces, portrait)
    assert aside.route == "salient" and aside.reason == "person-no-face"
    dog = _fixture("detector/dog-bike-256.png", 256)  # what the detector might call a person
    box = (0.0, 0.0, float(dog.shape[1]), float(dog.shape[0]))
    assert with_face(replace(decision, box=box), faces, dog).reason == "person-no-face"


@pytest.mark.model
def test_a_face_cut_by_the_frame_is_found_on_the_mirrored_copy(models_dir: Path) -> None:
    faces = FaceDetector(models_dir / "blazeface.onnx", threads=2)
    close_up = np.ascontiguousarray(_fixture("e2e/portrait-longhair.jpg", 360)[:, 175:])
    h, w = close_up.shape[:2]
    assert faces.detect(close_up) == []  # half a face at the left edge: not found as it is
    face = find_face(faces, close_up, (0, 0, w, h))
    assert face is not None and face.score >= 0.75
    assert face.box[0] < 0 < face.box[2]  # the whole face, reaching outside the frame
    assert find_face(faces, close_up, (w / 2, 0, w, h)) is None


def test_fusions() -> None:
    person = np.zeros((100, 100), np.float32)
    person[20:80, 20:60] = 1.0
    salient = np.zeros((100, 100), np.float32)
    salient[20:80, 20:60] = 0.7
    salient[5:10, 90:95] = 1.0  # something apart
    np.testing.assert_array_equal(fuse(person, salient, "person"), person)
    assert fuse(person, salient, "max")[7, 92] == 1.0
    gated = fuse(person, salient, "gate")
    assert gated[50, 40] == 1.0 and gated.max() <= 1.0
    assert fuse(person, salient, "outside")[7, 92] > 0.9
    assert fuse(person, salient, "attached")[7, 92] == 0.0  # not touching the person


@pytest.mark.model
def test_portrait_is_routed_to_the_person_network_and_a_dog_is_not(
    person_matter: Matter, models_dir: Path
) -> None:
    from alphacdn.models.detector import Detector

    detector = Detector(models_dir / "centernet-coco.onnx", threads=2)
    faces = FaceDetector(models_dir / "blazeface.onnx", threads=2)
    portrait = _fixture("e2e/portrait-longhair.jpg", 360)
    router = PersonRouter(person_matter, "rvm", tuple(detector.detect(portrait)), faces)
    cut = make_cutout(person_matter, "u2netp", portrait, fine_edges=False, router=router)
    assert cut.route.startswith("person (person;"), cut.route
    assert ", face 0.9" in cut.route, cut.route
    direct = person_alpha(person_matter, "rvm", portrait)
    alpha = cut.rgba[..., 3].astype(np.float32) / 255
    plain = make_cutout(person_matter, "u2netp", portrait, fine_edges=False)
    salient = plain.rgba[..., 3].astype(np.float32) / 255
    assert plain.route == ""
    # the routed alpha is the network's within the salient foreground (`gate`), not the salient
    inside = (direct > 0.5) & (salient > 0.5)
    assert np.abs(alpha - direct)[inside].mean() < 0.02
    band = (salient > 0.05) & (salient < 0.95)
    assert np.abs(alpha - salient)[band].mean() > 0.05
    dog = _fixture("detector/dog-bike-256.png", 256)
    router = PersonRouter(person_matter, "rvm", tuple(detector.detect(dog)), faces)
    cut = make_cutout(person_matter, "u2netp", dog, fine_edges=False, router=router)
    assert cut.route.startswith("salient"), cut.route
