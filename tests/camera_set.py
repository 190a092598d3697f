"""The labelled camera set: short clips of a seat's camera, each with the warnings it must raise.

A clip is what the analysis samples from one seat, one picture a second, 640x480: a person in
one of the ways an expert sits at a seat (facing the camera, the head turned or bent over
papers, glasses, a mask, half out of the picture, further back, in dim light), an empty chair,
two or three people, a covered lens, a frozen picture. The person is the portrait that
matplotlib ships (``tests.scenes``), changed by drawing: rotated, foreshortened, masked. A live
person sways a few pixels between samples, as a seated person does; every picture has a
camera's sensor noise and goes through the VP8 encoder and decoder at a seat's bit rate, as the
server sees it. Each clip names the warnings it must raise (``expected``) under ``THRESHOLDS``,
which are the product's hold times shortened so that a clip of a dozen samples can show them.

``score`` runs a candidate detector over the set through the product's rules
(``roomserver.warnings``) and gives precision and recall per warning kind; ``bench/analysis.py``
prints them for each candidate, ``tests/unit/media/test_presence.py`` holds the product's
detector (``media.presence``) to doing no worse than OpenCV's frontal face cascade did.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from fractions import Fraction
from pathlib import Path
from typing import Protocol

import av
import cv2
import numpy as np
from PIL import Image, ImageDraw

from media.analysis import FaceCounter
from media.presence import SHORT_RANGE, Box, FaceDetector, Model, SeatPresence
from roomserver.warnings import (
    CAMERA_KINDS,
    CameraObservation,
    SeatCameraRules,
    WarningKind,
    WarningThresholds,
)
from tests import scenes

SAMPLES = 14  # pictures a clip, one a second
THRESHOLDS = WarningThresholds(seat_empty_s=8.0, extra_face_s=2.0, dark_s=3.0, frozen_s=5.0)
# The kinds a seat's pictures can raise (the room camera's kind has rules of its own).
SEAT_KINDS = tuple(
    k for k in WarningKind if k in CAMERA_KINDS and k is not WarningKind.ROOM_CAMERA_PERSON
)
NOISE_SIGMA = 2.5  # a webcam's sensor noise, in 8-bit levels
NOISE_FIELDS = 8
BITRATE = 400_000  # a seat camera's VP8 at 640x480
WALL = (196, 188, 170)

Picture = np.ndarray  # RGB 640x480 uint8


@dataclass(frozen=True)
class Clip:
    """Pictures of one seat a second apart, and the warnings they must raise."""

    name: str
    what: str
    expected: frozenset[WarningKind]
    pictures: tuple[Picture, ...] = field(repr=False)


# -- the person, drawn in its ways ----------------------------------------------------------------


def _portrait() -> np.ndarray:
    return np.asarray(scenes._portrait())


def _rotated(degrees: float) -> np.ndarray:
    image = scenes._portrait().rotate(degrees, resample=Image.BICUBIC, fillcolor=WALL)
    return np.asarray(image)


def _bent(depth: float = 0.45) -> np.ndarray:
    """The head bent forward over papers: lowered and foreshortened, its top towards the camera."""
    person = _portrait()
    h, w = person.shape[:2]
    head = person[: int(h * 0.62)]
    height = head.shape[0] * depth
    src = np.float32([[0, 0], [w, 0], [w, head.shape[0]], [0, head.shape[0]]])
    widen = 0.18
    dst = np.float32(
        [
            [-w * widen, 0],
            [w * (1 + widen), 0],
            [w * (1 - widen / 2), height],
            [w * widen / 2, height],
        ]
    )
    tilt = cv2.getPerspectiveTransform(src, dst)
    warped = cv2.warpPerspective(head, tilt, (w, int(height)), borderMode=cv2.BORDER_REPLICATE)
    out = person.copy()
    top = int(h * 0.62 - height + h * 0.10)
    out[:top] = person[:8].reshape(-1, 3).mean(axis=0).astype(np.uint8)
    out[top : top + warped.shape[0]] = warped
    return out


def _face_away() -> np.ndarray:
    """The head turned away from the camera: hair where the face was."""
    image = scenes._portrait().copy()
    w, h = image.size
    draw = ImageDraw.Draw(image)
    draw.ellipse((w * 0.27, h * 0.12, w * 0.73, h * 0.62), fill=(58, 52, 50))
    return np.asarray(image)


def _masked() -> np.ndarray:
    """A surgical mask over nose, mouth and chin."""
    image = scenes._portrait().copy()
    w, h = image.size
    ImageDraw.Draw(image).rounded_rectangle(
        (w * 0.30, h * 0.40, w * 0.72, h * 0.62), radius=20, fill=(170, 200, 225)
    )
    return np.asarray(image)


def _sunglasses() -> np.ndarray:
    image = scenes._portrait().copy()
    w, h = image.size
    draw = ImageDraw.Draw(image)
    dark = (20, 20, 25)
    draw.ellipse((w * 0.30, h * 0.26, w * 0.48, h * 0.36), fill=dark)
    draw.ellipse((w * 0.52, h * 0.26, w * 0.70, h * 0.36), fill=dark)
    draw.line((w * 0.48, h * 0.30, w * 0.52, h * 0.30), fill=dark, width=6)
    return np.asarray(image)


def _cut_at_top() -> np.ndarray:
    """Sitting high: the top of the head out of the picture."""
    person = _portrait()
    return person[int(person.shape[0] * 0.22) :]


PERSON: dict[str, Callable[[], np.ndarray]] = {
    "frontal": _portrait,
    "mirrored": lambda: _portrait()[:, ::-1],
    "tilted": lambda: _rotated(22),
    "tilted_more": lambda: _rotated(-32),
    "bent": _bent,
    "face_away": _face_away,
    "mask": _masked,
    "sunglasses": _sunglasses,
    "cut_at_top": _cut_at_top,
}


# -- pictures and clips ---------------------------------------------------------------------------


def _paste(canvas: Picture, person: np.ndarray, box: tuple[int, int, int, int]) -> None:
    x, y, w, h = box
    resized = cv2.resize(person, (w, h), interpolation=cv2.INTER_AREA)
    x0, y0 = max(0, x), max(0, y)
    x1, y1 = min(canvas.shape[1], x + w), min(canvas.shape[0], y + h)
    canvas[y0:y1, x0:x1] = resized[y0 - y : y1 - y, x0 - x : x1 - x]


ONE = (150, 70, 340, 398)
FAR = (240, 190, 160, 188)
TWO = ((10, 120, 300, 352), (330, 120, 300, 352))
THREE = ((5, 150, 200, 235), (220, 150, 200, 235), (435, 150, 200, 235))


def _sway(
    rng: np.random.Generator, box: tuple[int, int, int, int], pixels: int = 6
) -> tuple[int, int, int, int]:
    """A seated person between two samples: a few pixels to a side, a little nearer or further
    (a person sitting still: one pixel)."""
    x, y, w, h = box
    dx, dy = rng.integers(-pixels, pixels + 1, 2)
    grow = rng.uniform(1 - pixels / 200, 1 + pixels / 200)
    return (int(x + dx), int(y + dy), int(w * grow), int(h * grow))


@functools.cache
def _empty() -> Picture:
    return scenes.empty_seat()


def _scene(
    people: Iterable[tuple[np.ndarray, tuple[int, int, int, int]]],
    rng: np.random.Generator | None,
    sway: int = 6,
) -> Picture:
    canvas = _empty().copy()
    for person, box in people:
        _paste(canvas, person, _sway(rng, box, sway) if rng is not None else box)
    return canvas


@functools.cache
def _noise() -> tuple[tuple[np.ndarray, np.ndarray], ...]:
    """Eight fields of sensor noise, each as the parts to add and to take away (saturating)."""
    rng = np.random.default_rng(0)
    fields = []
    for _ in range(NOISE_FIELDS):
        noise = np.rint(rng.standard_normal((*scenes.SIZE[::-1], 3)) * NOISE_SIGMA)
        more, less = np.clip(noise, 0, 255), np.clip(-noise, 0, 255)
        fields.append((more.astype(np.uint8), less.astype(np.uint8)))
    return tuple(fields)


def _live(picture: Picture, rng: np.random.Generator, light: float = 1.0) -> Picture:
    """The picture as a camera's sensor gives it: noise (one of the fields, at random), and the
    light it has."""
    if light != 1.0:
        picture = cv2.convertScaleAbs(picture, alpha=light)
    more, less = _noise()[int(rng.integers(NOISE_FIELDS))]
    return cv2.subtract(cv2.add(picture, more), less)


def _through_vp8(pictures: list[Picture]) -> tuple[Picture, ...]:
    """The pictures as the server decodes them after a seat's VP8 encoder: each sample one frame
    with the bits that a frame of a 15 fps camera at ``BITRATE`` gets."""
    encoder = av.CodecContext.create("libvpx", "w")
    encoder.width, encoder.height = scenes.SIZE
    encoder.pix_fmt = "yuv420p"
    encoder.time_base = Fraction(1, 1)
    encoder.bit_rate = BITRATE // 15
    encoder.options = {"deadline": "realtime", "cpu-used": "8", "lag-in-frames": "0"}
    decoder = av.CodecContext.create("vp8", "r")
    out: list[Picture] = []
    for pts, picture in enumerate(pictures):
        frame = av.VideoFrame.from_ndarray(picture, format="rgb24").reformat(format="yuv420p")
        frame.pts = pts
        decoded = [d for p in encoder.encode(frame) for d in decoder.decode(p)]
        assert len(decoded) == 1, "the encoder holds no frames back"
        out.append(decoded[0].to_ndarray(format="rgb24"))
    return tuple(out)


def _clip(
    name: str,
    what: str,
    expected: Iterable[WarningKind],
    make: Callable[[int, np.random.Generator], Picture],
    seed: int,
) -> Clip:
    rng = np.random.default_rng(seed)
    pictures = _through_vp8([make(i, rng) for i in range(SAMPLES)])
    return Clip(name, what, frozenset(expected), pictures)


def _frozen_clip(name: str, what: str, expected: Iterable[WarningKind], picture: Picture) -> Clip:
    """A camera that stopped changing: the server keeps its last decoded picture."""
    (decoded,) = _through_vp8([picture])
    return Clip(name, what, frozenset(expected), (decoded,) * SAMPLES)


def _person_clip(
    name: str, what: str, person: str, seed: int, *, light: float = 1.0, sway: int = 6
) -> Clip:
    """One person the whole clip, in one way, after the first two samples facing the camera
    (sitting down) unless the way is facing the camera."""
    drawn, frontal = PERSON[person](), _portrait()
    return _clip(
        name,
        what,
        (),
        lambda i, rng: _live(_scene([(frontal if i < 2 else drawn, ONE)], rng, sway), rng, light),
        seed,
    )


EMPTY = WarningKind.SEAT_EMPTY
EXTRA = WarningKind.EXTRA_FACE
DARK = WarningKind.CAMERA_DARK
FROZEN = WarningKind.CAMERA_FROZEN


@functools.cache
def clips() -> tuple[Clip, ...]:
    """The whole set (made once a process, in about 4 s)."""
    frontal = _portrait()
    bent = _bent()
    made = [
        _person_clip("frontal", "facing the camera", "frontal", 1),
        _person_clip("mirrored", "facing the camera, mirrored", "mirrored", 2),
        _person_clip("tilted", "head tilted 22 degrees", "tilted", 3),
        _person_clip("tilted_more", "head tilted 32 degrees the other way", "tilted_more", 4),
        _person_clip("bent", "head bent over papers", "bent", 5),
        _person_clip("face_away", "head turned away", "face_away", 6),
        _person_clip("mask", "a surgical mask", "mask", 7),
        _person_clip("sunglasses", "dark glasses", "sunglasses", 8),
        _person_clip("cut_at_top", "the top of the head out of the picture", "cut_at_top", 9),
        _person_clip("dim", "facing the camera in dim light", "frontal", 10, light=0.45),
        _person_clip("still", "facing the camera, sitting still", "frontal", 23, sway=1),
        _person_clip("bent_still", "bent over papers, sitting still", "bent", 24, sway=1),
        _clip(
            "bent_from_start",
            "bent over papers from the first sample on: no face seen yet",
            (),
            lambda i, rng: _live(_scene([(bent, ONE)], rng), rng),
            25,
        ),
        _clip(
            "far",
            "sitting back, the face a tenth of the picture wide",
            (),
            lambda i, rng: _live(_scene([(frontal, FAR)], rng), rng),
            11,
        ),
        _clip(
            "reading",
            "looking up and down: bent over papers most of the time",
            (),
            lambda i, rng: _live(_scene([(frontal if i % 5 == 0 else bent, ONE)], rng), rng),
            12,
        ),
        _clip("empty", "an empty chair", (EMPTY,), lambda i, rng: _live(_scene([], None), rng), 13),
        _clip(
            "empty_light",
            "an empty chair while the light changes",
            (EMPTY,),
            lambda i, rng: _live(_scene([], None), rng, light=1.0 - 0.03 * i),
            14,
        ),
        _clip(
            "leaves",
            "the expert gets up and leaves",
            (EMPTY,),
            lambda i, rng: _live(_scene([(frontal, ONE)] if i < 3 else [], rng), rng),
            15,
        ),
        _clip(
            "leaves_light",
            "the expert leaves, then the light fades",
            (EMPTY,),
            lambda i, rng: _live(
                _scene([(frontal, ONE)] if i < 3 else [], rng), rng, light=min(1.0, 1.15 - 0.05 * i)
            ),
            26,
        ),
        _clip(
            "two",
            "somebody next to the expert",
            (EXTRA,),
            lambda i, rng: _live(_scene([(frontal, TWO[0]), (frontal, TWO[1])], rng), rng),
            16,
        ),
        _clip(
            "two_tilted",
            "somebody next to the expert, the head tilted",
            (EXTRA,),
            lambda i, rng: _live(_scene([(frontal, TWO[0]), (_rotated(22), TWO[1])], rng), rng),
            17,
        ),
        _clip(
            "two_masked",
            "somebody with a mask next to the expert",
            (EXTRA,),
            lambda i, rng: _live(_scene([(frontal, TWO[0]), (_masked(), TWO[1])], rng), rng),
            18,
        ),
        _clip(
            "three",
            "three people",
            (EXTRA,),
            lambda i, rng: _live(_scene([(frontal, box) for box in THREE], rng), rng),
            19,
        ),
        _clip(
            "covered",
            "the lens covered",
            (DARK,),
            lambda i, rng: _live(np.full_like(_empty(), 6), rng),
            20,
        ),
        _frozen_clip(
            "frozen",
            "the picture of the expert frozen",
            (FROZEN,),
            _scene([(frontal, ONE)], None),
        ),
        _frozen_clip(
            "frozen_empty",
            "the picture of an empty chair frozen",
            (FROZEN, EMPTY),
            _empty(),
        ),
    ]
    return tuple(made)


# -- scoring --------------------------------------------------------------------------------------


class Seat(Protocol):
    """A seat's camera as a candidate detector sees it: each sampled picture (BGR, 320 wide)
    to an observation for the rules."""

    def observe(self, bgr: np.ndarray, at: float) -> CameraObservation: ...


# A candidate: makes the state of one seat (one a clip).
Candidate = Callable[[], Seat]


class CandidateSeat:
    """A seat's samples through `faces` (BGR and luma picture to the faces in it), with the
    person's movement as a sign of presence (``media.presence``) or without."""

    def __init__(
        self, faces: Callable[[np.ndarray, np.ndarray], list[Box]], *, motion: bool
    ) -> None:
        self._faces = faces
        self._motion = motion
        self._presence = SeatPresence()

    def observe(self, bgr: np.ndarray, at: float) -> CameraObservation:
        gray = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)
        observation = self._presence.observe(gray, self._faces(bgr, gray), at)
        return observation if self._motion else replace(observation, moved=False)


def cascade(*, motion: bool = False) -> Candidate:
    """OpenCV's frontal face cascade on the luma picture: the analysis before BlazeFace."""
    counter = FaceCounter()
    return lambda: CandidateSeat(lambda bgr, gray: counter.find(gray), motion=motion)


def blazeface(
    path: Path | None = None, model: Model = SHORT_RANGE, *, motion: bool = True
) -> Candidate:
    """BlazeFace on the colour picture (the product's model unless `path`), with the person's
    movement: the product's analysis."""
    detector = FaceDetector(path, model)
    return lambda: CandidateSeat(lambda bgr, gray: detector.detect(bgr), motion=motion)


@dataclass
class KindScore:
    """Clips a warning kind was right or wrong on."""

    true_positive: int = 0
    false_positive: int = 0
    false_negative: int = 0
    wrong: list[str] = field(default_factory=list)

    @property
    def precision(self) -> float:
        raised = self.true_positive + self.false_positive
        return self.true_positive / raised if raised else 1.0

    @property
    def recall(self) -> float:
        due = self.true_positive + self.false_negative
        return self.true_positive / due if due else 1.0


def raised(candidate: Candidate, clip: Clip, width: int = 320) -> frozenset[WarningKind]:
    """The warnings a seat of `candidate` raises over `clip` (started at any point of it)."""
    rules = SeatCameraRules(THRESHOLDS)
    seat = candidate()
    started: set[WarningKind] = set()
    for second, picture in enumerate(clip.pictures):
        height = round(picture.shape[0] * width / picture.shape[1])
        small = cv2.resize(picture, (width, height), interpolation=cv2.INTER_AREA)
        observation = seat.observe(cv2.cvtColor(small, cv2.COLOR_RGB2BGR), float(second))
        started |= {t.kind for t in rules.observe(observation) if t.starts}
    return frozenset(started)


def score(candidate: Candidate, set_: Iterable[Clip] | None = None) -> dict[WarningKind, KindScore]:
    """Precision and recall of each seat warning kind over the set."""
    scores = {kind: KindScore() for kind in SEAT_KINDS}
    for clip in set_ if set_ is not None else clips():
        got = raised(candidate, clip)
        for kind, s in scores.items():
            if kind in got and kind in clip.expected:
                s.true_positive += 1
            elif kind in got:
                s.false_positive += 1
                s.wrong.append(f"{clip.name}+")
            elif kind in clip.expected:
                s.false_negative += 1
                s.wrong.append(f"{clip.name}-")
    return scores
