"""OpenPose JSON of the detected people: pixel coordinates on the canvas the map is drawn at, 0,0,0 for a point not
found, null for a part not looked for (the format sd-webui-controlnet's detect and pose editors use)."""

from __future__ import annotations

from controlnet_aux.open_pose import PoseResult
from controlnet_aux.open_pose.body import BodyResult, Keypoint

from preprocessors.poses import pose_json


def test_fractions_become_canvas_pixels_and_missing_points_zeros():
    body = [Keypoint(0.5, 0.25, 0.9), None] + [Keypoint(0.1, 0.2)] * 16
    hand = [Keypoint(0.75, 0.5)] * 21
    pose = PoseResult(BodyResult(body, total_score=10.0, total_parts=17), left_hand=hand, right_hand=None, face=None)
    result = pose_json([pose], width=640, height=480)
    assert (result["canvas_width"], result["canvas_height"]) == (640, 480)
    [person] = result["people"]
    assert person["pose_keypoints_2d"][:6] == [320.0, 120.0, 0.9, 0.0, 0.0, 0.0]
    assert len(person["pose_keypoints_2d"]) == 18 * 3
    assert person["hand_left_keypoints_2d"][:3] == [480.0, 240.0, 1.0] and len(person["hand_left_keypoints_2d"]) == 63
    assert person["hand_right_keypoints_2d"] is None and person["face_keypoints_2d"] is None


def test_the_runner_finds_people_on_the_maps_canvas_and_refuses_other_modules(runner, astronaut):
    picture = astronaut.resize((256, 192))
    found = runner.poses("openpose_full", picture, processor_res=128)
    assert (found["canvas_width"], found["canvas_height"]) == runner.run("openpose_full", picture, 128).size == (171, 128)
    for person in found["people"]:  # random annotator weights: any number of people, each in the full format
        assert len(person["pose_keypoints_2d"]) == 54
    assert runner.poses("canny", astronaut, 128) is None
