"""onnxruntime sessions: one per model, created lazily and shared, one inference at a time each.

`Matter.predict` applies each model's exact pre/post-processing (its registry row) and returns
alpha at model resolution; it also measures inference time so the job runner can estimate
`Retry-After` (`estimated_seconds`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import onnxruntime as ort
import pyvips

from .fetch import require_model
from .registry import ModelKind, ModelSpec, Output, Preprocess, Scaling, get_spec

F32 = npt.NDArray[np.float32]
U8 = npt.NDArray[np.uint8]

#: weight of the newest measurement in the moving average of inference time
_EMA_WEIGHT = 0.3


def resize_rgb(rgb: U8, width: int, height: int, kernel: str) -> U8:
    """Resize an H×W×3 uint8 array to exactly width×height (aspect ignored) with pyvips."""
    h, w = rgb.shape[:2]
    if (w, h) == (width, height):
        return rgb
    im = pyvips.Image.new_from_memory(np.ascontiguousarray(rgb).data, w, h, 3, "uchar")
    im = im.resize(width / w, vscale=height / h, kernel=kernel)
    if (im.width, im.height) != (width, height):  # float rounding: pad or cut the last pixel
        im = im.embed(0, 0, width, height, extend="copy")
    return np.ndarray(buffer=im.write_to_memory(), dtype=np.uint8, shape=(height, width, 3))


def model_input(rgb: U8, spec: ModelSpec) -> F32:
    """The input tensor for `spec` from an sRGB image (any size)."""
    pre = spec.preprocess
    side = spec.input_size
    x = resize_rgb(rgb, side, side, pre.resize.value).astype(np.float32)
    if pre.scaling is Scaling.UNIT:
        x /= 255.0
    elif pre.scaling is Scaling.IMAGE_MAX:
        x /= max(float(x.max()), 1e-6)
    mean, std = np.asarray(pre.mean, np.float32), np.asarray(pre.std, np.float32)
    x = ((x - mean) / std).astype(np.float32)
    if pre.layout == "NCHW":
        x = x.transpose(2, 0, 1)
    return np.ascontiguousarray(x[None], dtype=np.float32)


def model_alpha(raw: npt.NDArray[Any], pre: Preprocess) -> F32:
    """Alpha in 0..1 (input_size²) from the model's output tensor."""
    a: F32 = np.asarray(raw, dtype=np.float32).reshape(raw.shape[-2:])
    if pre.output is Output.MIN_MAX:
        lo, hi = float(a.min()), float(a.max())
        a = ((a - lo) / max(hi - lo, 1e-6)).astype(np.float32)
    elif pre.output is Output.AUTO and (a.min() < -1e-3 or a.max() > 1.001):
        a = (1.0 / (1.0 + np.exp(-a))).astype(np.float32)  # logits (e.g. BiRefNet exports)
    return np.clip(a, 0.0, 1.0).astype(np.float32)


class _Loaded:
    def __init__(self, session: ort.InferenceSession, spec: ModelSpec) -> None:
        self.session = session
        self.lock = threading.Lock()
        self.input_name = spec.preprocess.input_name or session.get_inputs()[0].name
        self.output_name = spec.preprocess.output_name or session.get_outputs()[0].name


class Matter:
    """The shared onnxruntime sessions of one process (made once, e.g. in the app lifespan)."""

    def __init__(
        self,
        models_dir: Path,
        ort_threads: int,
        user_model: ModelSpec | None = None,
        providers: Sequence[str] = ("CPUExecutionProvider",),
    ) -> None:
        """`providers`: onnxruntime execution providers in order of preference (checked with
        `check_providers` when the first session is made)."""
        self.models_dir = models_dir
        self.ort_threads = ort_threads
        self.user_model = user_model
        self.providers = tuple(providers)
        self._loaded: dict[str, _Loaded] = {}
        self._create_lock = threading.Lock()
        self._seconds: dict[str, float] = {}

    def spec(self, name: str) -> ModelSpec:
        return get_spec(name, self.user_model)

    def check(self, name: str) -> Path:
        """The model file, or ModelMissing naming the install command (for startup logs / 503)."""
        return require_model(self.spec(name), self.models_dir)

    def predict(self, name: str, rgb: U8) -> F32:
        """Alpha (float32 0..1, input_size²) of an H×W×3 uint8 sRGB image."""
        spec = self.spec(name)
        if spec.kind is not ModelKind.MATTING:
            raise ValueError(f"{name} is a {spec.kind} model, not a matting model")
        (out,) = self.run(name, model_input(rgb, spec))
        return model_alpha(out, spec.preprocess)

    def run(self, name: str, x: F32) -> list[npt.NDArray[Any]]:
        """Raw inference of a prepared input tensor (timed; one at a time per model)."""
        loaded = self._session(name)
        with loaded.lock:
            t0 = time.perf_counter()
            outs: list[npt.NDArray[Any]] = loaded.session.run(
                [loaded.output_name], {loaded.input_name: x}
            )
            took = time.perf_counter() - t0
        prev = self._seconds.get(name)
        self._seconds[name] = took if prev is None else prev + _EMA_WEIGHT * (took - prev)
        return outs

    def run_feed(
        self, name: str, feed: dict[str, npt.NDArray[Any]], output: str
    ) -> npt.NDArray[Any]:
        """Raw inference of a model with several inputs (timed; one at a time per model)."""
        loaded = self._session(name)
        with loaded.lock:
            t0 = time.perf_counter()
            (out,) = loaded.session.run([output], feed)
            took = time.perf_counter() - t0
        prev = self._seconds.get(name)
        self._seconds[name] = took if prev is None else prev + _EMA_WEIGHT * (took - prev)
        return np.asarray(out)

    def warm_up(self, name: str) -> float:
        """Create `name`'s session and run one inference on a grey image; its seconds.

        The first run of a session pays one-time costs (allocations, kernel choices); it is not
        counted in the inference-time average that `Retry-After` is estimated from."""
        spec = self.spec(name)
        loaded = self._session(name)
        x = model_input(np.full((spec.input_size, spec.input_size, 3), 128, np.uint8), spec)
        with loaded.lock:
            t0 = time.perf_counter()
            loaded.session.run([loaded.output_name], {loaded.input_name: x})
            return time.perf_counter() - t0

    def loaded(self) -> list[str]:
        """Names of the models whose sessions this process has created."""
        return sorted(self._loaded)

    def estimated_seconds(self, name: str) -> float:
        """Moving average of measured inference seconds (the registry's figure before any run)."""
        return self._seconds.get(name, self.spec(name).nominal_seconds)

    def _session(self, name: str) -> _Loaded:
        loaded = self._loaded.get(name)
        if loaded is not None:
            return loaded
        with self._create_lock:  # creation is slow and memory-hungry: never twice
            loaded = self._loaded.get(name)
            if loaded is None:
                spec = self.spec(name)
                loaded = _Loaded(self._create(spec), spec)
                self._loaded[name] = loaded
        return loaded

    def _create(self, spec: ModelSpec) -> ort.InferenceSession:
        path = require_model(spec, self.models_dir)
        so = ort.SessionOptions()
        so.enable_cpu_mem_arena = False  # IS-Net: 1.3 GB peak RSS instead of 2.2 GB
        so.intra_op_num_threads = self.ort_threads
        so.inter_op_num_threads = 1
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        model: str | bytes = str(path)
        if spec.kind is ModelKind.PERSON:  # dynamic frame size: run as converted
            return ort.InferenceSession(model, so, providers=["CPUExecutionProvider"])
        static = _static_side(path, spec)
        if static not in (None, spec.input_size):
            assert static is not None
            model = _at_size(path, static, spec.input_size)
        return ort.InferenceSession(model, so, providers=check_providers(self.providers))


def check_providers(names: Sequence[str]) -> list[str]:
    """`names` if this onnxruntime install has every one of them; ValueError naming the
    missing ones and what is available (a GPU provider needs its onnxruntime package, e.g.
    onnxruntime-gpu, and its drivers)."""
    available = ort.get_available_providers()
    missing = [n for n in names if n not in available]
    if missing:
        raise ValueError(
            f"execution provider(s) {', '.join(missing)} not available in this onnxruntime "
            f"install (available: {', '.join(available)})"
        )
    return list(names)


def _static_side(path: Path, spec: ModelSpec) -> int | None:
    """The graph's fixed input height (reads only the graph header), None when symbolic."""
    import onnx

    m = onnx.load(str(path), load_external_data=False)
    inputs = [i for i in m.graph.input if i.name == (spec.preprocess.input_name or i.name)]
    dims = inputs[0].type.tensor_type.shape.dim
    side = dims[1 if spec.preprocess.layout == "NHWC" else 2]
    return int(side.dim_value) if side.HasField("dim_value") else None


def _at_size(path: Path, static: int, side: int) -> bytes:
    """The graph rebuilt to run at side² instead of static² (IS-Net 768²).

    IS-Net's exported Resize ops take their target H×W from constants (Shape[:2] ++ [h, w]), so
    making the input dims symbolic is not enough: every such constant is scaled by side/static
    (exact for a side that is a multiple of 32), and the recorded intermediate shapes dropped.
    """
    import onnx
    from onnx import numpy_helper

    m = onnx.load(str(path))
    graph = m.graph
    made_by = {out: node for node in graph.node for out in node.output}
    for node in graph.node:
        if node.op_type != "Resize" or len(node.input) < 4 or node.input[3] not in made_by:
            continue
        concat = made_by[node.input[3]]
        const = made_by.get(concat.input[-1]) if concat.op_type == "Concat" else None
        if const is None or const.op_type != "Constant":
            raise ValueError(f"{path.name}: Resize {node.name} sizes are not Shape ++ Constant")
        hw = numpy_helper.to_array(const.attribute[0].t)
        if np.any(hw * side % static):
            raise ValueError(f"{path.name}: cannot run at {side}² (size {hw} at {static}²)")
        const.attribute[0].t.CopyFrom(numpy_helper.from_array(hw * side // static))
    del graph.value_info[:]  # inferred intermediate shapes are those of the original size
    for value in (*graph.input, *graph.output):
        for dim in value.type.tensor_type.shape.dim[2:4]:
            dim.dim_value = dim.dim_value * side // static
    return bytes(m.SerializeToString())
