"""Object classes: COCO-80 (the detector's), Cloudinary's 20 hint names, remove.bg's `type`s."""

from __future__ import annotations

from typing import Literal

# Index = the detector's 0-based class id (the 80 COCO-2017 detection categories, in order).
COCO_CLASSES: tuple[str, ...] = (
    "person", "bicycle", "car", "motorcycle", "airplane", "bus", "train", "truck", "boat",
    "traffic light", "fire hydrant", "stop sign", "parking meter", "bench", "bird", "cat", "dog",
    "horse", "sheep", "cow", "elephant", "bear", "zebra", "giraffe", "backpack", "umbrella",
    "handbag", "tie", "suitcase", "frisbee", "skis", "snowboard", "sports ball", "kite",
    "baseball bat", "baseball glove", "skateboard", "surfboard", "tennis racket", "bottle",
    "wine glass", "cup", "fork", "knife", "spoon", "bowl", "banana", "apple", "sandwich", "orange",
    "broccoli", "carrot", "hot dog", "pizza", "donut", "cake", "chair", "couch", "potted plant",
    "bed", "dining table", "toilet", "tv", "laptop", "mouse", "remote", "keyboard", "cell phone",
    "microwave", "oven", "toaster", "sink", "refrigerator", "book", "clock", "vase", "scissors",
    "teddy bear", "hair drier", "toothbrush",
)  # fmt: skip

# Cloudinary's `hints_(…)` vocabulary → the COCO class it names.
HINT_TO_COCO: dict[str, str] = {
    "airplane": "airplane", "bus": "bus", "dining-table": "dining table", "sheep": "sheep",
    "bicycle": "bicycle", "car": "car", "dog": "dog", "sofa": "couch", "bird": "bird",
    "cat": "cat", "horse": "horse", "train": "train", "boat": "boat", "chair": "chair",
    "person": "person", "tv": "tv", "bottle": "bottle", "cow": "cow",
    "potted-plant": "potted plant", "motorbike": "motorcycle",
}  # fmt: skip
COCO_TO_HINT: dict[str, str] = {coco: hint for hint, coco in HINT_TO_COCO.items()}

RemoveBgType = Literal["person", "product", "animal", "car", "transportation"]
REMOVEBG_TYPES: tuple[str, ...] = (
    "auto",
    "person",
    "product",
    "animal",
    "car",
    "graphic",
    "transportation",
)
ANIMALS = frozenset(COCO_CLASSES[14:24])  # bird … giraffe
# A pickup or van is what remove.bg users mean by "car", so trucks go with cars.
CARS = frozenset({"car", "truck"})
VEHICLES = frozenset({"bicycle", "motorcycle", "airplane", "bus", "train", "boat"})


def hint_class(coco_class: str) -> str | None:
    """The Cloudinary hint name of a COCO class, or None when it is not one of the 20."""
    return COCO_TO_HINT.get(coco_class)


def header_name(coco_class: str) -> str:
    """A header-safe class name: Cloudinary's spelling where there is one, else `hot-dog`."""
    return COCO_TO_HINT.get(coco_class) or coco_class.replace(" ", "-")


def coco_class_of(name: str) -> str | None:
    """Read a hint as the user may spell it (`sofa`, `couch`, `dining_table`…) → COCO class."""
    key = name.strip().lower().replace("_", "-")
    if key in HINT_TO_COCO:
        return HINT_TO_COCO[key]
    spaced = key.replace("-", " ")
    return spaced if spaced in COCO_CLASSES else None


def removebg_type(coco_class: str) -> RemoveBgType:
    """remove.bg's foreground `type` of a detected object (anything unnamed is a product)."""
    if coco_class == "person":
        return "person"
    if coco_class in ANIMALS:
        return "animal"
    if coco_class in CARS:
        return "car"
    if coco_class in VEHICLES:
        return "transportation"
    return "product"


def classes_for_type(foreground_type: str) -> tuple[str, ...] | None:
    """COCO classes a remove.bg `type` keeps, or None for "keep the whole salient matte".

    `auto`, `product` and `graphic` do not select: a product is whatever the salient model
    keeps, and the detector knows nothing about graphics.
    """
    if foreground_type in ("person", "animal", "car", "transportation"):
        return tuple(c for c in COCO_CLASSES if removebg_type(c) == foreground_type)
    if foreground_type in ("auto", "product", "graphic"):
        return None
    raise ValueError(f"unknown foreground type {foreground_type!r}")
