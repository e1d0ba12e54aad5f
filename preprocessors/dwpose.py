"""DWPose, the whole-body pose estimator (body, feet, hands, face): yzd-v/DWPose's two ONNX files run by OpenCV's dnn
module, as AUTOMATIC1111's ControlNet extension runs them (no mmpose, no onnxruntime), and drawn by controlnet-aux's
OpenPose code (this detector is an OpenposeDetector whose people come from DWPose), so the openpose ControlNet, the
pose JSON and the pose editor read its maps as they read OpenPose's.

Written by hand, as no maintained library decodes these files without mmpose: YOLOX's grid decoding of the person
boxes, the top-down crop around each person and SimCC's argmax decoding. NMS and the affine warp are OpenCV's.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
from controlnet_aux.open_pose import BodyResult, Keypoint, OpenposeDetector, PoseResult

from preprocessors.registry import DWPOSE_FILES

DETECTOR_FILE, POSE_FILE = DWPOSE_FILES
DETECT_SIZE = 640  # YOLOX-L's square input; the picture is scaled into it and padded with grey 114
STRIDES = (8, 16, 32)
POSE_SIZE = (288, 384)  # RTMPose's input, width x height; SimCC scores each axis in half-pixel bins
BOX_PADDING = 1.25  # the crop around a person box, as mmpose's top-down models were trained
PERSON_SCORE, NMS_IOU, BOX_SCORE = 0.3, 0.45, 0.1
KEYPOINT_SCORE = 0.3  # DWPose draws a point only above this
MAX_PEOPLE = 20  # a shared link's picture cannot ask for unbounded pose-model runs
MEAN = np.array([123.675, 116.28, 103.53], dtype=np.float32)  # RTMPose's ImageNet normalisation, RGB order
STD = np.array([58.395, 57.12, 57.375], dtype=np.float32)

# COCO-WholeBody's 133 points: 0-16 the COCO body, 17-22 feet, 23-90 face (68), 91-111 left hand, 112-132 right hand.
# OpenPose's 18 body points by COCO index (nose, neck, right arm, left arm, right leg, left leg, right eye, left eye,
# right ear, left ear); OpenPose's neck is not a COCO point: it is the shoulders' midpoint.
NECK = -1
OPENPOSE_FROM_COCO = (0, NECK, 6, 8, 10, 5, 7, 9, 12, 14, 16, 11, 13, 15, 2, 1, 4, 3)
FACE, LEFT_HAND, RIGHT_HAND = slice(23, 91), slice(91, 112), slice(112, 133)


def _grid() -> tuple[np.ndarray, np.ndarray]:
    """Each YOLOX output row's cell (x, y) and stride, in the order the heads are concatenated."""
    cells, strides = [], []
    for stride in STRIDES:
        side = DETECT_SIZE // stride
        ys, xs = np.mgrid[0:side, 0:side]
        cells.append(np.stack([xs.ravel(), ys.ravel()], axis=1))
        strides.append(np.full((side * side, 1), stride))
    return np.concatenate(cells).astype(np.float32), np.concatenate(strides).astype(np.float32)


class DWposeDetector(OpenposeDetector):
    """controlnet-aux's OpenPose pipeline (resize, draw, resize) with DWPose finding the people."""

    def __init__(self, detector_net, pose_net) -> None:  # noqa: D107 (the parent's networks are not used)
        self.detector_net, self.pose_net = detector_net, pose_net
        self.cells, self.strides = _grid()

    @classmethod
    def from_folder(cls, folder: Path) -> DWposeDetector:
        return cls(cv2.dnn.readNetFromONNX(str(Path(folder) / DETECTOR_FILE)),
                   cv2.dnn.readNetFromONNX(str(Path(folder) / POSE_FILE)))

    def to(self, device: str) -> DWposeDetector:
        return self  # OpenCV's CPU backend, as A1111's extension runs it

    def people(self, rgb: np.ndarray) -> np.ndarray:
        """Person boxes (x0, y0, x1, y1) in the picture's pixels, best first."""
        height, width = rgb.shape[:2]
        ratio = min(DETECT_SIZE / height, DETECT_SIZE / width)
        scaled = cv2.resize(rgb[..., ::-1], (max(1, int(width * ratio)), max(1, int(height * ratio))))  # YOLOX reads BGR
        padded = np.full((DETECT_SIZE, DETECT_SIZE, 3), 114, dtype=np.float32)
        padded[:scaled.shape[0], :scaled.shape[1]] = scaled
        self.detector_net.setInput(padded.transpose(2, 0, 1)[None])
        rows = self.detector_net.forward()[0]
        centres = (rows[:, :2] + self.cells) * self.strides
        sizes = np.exp(np.minimum(rows[:, 2:4], 20.0)) * self.strides
        classes = rows[:, 5:].argmax(axis=1)
        scores = rows[:, 4] * rows[:, 5:].max(axis=1)
        corners = np.concatenate([centres - sizes / 2, sizes], axis=1) / ratio
        kept = cv2.dnn.NMSBoxes(corners.tolist(), scores.tolist(), BOX_SCORE, NMS_IOU)  # class-agnostic, as DWPose's
        kept = [int(i) for i in np.asarray(kept).ravel() if classes[i] == 0 and scores[i] > PERSON_SCORE][:MAX_PEOPLE]
        boxes = corners[kept].copy()
        boxes[:, 2:] += boxes[:, :2]
        return boxes

    def keypoints(self, rgb: np.ndarray, box: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The 133 whole-body points (x, y in the picture's pixels) of the person in the box, and their scores."""
        width, height = POSE_SIZE
        centre = (box[:2] + box[2:]) / 2
        size = (box[2:] - box[:2]) * BOX_PADDING
        size = np.maximum(size, [size[1] * width / height, size[0] * height / width])  # the input's aspect, never cropping
        corner = centre - size / 2
        source = np.float32([corner, corner + [size[0], 0], corner + [0, size[1]]])
        target = np.float32([[0, 0], [width, 0], [0, height]])
        crop = cv2.warpAffine(rgb, cv2.getAffineTransform(source, target), (width, height), flags=cv2.INTER_LINEAR)
        self.pose_net.setInput(((crop.astype(np.float32) - MEAN) / STD).transpose(2, 0, 1)[None])
        x_bins, y_bins = (out[0] for out in self.pose_net.forward(["simcc_x", "simcc_y"]))
        bins = np.stack([x_bins.argmax(axis=1), y_bins.argmax(axis=1)], axis=1) / 2.0  # half-pixel bins
        scores = np.minimum(x_bins.max(axis=1), y_bins.max(axis=1))
        return bins / [width, height] * size + corner, scores

    def detect_poses(self, oriImg, include_hand: bool = False, include_face: bool = False) -> list[PoseResult]:
        """controlnet-aux's PoseResults (fractions of the picture) for everyone DWPose finds."""
        rgb = np.ascontiguousarray(oriImg)
        height, width = rgb.shape[:2]
        found = []
        for box in self.people(rgb):
            points, scores = self.keypoints(rgb, box)
            found.append(to_openpose(points / [width, height], scores, include_hand, include_face))
        return found


def to_openpose(points: np.ndarray, scores: np.ndarray, include_hand: bool = True, include_face: bool = True) -> PoseResult:
    """133 COCO-WholeBody points (fractions of the picture) -> OpenPose's body, hands and face, as controlnet-aux holds
    them: a body point not found is None, a hand or face point not found is at (-1, -1)."""
    seen = scores > KEYPOINT_SCORE

    def body_point(index: int) -> Keypoint | None:
        if index == NECK:
            if not (seen[5] and seen[6]):
                return None
            x, y = (points[5] + points[6]) / 2
            return Keypoint(float(x), float(y), float(min(scores[5], scores[6])), 1)
        return Keypoint(float(points[index, 0]), float(points[index, 1]), float(scores[index]), index) if seen[index] else None

    def part(span: slice, wanted: bool) -> list[Keypoint] | None:
        if not wanted or not seen[span].any():
            return None  # as controlnet-aux says a hand or face it did not find
        return [Keypoint(float(x), float(y), float(s)) if ok else Keypoint(-1.0, -1.0, float(s))
                for (x, y), s, ok in zip(points[span], scores[span], seen[span])]

    body = [body_point(index) for index in OPENPOSE_FROM_COCO]
    total = float(sum(point.score for point in body if point is not None))
    return PoseResult(BodyResult(body, total, sum(point is not None for point in body)),
                      part(LEFT_HAND, include_hand), part(RIGHT_HAND, include_hand), part(FACE, include_face))
