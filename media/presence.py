"""Who is at a seat: the faces in a seat camera's picture, and the person's movement.

Faces are found by MediaPipe's BlazeFace, short-range model (``face_detection_short_range.tflite``
of the npm package ``@mediapipe/face_detection``, Apache-2.0; ``make install`` puts it in
``media/models/``), run by OpenCV's DNN module on the colour picture: a face turned or tilted,
behind glasses or a mask is found where OpenCV's frontal Haar cascade found none, at a quarter
of the cascade's cost (about 4 ms a sample at 320x240 on one core, against 16 to 18 ms).

A person bent over papers or turned away shows no face to any face detector. What a camera does
show of them is movement: so the picture's changes inside the *person's region* (below and
around where faces were last seen: head, shoulders, torso) count as a sign of somebody at the
seat. Movement elsewhere (a screen in view, a door) does not, and a seat where no face was ever
seen has no region. ``tests/camera_set.py`` is the labelled set on which this was chosen and
``bench/analysis.py`` prints how each candidate does on it.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from roomserver.warnings import CameraObservation


@dataclass(frozen=True)
class Model:
    """One of BlazeFace's models: its file, its square input and its anchors' layout (per
    stride, the anchors of each cell; consecutive layers of the same stride are merged)."""

    name: str
    input: int
    layers: tuple[tuple[int, int], ...]


# For faces within about 2 m of the camera: the seat's.
SHORT_RANGE = Model("face_detection_short_range.tflite", 128, ((8, 2), (16, 6)))
# For faces up to about 5 m away (measured in bench/analysis.py, not used by the analysis).
FULL_RANGE = Model("face_detection_full_range.tflite", 192, ((4, 1),))
MODELS_DIR = Path(__file__).resolve().parent / "models"
SCORE = 0.5  # a face from this confidence on
OVERLAP = 0.3  # boxes overlapping more than this (IoU) are one face
# Movement: a pixel moved when its luma changed by this much beyond the region's common change
# of brightness (the light, the camera's exposure), and the person moved when this share of
# their region's pixels did.
MOTION_LEVEL = 16
MOTION_SHARE = 0.01


class ModelMissing(RuntimeError):
    """The face model is not where ``make install`` puts it."""


def model_path() -> Path:
    """The face model's file; ``ModelMissing`` when it is not installed."""
    path = MODELS_DIR / SHORT_RANGE.name
    if not path.is_file():
        raise ModelMissing(f"face model {path} is missing: `make install` puts it there")
    return path


@dataclass(frozen=True)
class Box:
    """A face in picture pixels, with the detector's confidence."""

    x: float
    y: float
    w: float
    h: float
    score: float


@functools.cache
def _anchors(model: Model) -> np.ndarray:
    """The centres of the model's anchors (x, y in 0..1), in the order of its outputs."""
    centres = []
    for stride, per_cell in model.layers:
        cells = model.input // stride
        for y in range(cells):
            for x in range(cells):
                centres += [((x + 0.5) / cells, (y + 0.5) / cells)] * per_cell
    return np.array(centres, np.float32)


class FaceDetector:
    """BlazeFace on a BGR picture; one per thread (an OpenCV net is not thread-safe)."""

    def __init__(
        self, path: Path | None = None, model: Model = SHORT_RANGE, score: float = SCORE
    ) -> None:
        self._net = cv2.dnn.readNetFromTFLite(str(path or model_path()))
        self._outputs = self._net.getUnconnectedOutLayersNames()
        self._model = model
        self._score = score

    def detect(self, bgr: np.ndarray) -> list[Box]:
        """The faces in `bgr` (HxWx3 uint8)."""
        height, width = bgr.shape[:2]
        side = max(height, width)
        top, left = (side - height) // 2, (side - width) // 2
        square = cv2.copyMakeBorder(
            bgr, top, side - height - top, left, side - width - left, cv2.BORDER_CONSTANT
        )
        size = self._model.input
        blob = cv2.dnn.blobFromImage(
            square, 1 / 127.5, (size, size), (127.5, 127.5, 127.5), swapRB=True
        )
        self._net.setInput(blob)
        regressors = scores = None
        for output in self._net.forward(self._outputs):
            flat = output.reshape(-1, output.shape[-1])
            if flat.shape[-1] == 1:
                scores = flat[:, 0]
            else:
                regressors = flat
        anchors = _anchors(self._model)
        if regressors is None or scores is None or len(scores) != len(anchors):
            raise RuntimeError(f"the face model's outputs are not those of {self._model.name}")
        confidence = 1 / (1 + np.exp(-np.clip(scores.astype(np.float64), -100, 100)))
        found = np.flatnonzero(confidence >= self._score)
        if not len(found):
            return []
        reg = regressors[found, :4] / size
        centre = (reg[:, :2] + anchors[found]) * side
        extent = reg[:, 2:4] * side
        corner = centre - extent / 2 - (left, top)
        rects = [[float(v) for v in (*c, *e)] for c, e in zip(corner, extent, strict=True)]
        chosen = cv2.dnn.NMSBoxes(rects, confidence[found].tolist(), self._score, OVERLAP)
        boxes = []
        for i in np.ravel(chosen):
            x, y, w, h = rects[i]
            boxes.append(Box(x, y, w, h, float(confidence[found][i])))
        return boxes


def person_region(faces: list[Box], width: int, height: int) -> tuple[int, int, int, int]:
    """Where the people whose `faces` these are sit: from the faces' tops down to the bottom of
    the picture, a face's width to each side (x0, y0, x1, y1)."""
    x0 = min(f.x - f.w for f in faces)
    x1 = max(f.x + 2 * f.w for f in faces)
    y0 = min(f.y for f in faces)
    return (max(0, int(x0)), max(0, int(y0)), min(width, int(x1)), height)


def moved(gray: np.ndarray, previous: np.ndarray, region: tuple[int, int, int, int]) -> bool:
    """Whether the picture moved inside `region` since `previous` (same size), beyond noise
    and beyond a change of the light."""
    x0, y0, x1, y1 = region
    if x1 - x0 < 4 or y1 - y0 < 4:
        return False
    now = gray[y0:y1, x0:x1].astype(np.float32)
    before = previous[y0:y1, x0:x1].astype(np.float32)
    # A camera's exposure scales the whole picture: compare at the same brightness.
    before *= float(now.mean()) / max(1.0, float(before.mean()))
    changed = (np.abs(now - before) > MOTION_LEVEL).astype(np.uint8)
    changed = cv2.morphologyEx(changed, cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
    return float(changed.mean()) >= MOTION_SHARE


def observe(
    gray: np.ndarray, previous: np.ndarray | None, faces: int, at: float, *, moving: bool = False
) -> CameraObservation:
    """The numbers the warning rules look at, for one sampled picture."""
    change = None
    if previous is not None and previous.shape == gray.shape:
        change = float(cv2.absdiff(gray, previous).mean())
    return CameraObservation(
        at=at,
        faces=faces,
        luma_mean=float(gray.mean()),
        luma_std=float(gray.std()),
        change=change,
        moved=moving,
    )


class SeatPresence:
    """A seat's camera over its samples (one per seat, touched by one thread)."""

    def __init__(self) -> None:
        self.previous: np.ndarray | None = None
        self.region: tuple[int, int, int, int] | None = None

    def observe(self, gray: np.ndarray, faces: list[Box], at: float) -> CameraObservation:
        """A sample: the luma picture `gray` (any width) and the `faces` found in it."""
        previous, self.previous = self.previous, gray
        if previous is not None and previous.shape != gray.shape:
            previous = self.region = None  # the camera's size changed: start again
        moving = False
        if self.region is not None and previous is not None:
            moving = moved(gray, previous, self.region)
        if faces:
            self.region = person_region(faces, gray.shape[1], gray.shape[0])
        return observe(gray, previous, len(faces), at, moving=moving)
