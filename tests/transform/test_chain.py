"""Tables of transformation chains → Plan, and of bad chains → the 400 naming the param."""

from __future__ import annotations

import pytest

from alphacdn.transform import InvalidTransformation, canonical, parse_chain
from alphacdn.transform.faces import BlurFaces, PixelateFaces
from alphacdn.transform.plan import Component, Output, Plan
from alphacdn.transform.steps import (
    Background,
    BackgroundRemoval,
    Blur,
    Border,
    Brightness,
    Colorize,
    Grayscale,
    Opacity,
    Resize,
    Rotate,
    RotateMode,
    RoundCorners,
    Sepia,
    Tint,
    Trim,
)
from alphacdn.transform.values import BLACK, Color, CropMode, Flag, Format, Gravity, QualityPreset

RED = Color(255, 0, 0)


def one(*steps: object) -> tuple[Component, ...]:
    return (Component(tuple(steps)),)  # type: ignore[arg-type]


GOOD: list[tuple[str, tuple[Component, ...]]] = [
    ("w_400", one(Resize(width=400))),
    ("w_400,h_300", one(Resize(width=400, height=300))),
    ("w_0.5", one(Resize(width=0.5))),
    ("w_1.0,h_2", one(Resize(width=1.0, height=2))),
    ("c_fill,g_north_east,w_10", one(Resize(10, crop=CropMode.FILL, gravity=Gravity.NORTH_EAST))),
    ("c_lfill,g_auto,h_5", one(Resize(height=5, crop=CropMode.LFILL, gravity=Gravity.AUTO))),
    ("ar_16:9,c_fill,w_160", one(Resize(160, crop=CropMode.FILL, aspect_ratio=16 / 9))),
    ("ar_1.5,c_crop", one(Resize(crop=CropMode.CROP, aspect_ratio=1.5))),
    ("dpr_2.0,w_100", one(Resize(100, dpr=2.0))),
    ("c_crop,x_10,y_-0.5,w_50,h_50", one(Resize(50, 50, CropMode.CROP, x=10, y=-0.5))),
    ("c_thumb,z_1.5,w_9", one(Resize(9, crop=CropMode.THUMB, zoom=1.5))),
    ("c_pad,b_red,w_9", one(Resize(9, crop=CropMode.PAD, background=RED))),
    ("c_fill_pad,b_rgb:ff000080,w_9", one(Resize(9, crop=CropMode.FILL_PAD,
                                                  background=Color(255, 0, 0, 128)))),
    ("c_fill,b_red,w_9", one(Resize(9, crop=CropMode.FILL), Background(RED))),
    ("b_rgb:f00", one(Background(RED))),
    ("c_scale", ()),
    ("dpr_1.0", ()),
    ("w_1,w_2", one(Resize(2))),  # last wins
    ("a_90", one(Rotate(RotateMode.DEGREES, 90.0))),
    ("a_-12.5", one(Rotate(RotateMode.DEGREES, -12.5))),
    ("a_auto", one(Rotate(RotateMode.AUTO_RIGHT))),
    ("a_auto_left", one(Rotate(RotateMode.AUTO_LEFT))),
    ("a_hflip.90", one(Rotate(RotateMode.HFLIP), Rotate(RotateMode.DEGREES, 90.0))),
    ("r_20", one(RoundCorners(20))),
    ("r_max", one(RoundCorners(None))),
    ("r_0", ()),
    ("bo_4px_solid_black", one(Border(4, BLACK))),
    ("bo_2px_solid_rgb:ff0000", one(Border(2, RED))),
    ("o_50", one(Opacity(50))),
    ("e_grayscale", one(Grayscale())),
    ("e_blur", one(Blur())),
    ("e_blur:300", one(Blur(300))),
    ("e_brightness:-50", one(Brightness(-50))),
    ("e_sepia:10,e_blur:5", one(Blur(5))),  # one effect per component: last wins
    ("e_colorize:40,co_red", one(Colorize(40, RED))),
    ("e_tint:30:rgb:ff0000", one(Tint(30, RED))),
    ("e_tint::red", one(Tint(color=RED))),
    ("co_blue,e_tint:30:red", one(Tint(30, RED))),  # the positional colour wins
    ("co_red,w_5", one(Resize(5))),  # an unclaimed qualifier is ignored, as Cloudinary does
    ("e_trim,w_5", one(Trim(), Resize(5))),  # trim runs before the resize
    ("e_trim::", one(Trim())),  # url-gen's `reshape(trim())`: empty trailing values
    ("e_trim:20:", one(Trim(20))),
    # the fixed in-component order, whatever the URL order
    ("b_red,o_50,bo_1px_solid_black,r_max,a_90,e_sepia,w_5,e_background_removal",
     one(BackgroundRemoval(), Resize(5), Rotate(degrees=90.0), RoundCorners(None),
         Border(1, BLACK), Opacity(50), Background(RED))),
    ("e_background_removal:fineedges_y", one(BackgroundRemoval(fine_edges=True))),
    ("e_background_removal:hints_(dog;cat;dog);fineedges_n",
     one(BackgroundRemoval(hints=("cat", "dog")))),
    ("w_5/e_sepia", (Component((Resize(5),)), Component((Sepia(),)))),
    # faces (issue 17)
    ("c_thumb,g_face,w_150,h_150,z_0.75",
     one(Resize(150, 150, CropMode.THUMB, Gravity.FACE, zoom=0.75))),
    ("c_crop,g_faces", one(Resize(crop=CropMode.CROP, gravity=Gravity.FACES))),
    ("c_fill,g_auto:faces,w_9", one(Resize(9, crop=CropMode.FILL, gravity=Gravity.AUTO_FACES))),
    ("c_fill,g_auto:face,w_9", one(Resize(9, crop=CropMode.FILL, gravity=Gravity.AUTO_FACE))),
    ("c_fill,g_face:center,w_9", one(Resize(9, crop=CropMode.FILL, gravity=Gravity.FACE_CENTER))),
    ("c_fill,g_faces:auto,w_9", one(Resize(9, crop=CropMode.FILL, gravity=Gravity.FACES_AUTO))),
    ("e_pixelate_faces", one(PixelateFaces())),
    ("e_pixelate_faces:20", one(PixelateFaces(20))),
    ("e_blur_faces", one(BlurFaces())),
    ("e_blur_faces:1000", one(BlurFaces(1000))),
]  # fmt: skip


@pytest.mark.parametrize(("chain", "components"), GOOD)
def test_good_chains(chain: str, components: tuple[Component, ...]) -> None:
    plan = parse_chain(chain)
    assert plan.components == components
    assert parse_chain(canonical(plan)) == plan


OUTPUT: list[tuple[str, Output]] = [
    ("f_auto", Output(format=Format.AUTO)),
    ("f_jpeg", Output(format=Format.JPG)),
    ("f_png/w_5/f_webp", Output(format=Format.WEBP)),
    ("q_80", Output(quality=80)),
    ("q_auto", Output(quality_preset=QualityPreset.GOOD)),
    ("q_auto:eco,q_auto:best", Output(quality_preset=QualityPreset.BEST)),
    ("q_auto/q_50", Output(quality=50)),
    ("fl_progressive.strip_profile", Output(flags=frozenset({Flag.PROGRESSIVE,
                                                             Flag.STRIP_PROFILE}))),
    ("fl_attachment,fl_keep_iptc/fl_preserve_transparency",
     Output(flags=frozenset({Flag.ATTACHMENT, Flag.KEEP_IPTC, Flag.PRESERVE_TRANSPARENCY}))),
    ("fl_animated.awebp,f_webp", Output(format=Format.WEBP,
                                         flags=frozenset({Flag.ANIMATED, Flag.AWEBP}))),
    ("pg_3", Output(pages=(3, 3))),
    ("pg_2-4,w_10", Output(pages=(2, 4))),
    ("pg_1/pg_5-5", Output(pages=(5, 5))),
    ("dl_200", Output(delay=200)),
    ("e_loop", Output(loop=0)),  # endless
    ("e_loop:0", Output(loop=1)),  # no more loops: plays once
    ("e_loop:2/dl_50,f_gif", Output(loop=3, delay=50, format=Format.GIF)),
]  # fmt: skip


@pytest.mark.parametrize(("chain", "output"), OUTPUT)
def test_output(chain: str, output: Output) -> None:
    plan = parse_chain(chain)
    assert plan.output == output
    assert parse_chain(canonical(plan)) == plan


def test_output_only_components_vanish() -> None:
    assert parse_chain("c_fill,w_4/f_auto,q_auto").components == one(Resize(4, crop=CropMode.FILL))


BAD: list[tuple[str, str]] = [
    ("pg_0", "pg_0"),
    ("pg_4-2", "pg_4-2"),
    ("pg_a", "pg_a"),
    ("pg_2-", "pg_2-"),
    ("dl_-5", "dl_-5"),
    ("dl_999999", "dl_999999"),
    ("e_loop:-1", "e_loop:-1"),
    ("e_loop:x", "e_loop:x"),
    ("fl_animatedd", "fl_animatedd"),
    ("e_blur:abc", "e_blur:abc"),
    ("e_blur:9999", "e_blur:9999"),
    ("e_blur:1:2", "e_blur:1:2"),
    ("e_grayscale:5", "e_grayscale:5"),
    ("e_nope", "e_nope"),
    ("w_abc", "w_abc"),
    ("w_0", "w_0"),
    ("w_0.0", "w_0.0"),
    ("w_99999", "w_99999"),
    ("w_auto:0", "w_auto:0"),
    ("w_auto:10:20:30", "w_auto:10:20:30"),
    ("w_iw_div", "w_iw_div"),
    ("w_iw_by_2", "by"),
    ("w_$1x", "w_$1x"),
    ("w_", "w_"),
    ("h_1e3", "h_1e3"),
    ("c_imagga_crop", "c_imagga_crop"),
    ("if_w_gt_400/w_10", "if_w_gt_400"),
    ("if_end", "if_end"),
    ("if_w_gt_1/if_else/if_else/if_end", "if_else"),
    ("if_w_is_400,w_10", "if_w_is_400"),
    ("if_w_gt_400/l_dog/if_end", "if_w_gt_400"),
    ("$1x_5", "$1x_5"),
    ("$x_!text!", "$x_!text!"),
    ("g_face:north", "g_face:north"),
    ("g_faces:auto:x", "g_faces:auto:x"),
    ("g_auto:faces:center", "g_auto:faces:center"),
    ("g_adv_face", "g_adv_face"),
    ("e_pixelate_faces:0", "e_pixelate_faces:0"),
    ("e_pixelate_faces:201", "e_pixelate_faces:201"),
    ("e_pixelate_faces:x", "e_pixelate_faces:x"),
    ("e_pixelate_faces:5:5", "e_pixelate_faces:5:5"),
    ("e_blur_faces:0", "e_blur_faces:0"),
    ("e_blur_faces:2001", "e_blur_faces:2001"),
    ("e_blur_faces:-3", "e_blur_faces:-3"),
    ("l_logo/fl_layer_apply,g_face", "g_face cannot place a layer"),
    ("ar_0:1", "ar_0:1"),
    ("ar_x", "ar_x"),
    ("dpr_auto:2", "dpr_auto:2"),
    ("dpr_50", "dpr_50"),
    ("a_exif", "a_exif"),
    ("a_1.5.hflip", "a_1.5.hflip"),
    ("a_999", "a_999"),
    ("r_10:20:30:40:50", "r_10:20:30:40:50"),
    ("bo_4px_dashed_black", "bo_4px_dashed_black"),
    ("bo_4px_solid_notacolor", "bo_4px_solid_notacolor"),
    ("b_notacolor", "b_notacolor"),
    ("b_rgb:12", "b_rgb:12"),
    ("co_nope,e_colorize", "co_nope"),
    ("o_101", "o_101"),
    ("o_50.5", "o_50.5"),
    ("f_tiff", "f_tiff"),
    ("q_0", "q_0"),
    ("q_auto:sensitive", "q_auto:sensitive"),
    ("q_80:420", "q_80:420"),
    ("fl_nope", "fl_nope"),
    ("fl_layer_apply", "fl_layer_apply"),
    ("l_dog/fl_layer_apply/fl_layer_apply,g_south", "fl_layer_apply,g_south"),
    ("l_a/l_b/l_c/l_d/fl_layer_apply/fl_layer_apply/fl_layer_apply/fl_layer_apply", "l_d"),
    ("l_dog,u_cat", "l_dog,u_cat"),
    ("l_text:Arial_20:" + "x" * 501, "l_text:Arial_20:xxx"),
    ("l_text:Arial_0:hi", "l_text:Arial_0:hi"),
    ("l_text:Arial_20_wavy:hi", "wavy"),
    ("l_fetch:aHR0cA==", "fetch"),
    ("l_a::b", "l_a::b"),
    ("l_dog,e_background_removal", "l_dog,e_background_removal"),
    ("fl_relative,w_5", "fl_relative,w_5"),
    ("l_dog/fl_layer_apply,g_auto", "fl_layer_apply,g_auto"),
    ("zz_1", "zz_1"),
    ("grayscale", "grayscale"),
    ("e_background_removal:hints_(dog;unicorn)", "unicorn"),
    ("e_background_removal:hints_()", "e_background_removal:hints_()"),
    ("e_background_removal:fineedges_maybe", "fineedges_maybe"),
    ("w_5/e_background_removal", "e_background_removal"),
    ("w_5,e_background_removal/e_background_removal", "e_background_removal"),
    ("t_missing", "t_missing"),
]  # fmt: skip


@pytest.mark.parametrize(("chain", "named"), BAD)
def test_bad_chains_name_the_param(chain: str, named: str) -> None:
    with pytest.raises(InvalidTransformation) as err:
        parse_chain(chain)
    assert err.value.status == 400
    assert named in err.value.public
    assert err.value.public.startswith("Invalid transformation component: ")


def test_removal_must_be_first() -> None:
    with pytest.raises(InvalidTransformation, match="first component"):
        parse_chain("w_5/e_background_removal")
    plan = parse_chain("f_png/e_background_removal,w_5")  # output-only components do not count
    assert plan.removal == BackgroundRemoval()


NAMED = {
    "thumb": "c_fill,w_100,h_100",
    "gray": "e_grayscale/f_png",
    "both": "t_thumb/t_gray",
    "cut": "e_background_removal",
    "loop_a": "t_loop_b",
    "loop_b": "t_loop_a",
    "bad": "e_blur:abc",
    **{f"n{i}": f"t_n{i + 1}" for i in range(20)},
    "n20": "w_5",
}


def test_named_expansion() -> None:
    plan = parse_chain("t_both,w_50", named=NAMED)
    thumb = Component((Resize(100, 100, CropMode.FILL),))
    assert plan.components == (thumb, Component((Grayscale(),)), Component((Resize(50),)))
    assert plan.output.format is Format.PNG
    assert plan.named == ("both", "thumb", "gray")
    assert plan == parse_chain("c_fill,h_100,w_100/e_grayscale/w_50/f_png")
    assert parse_chain("t_thumb.gray", named=NAMED).components == (thumb, Component((Grayscale(),)))
    assert parse_chain("t_cut/w_5", named=NAMED).removal == BackgroundRemoval()


def test_named_changes_the_canonical_text() -> None:
    before = canonical(parse_chain("t_thumb", named=NAMED))
    after = canonical(parse_chain("t_thumb", named={**NAMED, "thumb": "c_fill,w_200,h_100"}))
    assert before != after


@pytest.mark.parametrize(
    ("chain", "message"),
    [("t_loop_a", "cycle"), ("t_n0", "nested deeper"), ("t_bad", "in named transformation t_bad"),
     ("t_nope", "unknown named transformation")],
)  # fmt: skip
def test_named_errors(chain: str, message: str) -> None:
    with pytest.raises(InvalidTransformation, match=message):
        parse_chain(chain, named=NAMED)


def test_named_fan_out_is_bounded() -> None:
    table = {f"x{i}": f"t_x{i + 1}/t_x{i + 1}" for i in range(7)} | {"x7": "w_5"}
    with pytest.raises(InvalidTransformation, match="components"):
        parse_chain("t_x0", named=table)


@pytest.mark.parametrize(
    ("a", "b"),
    [("w_400,h_300", "h_300,w_400"), ("b_red", "b_rgb:ff0000"), ("b_rgb:f00", "b_red"),
     ("e_blur:100", "e_blur"), ("c_scale,w_5,g_center", "w_5"), ("dpr_2", "dpr_2.0"),
     ("w_0.50", "w_0.5"), ("q_auto:good", "q_auto"), ("f_jpeg", "f_jpg"), ("ar_16:9", "ar_32:18"),
     ("fl_strip_profile.progressive", "fl_progressive,fl_strip_profile"),
     ("a_auto", "a_auto_right"),
     ("e_background_removal:hints_(dog;cat)", "e_background_removal:hints_(cat;dog);fineedges_n")],
)  # fmt: skip
def test_equivalent_chains_share_canonical_text(a: str, b: str) -> None:
    assert canonical(parse_chain(a)) == canonical(parse_chain(b))


def test_canonical_examples() -> None:
    plan = parse_chain("w_400,c_fill,h_300,g_auto/f_auto,q_auto/e_blur:300,co_red/a_hflip.90")
    assert canonical(plan) == "c_fill,g_auto,h_300,w_400/e_blur:300/a_hflip.90/f_auto,q_auto"
    assert plan.canonical() == canonical(plan)
    assert canonical(Plan()) == ""


def test_the_removal_step_prints_alone_as_the_matte_key_text() -> None:
    """`canonical_step` is the matte key's text: the URL's spelling, hints sorted and
    deduplicated whoever built the step (the remove.bg API builds its own)."""
    from alphacdn.transform import canonical_step

    assert canonical_step(BackgroundRemoval()) == "e_background_removal"
    built = BackgroundRemoval(fine_edges=True, hints=("dog", "cat", "dog"))
    parsed = parse_chain("e_background_removal:hints_(cat;dog);fineedges_y").removal
    assert parsed is not None
    assert canonical_step(built) == canonical_step(parsed)
    assert canonical_step(built) == "e_background_removal:fineedges_y;hints_(cat;dog)"
