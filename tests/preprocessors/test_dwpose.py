"""DWPose: its decoding by hand (person boxes, the crop, SimCC), its networks from the hub files, and its drawing, which
must be controlnet-aux's OpenPose drawing of the same people so the openpose ControlNet reads it."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from controlnet_aux.open_pose import BodyResult, Keypoint, PoseResult, draw_poses
from huggingface_hub import hf_hub_download

from preprocessors.dwpose import DWposeDetector
from preprocessors.registry import DWPOSE
from tests.dwpose_files import DETECTOR_FILE, POSE_FILE, detector_from_file, simcc_from_file

# COCO-WholeBody's first 17 points, by name (the order the DWPose files write them)
COCO = ("nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder", "right_shoulder", "left_elbow",
        "right_elbow", "left_wrist", "right_wrist", "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle",
        "right_ankle")
# OpenPose's 18 body points, by name (the order controlnet-aux draws and colours them)
OPENPOSE = ("nose", "neck", "right_shoulder", "right_elbow", "right_wrist", "left_shoulder", "left_elbow", "left_wrist",
            "right_hip", "right_knee", "right_ankle", "left_hip", "left_knee", "left_ankle", "right_eye", "left_eye",
            "right_ear", "left_ear")
RIGHT_WRIST_COLOUR = (170, 255, 0)  # controlnet-aux's colour for OpenPose point 4
W, H = 256, 384


class _Net:
    """Stands in for a cv2.dnn network: records its input, answers fixed outputs."""

    def __init__(self, *outputs):
        self.outputs, self.given = outputs, None

    def setInput(self, blob):  # noqa: N802 (OpenCV's name)
        self.given = blob

    def forward(self, names=None):
        return list(self.outputs) if names else self.outputs[0]


def _whole_body(rng) -> tuple[dict, np.ndarray, np.ndarray]:
    """A person as named body points, and the same person as DWPose's 133 points (pixels) with scores."""
    named = {name: (60 + 140 * rng.random(), 40 + 300 * rng.random()) for name in COCO}
    named["right_wrist"], named["left_ankle"] = (70.0, 260.0), (150.0, 350.0)
    points = np.zeros((133, 2))
    points[:17] = [named[name] for name in COCO]
    points[17:] = np.stack([60 + 140 * rng.random(116), 40 + 300 * rng.random(116)], axis=1)
    scores = np.full(133, 0.9)
    scores[COCO.index("left_knee")] = 0.1  # not seen: OpenPose draws no point and no limb for it
    scores[100] = 0.05  # one left-hand point not seen
    return named, points, scores


def _expected(named: dict, points: np.ndarray, scores: np.ndarray) -> PoseResult:
    """The same person as controlnet-aux's OpenPose would hold it, built by joint name."""
    def at(xy, score=0.9):
        return Keypoint(xy[0] / W, xy[1] / H, score)

    body = {name: at(xy) for name, xy in named.items() if name != "left_knee"}
    body["neck"] = at(((named["left_shoulder"][0] + named["right_shoulder"][0]) / 2,
                       (named["left_shoulder"][1] + named["right_shoulder"][1]) / 2))
    hands = [[at(points[i]) if scores[i] > 0.3 else Keypoint(-1, -1) for i in range(first, first + 21)] for first in (91, 112)]
    face = [at(points[i]) for i in range(23, 91)]
    return PoseResult(BodyResult([body.get(name) for name in OPENPOSE], 0, 0), hands[0], hands[1], face)


def test_the_drawing_is_controlnet_aux_openpose_drawing_of_the_same_people():
    named, points, scores = _whole_body(np.random.default_rng(0))
    detector = DWposeDetector(None, None)
    detector.people = lambda rgb: np.array([[50.0, 30.0, 210.0, 350.0]])
    detector.keypoints = lambda rgb, box: (points, scores)
    drawn = np.asarray(detector(np.zeros((H, W, 3), np.uint8), detect_resolution=W, image_resolution=W,
                                include_hand=True, include_face=True, output_type="np"))
    expected = draw_poses([_expected(named, points, scores)], H, W)
    assert drawn.shape == (H, W, 3) and np.array_equal(drawn, expected)
    wrist = np.all(drawn == RIGHT_WRIST_COLOUR, axis=-1)
    ys, xs = np.nonzero(wrist)
    assert abs(xs.mean() - 70) < 3 and abs(ys.mean() - 260) < 3  # the right wrist where the person's is
    face_dots = np.all(drawn == (255, 255, 255), axis=-1).sum()
    assert face_dots > 68 * 10  # white face points (controlnet-aux draws them 3 px wide)

    bodies_only = np.asarray(detector(np.zeros((H, W, 3), np.uint8), detect_resolution=W, image_resolution=W, output_type="np"))
    assert np.array_equal(bodies_only, draw_poses([_expected(named, points, scores)], H, W, draw_hand=False, draw_face=False))


def test_person_boxes_are_decoded_from_the_grid_and_scaled_back_to_the_picture():
    rows = np.zeros((8400, 85), np.float32)
    rows[:, 4] = 0.01  # nothing anywhere...
    cell = 80 * 80 + 10 * 40 + 20  # ...but stride 16's cell (x 20, y 10), a person
    rows[cell, :4] = [0.5, 0.25, np.log(4.0), np.log(8.0)]  # centre (20.5, 10.25) cells, 4 x 8 cells
    rows[cell, 4], rows[cell, 5] = 0.9, 0.8
    far = 80 * 80 + 40 * 40 + 2 * 20 + 3  # stride 32's cell (x 3, y 2): a sure box, but more likely a bicycle
    rows[far, :7] = [0.5, 0.5, 0.0, 0.0, 0.95, 0.4, 0.9]
    detector = DWposeDetector(_Net(rows[None]), None)
    picture = np.zeros((480, 320, 3), np.uint8)  # 640/480: scaled by 4/3 into the detector's square
    boxes = detector.people(picture)
    centre, size = np.array([20.5, 10.25]) * 16, np.array([4, 8]) * 16
    assert boxes.shape == (1, 4)
    assert np.allclose(boxes[0], np.concatenate([centre - size / 2, centre + size / 2]) * 0.75, atol=1e-3)
    given = detector.detector_net.given
    assert given.shape == (1, 3, 640, 640) and (given[0, :, :, 427:] == 114).all()  # padded right of 320*4/3 px


def test_keypoints_come_back_through_the_crop_around_the_person():
    picture = np.zeros((300, 400, 3), np.uint8)
    picture[150, 140] = (255, 0, 0)  # the box's centre, red
    x_bins, y_bins = np.zeros((1, 133, 576), np.float32), np.zeros((1, 133, 768), np.float32)
    x_bins[0, 0, 288], y_bins[0, 0, 384] = 1.0, 1.0  # point 0 at the crop's centre
    x_bins[0, 1, 0], y_bins[0, 1, 767] = 0.2, 1.0  # point 1 at its left and bottom edges, scored 0.2
    net = _Net(x_bins, y_bins)
    points, scores = DWposeDetector(None, net).keypoints(picture, np.array([100.0, 50.0, 180.0, 250.0]))
    # the 80x200 box padded by 1.25 (100x250), widened to the input's 3:4 aspect: 187.5x250 around (140, 150)
    assert np.allclose(points[0], [140, 150]) and np.allclose(points[1], [140 - 93.75, 150 + 125 - 0.5 * 250 / 384])
    assert scores[0] == pytest.approx(1.0) and scores[1] == pytest.approx(0.2)
    crop = net.given[0].transpose(1, 2, 0)
    assert crop.shape == (384, 288, 3)
    red = np.unravel_index(np.argmax(crop[..., 0] - crop[..., 1]), crop.shape[:2])
    assert abs(red[0] - 192) <= 2 and abs(red[1] - 144) <= 2  # the box's centre is the crop's centre


def test_both_networks_are_the_hub_files(runner):
    runner.load("dw_openpose_full")
    detector = runner._detectors["dwpose"]
    rng = np.random.default_rng(3)
    images = rng.uniform(0, 255, (1, 3, 640, 640)).astype(np.float32)
    detector.detector_net.setInput(images)
    expected = detector_from_file(onnx.load(hf_hub_download(DWPOSE, DETECTOR_FILE, local_files_only=True)), images)
    assert np.allclose(detector.detector_net.forward()[0], expected, atol=1e-4)
    crop = rng.normal(size=(1, 3, 384, 288)).astype(np.float32)
    detector.pose_net.setInput(crop)
    got_x, got_y = detector.pose_net.forward(["simcc_x", "simcc_y"])
    want_x, want_y = simcc_from_file(onnx.load(hf_hub_download(DWPOSE, POSE_FILE, local_files_only=True)), crop)
    assert np.allclose(got_x[0], want_x, atol=1e-4) and np.allclose(got_y[0], want_y, atol=1e-4)


def test_people_found_become_openpose_json_for_the_pose_editor(runner, astronaut):
    found = runner.poses("dw_openpose_full", astronaut, 128)
    assert (found["canvas_width"], found["canvas_height"]) == (128, 128)
    for person in found["people"]:
        assert len(person["pose_keypoints_2d"]) == 18 * 3
    assert runner.poses("seg_ufade20k", astronaut, 128) is None
