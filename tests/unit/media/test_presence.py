"""Who is at a seat: BlazeFace's faces and the person's movement, on the labelled camera set."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from media import presence
from media.analysis import RoomAnalysis, colour
from media.presence import FaceDetector, ModelMissing, SeatPresence, moved, person_region
from roomserver.warnings import WarningKind, WarningThresholds
from tests import camera_set, scenes


def picture(rgb: np.ndarray, counter: int | None = None) -> np.ndarray:
    """The scene as the analysis samples it: decoded, 320 wide, BGR."""
    return colour(scenes.decoded(rgb, counter), 320)


@pytest.mark.parametrize(("scene", "faces"), scenes.FACES)
def test_faces_in_the_scenes(scene: object, faces: int) -> None:
    bgr = picture(scene())  # type: ignore[operator]
    assert bgr.shape == (240, 320, 3)
    found = FaceDetector().detect(bgr)
    assert len(found) == faces
    for box in found:
        assert 0 <= box.x < 320 and 0 <= box.y < 240 and box.w > 20 and box.score >= 0.5


def test_the_set_is_judged_at_least_as_well_as_by_the_frontal_cascade() -> None:
    """Each warning kind's precision and recall over the labelled set, the product's detector
    against OpenCV's frontal face cascade (the analysis before it): never worse, and better on
    the people the cascade missed."""
    product = camera_set.score(camera_set.blazeface())
    cascade = camera_set.score(camera_set.cascade())
    for kind in camera_set.SEAT_KINDS:
        assert product[kind].precision >= cascade[kind].precision, (kind, product[kind].wrong)
        assert product[kind].recall >= cascade[kind].recall, (kind, product[kind].wrong)
    # A head tilted, bent, turned away or masked is somebody at the seat; two are two.
    assert product[WarningKind.SEAT_EMPTY].wrong == ["bent_from_start+"]
    assert product[WarningKind.EXTRA_FACE].wrong == []
    assert product[WarningKind.SEAT_EMPTY].recall == 1.0


def test_a_person_who_moves_where_a_face_was_is_present() -> None:
    person, empty = picture(scenes.one_person()), picture(scenes.empty_seat())
    faces = FaceDetector().detect(person)
    seat = SeatPresence()
    first = seat.observe(cv2.cvtColor(person, cv2.COLOR_BGR2GRAY), faces, 0.0)
    assert first.faces == 1 and not first.moved  # nothing to compare with yet
    shifted = np.roll(person, 4, axis=1)
    gray = cv2.cvtColor(shifted, cv2.COLOR_BGR2GRAY)
    assert seat.observe(gray, [], 1.0).moved  # the face is gone from view, the person moved
    assert not seat.observe(gray, [], 2.0).moved  # the same picture again
    assert seat.observe(cv2.cvtColor(empty, cv2.COLOR_BGR2GRAY), [], 3.0).moved  # got up
    assert not seat.observe(cv2.cvtColor(empty, cv2.COLOR_BGR2GRAY), [], 4.0).moved  # gone


def test_light_and_changes_outside_the_person_are_no_movement() -> None:
    person = picture(scenes.one_person(), counter=1)
    (face,) = FaceDetector().detect(person)
    region = person_region([face], 320, 240)
    gray = cv2.cvtColor(person, cv2.COLOR_BGR2GRAY)
    darker = cv2.convertScaleAbs(gray, alpha=0.8)
    assert not moved(darker, gray, region)  # the light or the exposure changed, nobody moved
    # The frame counter at the top of the test cameras changes; it is no person.
    counted = cv2.cvtColor(picture(scenes.one_person(), counter=2), cv2.COLOR_BGR2GRAY)
    assert region[1] > 32 and not moved(counted, gray, region)
    # A seat where no face was seen has no person's region: movement says nothing there.
    seat = SeatPresence()
    seat.observe(cv2.cvtColor(picture(scenes.empty_seat()), cv2.COLOR_BGR2GRAY), [], 0.0)
    assert not seat.observe(gray, [], 1.0).moved


async def test_a_room_without_the_face_model_does_not_start(
    monkeypatch: pytest.MonkeyPatch, tmp_path: object
) -> None:
    monkeypatch.setattr(presence, "MODELS_DIR", tmp_path)
    analysis = RoomAnalysis(name="test", thresholds=WarningThresholds())
    with pytest.raises(ModelMissing, match="make install"):
        await analysis.start()
    await analysis.close()
