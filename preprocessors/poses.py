"""Detected people as OpenPose JSON (`people[].pose_keypoints_2d`, `canvas_width`, `canvas_height`): what
sd-webui-controlnet's /controlnet/detect returns as `poses` and what pose editors read and write."""

from __future__ import annotations

import numpy as np
from PIL import Image


def _flat(points, width: int, height: int) -> list[float] | None:
    """x, y in canvas pixels and a confidence per point; 0, 0, 0 for a point not found; None for a part not looked for."""
    if points is None:
        return None
    values: list[float] = []
    for point in points:
        if point is None or point.x < 0 or point.y < 0:
            values += [0.0, 0.0, 0.0]
        else:
            values += [round(float(point.x) * width, 2), round(float(point.y) * height, 2), round(float(point.score), 3)]
    return values


def pose_json(poses: list, width: int, height: int) -> dict:
    """controlnet-aux's PoseResults (coordinates as fractions of the image) -> OpenPose JSON on a width x height canvas."""
    people = [{"pose_keypoints_2d": _flat(pose.body.keypoints, width, height),
               "face_keypoints_2d": _flat(pose.face, width, height),
               "hand_left_keypoints_2d": _flat(pose.left_hand, width, height),
               "hand_right_keypoints_2d": _flat(pose.right_hand, width, height)} for pose in poses]
    return {"people": people, "canvas_width": width, "canvas_height": height}


def detect_pose_json(detector, picture: Image.Image, processor_res: int, include_hand: bool = False,
                     include_face: bool = False) -> dict:
    """The people in a picture, found at processor_res as the map is drawn, on a canvas the size of the map."""
    from controlnet_aux.util import HWC3, resize_image

    from preprocessors.normalise import short_side_size

    scaled = resize_image(HWC3(np.asarray(picture)), processor_res)
    width, height = short_side_size(picture.size, processor_res)  # the map's size rule, not the detector's rounding
    return pose_json(detector.detect_poses(scaled, include_hand=include_hand, include_face=include_face), width, height)
