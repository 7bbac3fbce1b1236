"""Selection by hints on synthetic mattes (no weights needed)."""

from __future__ import annotations

import numpy as np

from alphacdn.models.detector import Detection
from alphacdn.models.hints import select_by_hints


def _det(box: tuple[float, float, float, float], score: float, cls: str) -> Detection:
    hint = {"couch": "sofa"}.get(cls, cls)
    return Detection(box, score, cls, hint)


def _two_blobs() -> np.ndarray:
    alpha = np.zeros((120, 240), np.uint8)
    alpha[20:100, 10:100] = 255
    alpha[20:100, 140:230] = 180  # soft, to check it is preserved as is
    return alpha


DOG = _det((10, 20, 100, 100), 0.87, "dog")
CAT = _det((140, 20, 230, 100), 0.81, "cat")


def test_two_blobs_one_box_each_keep_the_hinted_one() -> None:
    alpha = _two_blobs()
    sel = select_by_hints(alpha, [CAT, DOG], ["dog"])
    assert sel.matched
    assert (sel.alpha[20:100, 10:100] == 255).all()
    assert not sel.alpha[:, 120:].any()
    assert sel.summary() == "dog:0.87:kept;cat:0.81:dropped"
    assert sel.kept == (DOG,)
    cat_only = select_by_hints(alpha, [DOG, CAT], ["cat"])
    assert (cat_only.alpha[20:100, 140:230] == 180).all() and not cat_only.alpha[:, :120].any()


def test_several_hints_keep_several_objects() -> None:
    sel = select_by_hints(_two_blobs(), [DOG, CAT], ["cat", "dog"])
    assert (sel.alpha == _two_blobs()).all()


def test_no_match_returns_the_full_matte_unmatched() -> None:
    alpha = _two_blobs()
    sel = select_by_hints(alpha, [DOG, CAT], ["airplane"])
    assert not sel.matched
    assert (sel.alpha == alpha).all()
    nothing = select_by_hints(alpha, [], ["dog"])
    assert not nothing.matched and nothing.summary() == ""


def test_no_hints_means_no_selection() -> None:
    sel = select_by_hints(_two_blobs(), [DOG], [])
    assert sel.matched and (sel.alpha == _two_blobs()).all()


def test_touching_objects_are_split_between_their_boxes() -> None:
    alpha = np.zeros((100, 200), np.uint8)
    alpha[20:80, 10:190] = 255  # one component, two animals side by side
    dog, cat = _det((10, 20, 110, 80), 0.8, "dog"), _det((90, 20, 190, 80), 0.7, "cat")
    sel = select_by_hints(alpha, [dog, cat], ["cat"])
    row = np.flatnonzero(sel.alpha[50])
    assert row[0] in range(95, 106) and row[-1] == 189  # cut near the middle of the overlap


def test_cloudinary_names_and_aliases_match_coco_classes() -> None:
    alpha = np.zeros((50, 50), np.uint8)
    alpha[5:45, 5:45] = 255
    couch = _det((5, 5, 45, 45), 0.6, "couch")
    assert select_by_hints(alpha, [couch], ["sofa"]).matched
    assert select_by_hints(alpha, [couch], ["couch"]).matched


def test_detection_off_the_matte_is_outside_and_never_matches() -> None:
    alpha = np.zeros((100, 200), np.uint8)
    alpha[20:80, 10:90] = 255
    car = _det((120, 10, 190, 90), 0.9, "car")  # background car, not in the salient matte
    sel = select_by_hints(alpha, [car, _det((10, 20, 90, 80), 0.5, "dog")], ["car"])
    assert not sel.matched and sel.summary() == "car:0.90:outside;dog:0.50:kept"


def test_two_names_for_one_object_both_count() -> None:
    alpha = np.zeros((100, 100), np.uint8)
    alpha[10:90, 10:90] = 255
    dog, cat = _det((10, 10, 90, 90), 0.47, "dog"), _det((12, 10, 90, 88), 0.30, "cat")
    assert select_by_hints(alpha, [dog, cat], ["cat"]).matched  # close-up cat read as dog first
    faint = _det((12, 10, 90, 88), 0.10, "cat")
    assert not select_by_hints(alpha, [dog, faint], ["cat"]).matched


def test_detached_piece_inside_a_kept_box_and_faint_fringe_stay() -> None:
    alpha = np.zeros((100, 200), np.uint8)
    alpha[20:80, 10:80] = 255
    alpha[85:95, 60:75] = 255  # a paw cut off from the body, inside the dog's box
    alpha[20:80, 80:82] = 10  # faint fur beyond the binarised edge
    alpha[30:70, 130:180] = 255
    dog, cat = _det((10, 20, 85, 97), 0.8, "dog"), _det((130, 30, 180, 70), 0.8, "cat")
    sel = select_by_hints(alpha, [dog, cat], ["dog"])
    assert (sel.alpha[85:95, 60:75] == 255).all()
    assert (sel.alpha[20:80, 80:82] == 10).all()
    assert not sel.alpha[:, 120:].any()


def test_large_matte_is_decided_on_a_reduced_copy_but_keeps_full_res_alpha() -> None:
    alpha = np.zeros((1500, 2600), np.uint8)
    alpha[100:1400, 100:1200] = np.linspace(40, 255, 1100, dtype=np.uint8)[None, :]
    alpha[100:1400, 1400:2500] = 255
    alpha[5:20, 2000:2100] = 10  # faint haze far from the kept object is background
    dog, cat = _det((100, 100, 1200, 1400), 0.8, "dog"), _det((1400, 100, 2500, 1400), 0.8, "cat")
    sel = select_by_hints(alpha, [dog, cat], ["dog"])
    assert (sel.alpha[:, :1300] == alpha[:, :1300]).all()
    assert not sel.alpha[:, 1300:].any()


def test_foreground_outside_every_box_is_not_forced_onto_a_box() -> None:
    # park-cmyk: an undetected pram tied to the dog by its lead joins one component with the
    # dog and a person; the pram lies outside every box and must not be kept as "dog"
    alpha = np.zeros((120, 200), np.uint8)
    alpha[20:60, 10:70] = 255  # dog
    alpha[20:60, 110:170] = 255  # person
    alpha[38:42, 70:110] = 255  # lead joining them
    alpha[80:115, 60:100] = 255  # pram, outside both boxes
    alpha[60:80, 65:68] = 255  # strap joining the pram to the dog
    dog, person = _det((10, 20, 70, 60), 0.8, "dog"), _det((110, 20, 170, 60), 0.7, "person")
    sel = select_by_hints(alpha, [dog, person], ["dog"])
    assert sel.alpha[30:50, 20:60].min() == 255  # the dog is kept
    assert sel.alpha[85:110, 65:95].max() == 0  # the pram is not
