"""The pose model behind the pose editor: OpenPose JSON in and out, drawn by controlnet-aux, and the edits (add, delete,
mirror, scale) an artist makes."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from controlnet_aux.open_pose import PoseResult, draw_poses
from controlnet_aux.open_pose.body import BodyResult, Keypoint

from preprocessors import PreprocessorError
from preprocessors.pose_edit import BODY_NAMES, PoseCanvas

FIXTURES = Path(__file__).parent / "fixtures"
RIGHT_WRIST, LEFT_WRIST = BODY_NAMES.index("right wrist"), BODY_NAMES.index("left wrist")
JOINT_COLOURS = ((255, 0, 0), (255, 85, 0), (255, 170, 0), (255, 255, 0), (170, 255, 0))  # controlnet-aux's first five


def joint_centre(picture, colour) -> tuple[float, float]:
    """Where a joint of this exact colour is drawn (its filled circle's middle)."""
    ys, xs = np.nonzero(np.all(np.asarray(picture) == colour, axis=-1))
    assert len(xs), f"no pixel of colour {colour}"
    return float(xs.mean()), float(ys.mean())


def editor_fixture() -> dict:
    return json.loads((FIXTURES / "openpose_editor_normalised.json").read_text())


def test_the_openpose_editors_normalised_format_imports_on_its_canvas():
    pose = PoseCanvas.from_json(editor_fixture())
    assert (pose.width, pose.height) == (768, 512)
    [person] = pose.people
    assert person.body[0][:2] == pytest.approx((0.47 * 768, 0.30 * 512))
    assert person.body[10] is None and person.body[13] is None  # confidence 0: not found
    assert len(person.left_hand) == 21 and person.right_hand is None and person.face is None


def test_pixel_coordinates_with_minus_one_for_missing_points_import():
    pose = PoseCanvas.from_json((FIXTURES / "openpose_pixels.json").read_text())
    assert (pose.width, pose.height) == (256, 384)
    assert pose.people[0].body[10] is None
    assert pose.people[0].body[RIGHT_WRIST][:2] == pytest.approx((0.26 * 256, 0.70 * 384), abs=0.1)


def test_the_map_is_controlnet_aux_drawing_of_the_same_keypoints():
    data = editor_fixture()
    body = data["people"][0]["pose_keypoints_2d"]
    hand = data["people"][0]["hand_left_keypoints_2d"]
    keypoints = [Keypoint(body[i], body[i + 1]) if body[i + 2] else None for i in range(0, 54, 3)]
    expected = draw_poses([PoseResult(BodyResult(keypoints, 0.0, 16), [Keypoint(hand[i], hand[i + 1]) for i in range(0, 63, 3)],
                                      None, None)], 512, 768)
    assert np.array_equal(np.asarray(PoseCanvas.from_json(data).render()), expected)


def test_export_then_import_gives_the_same_map():
    pose = PoseCanvas.from_json(editor_fixture()).with_person().mirrored(1)
    again = PoseCanvas.from_json(json.dumps(pose.to_json()))
    assert np.array_equal(np.asarray(again.render()), np.asarray(pose.render()))
    assert again.to_json() == pose.to_json()


def test_moving_the_right_wrist_moves_its_joint_in_the_map():
    data = editor_fixture()
    pose = PoseCanvas.from_json(data)
    before = joint_centre(pose.render(), JOINT_COLOURS[RIGHT_WRIST])
    data["people"][0]["pose_keypoints_2d"][RIGHT_WRIST * 3] += 60 / 768  # 60 canvas pixels to the right
    after = joint_centre(PoseCanvas.from_json(data).render(), JOINT_COLOURS[RIGHT_WRIST])
    assert after[0] - before[0] == pytest.approx(60, abs=1) and after[1] == pytest.approx(before[1], abs=1)


def test_add_delete_mirror_and_scale_a_person():
    empty = PoseCanvas(width=512, height=512)
    assert not np.asarray(empty.render()).any()
    one = empty.with_person()
    assert len(one.people) == 1 and all(0 <= x < 512 and 0 <= y < 512 for x, y, _ in one.people[0].points())
    assert np.asarray(one.render()).any()
    two = one.with_person()
    assert len(two.people) == 2 and two.without(0).people == (one.people[0],)

    shifted = PoseCanvas.from_json(editor_fixture())
    person = shifted.people[0]
    flipped = shifted.mirrored(0).people[0]
    xs = [p[0] for p in person.points()]
    middle = (min(xs) + max(xs)) / 2
    # the right wrist's mirror image is now the person's left wrist, and the hand changes side with it
    assert flipped.body[LEFT_WRIST][:2] == pytest.approx((2 * middle - person.body[RIGHT_WRIST][0], person.body[RIGHT_WRIST][1]))
    assert flipped.right_hand is not None and flipped.left_hand is None
    assert shifted.mirrored(0).mirrored(0).to_json() == shifted.to_json()

    bigger = shifted.scaled(0, 2.0).people[0]
    width = lambda who: max(p[0] for p in who.points()) - min(p[0] for p in who.points())  # noqa: E731
    assert width(bigger) == pytest.approx(2 * width(person))


@pytest.mark.parametrize("text, words", [
    ("not json", "not JSON"),
    ('{"canvas_width": 512, "canvas_height": 512}', "people"),
    ('{"people": [], "canvas_width": 99999, "canvas_height": 512}', "canvas_width"),
    ('{"people": [], "canvas_width": 8000, "canvas_height": 8000}', "megapixels"),
    ('{"people": [{"pose_keypoints_2d": [1, 2]}], "canvas_width": 512, "canvas_height": 512}', "18 points"),
    ('{"people": [' + ",".join(['{"pose_keypoints_2d": null}'] * 21) + '], "canvas_width": 512, "canvas_height": 512}',
     "at most 20"),
])
def test_a_bad_pose_file_is_refused_with_a_sentence(text, words):
    with pytest.raises(PreprocessorError, match=words):
        PoseCanvas.from_json(text)


def test_an_edit_names_a_person_that_exists():
    with pytest.raises(PreprocessorError, match="no person 3"):
        PoseCanvas(width=64, height=64).with_person().mirrored(3)
