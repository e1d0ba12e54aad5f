"""Detected people as OpenPose JSON (`people[].pose_keypoints_2d`, `canvas_width`, `canvas_height`): what
sd-webui-controlnet's /controlnet/detect returns as `poses` and what pose editors read and write."""

from __future__ import annotations

import numpy as np
from PIL import Image

from preprocessors.pose_edit import Person, PoseCanvas


def _points(points, width: int, height: int) -> tuple | None:
    """controlnet-aux's keypoints (fractions of the image) in canvas pixels; None for a point not found."""
    if points is None:
        return None
    return tuple(None if point is None or point.x < 0 or point.y < 0 else
                 (float(point.x) * width, float(point.y) * height, float(point.score)) for point in points)


def pose_json(poses: list, width: int, height: int) -> dict:
    """controlnet-aux's PoseResults (coordinates as fractions of the image) -> OpenPose JSON on a width x height canvas."""
    people = tuple(Person(body=_points(pose.body.keypoints, width, height), left_hand=_points(pose.left_hand, width, height),
                          right_hand=_points(pose.right_hand, width, height), face=_points(pose.face, width, height))
                   for pose in poses)
    return PoseCanvas(width=width, height=height, people=people).to_json()


def detect_pose_json(detector, picture: Image.Image, processor_res: int, include_hand: bool = False,
                     include_face: bool = False) -> dict:
    """The people in a picture, found at processor_res as the map is drawn, on a canvas the size of the map."""
    from controlnet_aux.util import HWC3, resize_image

    from preprocessors.normalise import short_side_size

    scaled = resize_image(HWC3(np.asarray(picture)), processor_res)
    width, height = short_side_size(picture.size, processor_res)  # the map's size rule, not the detector's rounding
    return pose_json(detector.detect_poses(scaled, include_hand=include_hand, include_face=include_face), width, height)
