"""People as editable keypoints: read and write OpenPose JSON (ours, sd-webui-controlnet's and sd-webui-openpose-editor's),
add, delete, mirror and scale a person, and draw the map with controlnet-aux's own OpenPose drawing."""

from __future__ import annotations

import json
from dataclasses import dataclass, replace

import numpy as np
from PIL import Image

from preprocessors.registry import PreprocessorError

Point = tuple[float, float, float]  # x, y in canvas pixels, confidence
PARTS = {"body": ("pose_keypoints_2d", 18), "left_hand": ("hand_left_keypoints_2d", 21),
         "right_hand": ("hand_right_keypoints_2d", 21), "face": ("face_keypoints_2d", 70)}
# OpenPose-18: nose, neck, then right/left shoulder-elbow-wrist, right/left hip-knee-ankle, right/left eye and ear.
BODY_NAMES = ("nose", "neck", "right shoulder", "right elbow", "right wrist", "left shoulder", "left elbow", "left wrist",
              "right hip", "right knee", "right ankle", "left hip", "left knee", "left ankle", "right eye", "left eye",
              "right ear", "left ear")
BODY_MIRROR = (0, 1, 5, 6, 7, 2, 3, 4, 11, 12, 13, 8, 9, 10, 15, 14, 17, 16)  # each point's left/right twin
# A person standing with arms a little out, as fractions of the canvas (drawn for this project).
DEFAULT_BODY = ((0.50, 0.16), (0.50, 0.28), (0.40, 0.28), (0.36, 0.42), (0.33, 0.55), (0.60, 0.28), (0.64, 0.42),
                (0.67, 0.55), (0.44, 0.55), (0.43, 0.72), (0.42, 0.88), (0.56, 0.55), (0.57, 0.72), (0.58, 0.88),
                (0.48, 0.14), (0.52, 0.14), (0.46, 0.15), (0.54, 0.15))
MAX_PEOPLE = 20
MAX_CANVAS_SIDE = 8192  # a detected map's canvas: 2048 on its short side, longer on a panorama
MAX_CANVAS_PIXELS = 2048 * 2048  # as the largest map a preprocessor may make (Limits.max_map_pixels' default)
MAX_JSON_CHARS = 2_000_000  # 20 people with hands and face are ~60 000 characters


@dataclass(frozen=True)
class Person:
    """One person's points (None where a point was not found); hands and face None when not looked for."""

    body: tuple[Point | None, ...]
    left_hand: tuple[Point | None, ...] | None = None
    right_hand: tuple[Point | None, ...] | None = None
    face: tuple[Point | None, ...] | None = None

    def points(self) -> list[Point]:
        return [point for part in PARTS for point in (getattr(self, part) or ()) if point is not None]

    def mapped(self, move) -> Person:
        """Every found point through `move(x, y) -> (x, y)`, confidences kept."""
        def part(points):
            return None if points is None else tuple(None if p is None else (*move(p[0], p[1]), p[2]) for p in points)
        return Person(**{name: part(getattr(self, name)) for name in PARTS})


@dataclass(frozen=True)
class PoseCanvas:
    """People on a canvas the size of the map they draw."""

    width: int
    height: int
    people: tuple[Person, ...] = ()

    @classmethod
    def from_json(cls, data: dict | str) -> PoseCanvas:
        """Pixel or normalised (0-1) coordinates, as pose editors write them; a point at x or y < 0 or with confidence 0
        is not found. Anything else is refused with a sentence (the JSON may come from a stranger's file)."""
        if isinstance(data, (str, bytes)):
            if len(data) > MAX_JSON_CHARS:
                raise PreprocessorError(f"This pose file is over {MAX_JSON_CHARS:,} characters; it is not an OpenPose pose.")
            try:
                data = json.loads(data)
            except ValueError:
                raise PreprocessorError("This pose file is not JSON; export one from a pose editor or from this studio.") from None
        if isinstance(data, list) and len(data) == 1:  # sd-webui-controlnet's detect endpoint returns a list of poses
            data = data[0]
        if not isinstance(data, dict) or not isinstance(data.get("people"), list):
            raise PreprocessorError("A pose JSON needs a `people` list (OpenPose format: people[].pose_keypoints_2d, "
                                    "canvas_width, canvas_height).")
        width, height = (_side(data, key) for key in ("canvas_width", "canvas_height"))
        if width * height > MAX_CANVAS_PIXELS:
            raise PreprocessorError(f"The pose's canvas is {width}x{height}, more than {MAX_CANVAS_PIXELS / 1e6:.1f} megapixels; "
                                    "scale the pose down first.")
        if len(data["people"]) > MAX_PEOPLE:
            raise PreprocessorError(f"This pose has {len(data['people'])} people; at most {MAX_PEOPLE} can be edited.")
        flat = [_numbers(person, key, size) for person in data["people"] for key, size in PARTS.values()
                if isinstance(person, dict)]
        found = [value for values in flat if values for value in _found_xy(values)]
        normalised = bool(found) and all(abs(value) <= 1.0 for value in found)
        scale = (width, height) if normalised else (1, 1)
        people = []
        for number, person in enumerate(data["people"]):
            if not isinstance(person, dict):
                raise PreprocessorError(f"Person {number} of the pose is not an object with keypoint lists.")
            parts = {name: _points(_numbers(person, key, size), scale) for name, (key, size) in PARTS.items()}
            if parts["body"] is None:
                parts["body"] = (None,) * 18
            people.append(Person(**parts))
        return cls(width=width, height=height, people=tuple(people))

    def to_json(self) -> dict:
        """OpenPose JSON in canvas pixels; a point not found is 0, 0, 0 (what detectors write)."""
        def flat(points):
            if points is None:
                return None
            return [value for point in points for value in ((0.0, 0.0, 0.0) if point is None else
                                                            (round(point[0], 2), round(point[1], 2), round(point[2], 3)))]
        people = [{key: flat(getattr(person, name)) for name, (key, _) in PARTS.items()} for person in self.people]
        return {"people": people, "canvas_width": self.width, "canvas_height": self.height}

    def render(self) -> Image.Image:
        """The OpenPose map, drawn by controlnet-aux exactly as its detector draws what it finds."""
        from controlnet_aux.open_pose import PoseResult, draw_poses
        from controlnet_aux.open_pose.body import BodyResult, Keypoint

        def keypoints(points, missing):
            if points is None:
                return None
            return [missing if p is None else Keypoint(p[0] / self.width, p[1] / self.height, p[2]) for p in points]

        poses = [PoseResult(BodyResult(keypoints(person.body, None), 0.0, len([p for p in person.body if p])),
                            keypoints(person.left_hand, Keypoint(0.0, 0.0, 0.0)),
                            keypoints(person.right_hand, Keypoint(0.0, 0.0, 0.0)),
                            keypoints(person.face, Keypoint(0.0, 0.0, 0.0))) for person in self.people]
        return Image.fromarray(np.ascontiguousarray(draw_poses(poses, self.height, self.width)))

    def _person(self, index: int) -> Person:
        if not isinstance(index, int) or not 0 <= index < len(self.people):
            raise PreprocessorError(f"There is no person {index} in this pose ({len(self.people)} people); pick one first.")
        return self.people[index]

    def _with(self, index: int, person: Person | None) -> PoseCanvas:
        self._person(index)
        people = list(self.people)
        if person is None:
            del people[index]
        else:
            people[index] = person
        return replace(self, people=tuple(people))

    def with_person(self) -> PoseCanvas:
        """A person in the default standing pose, filling the canvas's height, in the middle."""
        if len(self.people) >= MAX_PEOPLE:
            raise PreprocessorError(f"A pose holds at most {MAX_PEOPLE} people; delete one first.")
        side = min(self.width, self.height)
        body = tuple(((x - 0.5) * side + self.width / 2, (y - 0.5) * side + self.height / 2, 1.0) for x, y in DEFAULT_BODY)
        return replace(self, people=(*self.people, Person(body=body)))

    def without(self, index: int) -> PoseCanvas:
        return self._with(index, None)

    def mirrored(self, index: int) -> PoseCanvas:
        """Flip a person left to right about their own middle; their right side becomes their left (body and hands)."""
        person = self._person(index)
        middle = _middle(person)
        flipped = person.mapped(lambda x, y: (2 * middle[0] - x, y))
        body = tuple(flipped.body[BODY_MIRROR[i]] for i in range(len(flipped.body)))
        return self._with(index, replace(flipped, body=body, left_hand=flipped.right_hand, right_hand=flipped.left_hand))

    def scaled(self, index: int, factor: float) -> PoseCanvas:
        """Grow or shrink a person about their own middle."""
        if not 0.1 <= float(factor) <= 10:
            raise PreprocessorError(f"Scale a person by a factor between 0.1 and 10, not {factor}.")
        person = self._person(index)
        mx, my = _middle(person)
        return self._with(index, person.mapped(lambda x, y: (mx + (x - mx) * factor, my + (y - my) * factor)))


def _side(data: dict, key: str) -> int:
    value = data.get(key)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 8 <= value <= MAX_CANVAS_SIDE:
        raise PreprocessorError(f"The pose's {key} must be a number of pixels between 8 and {MAX_CANVAS_SIDE}, got {value!r}.")
    return int(value)


def _numbers(person: dict, key: str, size: int) -> list[float] | None:
    values = person.get(key)
    if values is None or values == []:
        return None
    if not isinstance(values, list) or len(values) != size * 3 or \
            not all(isinstance(v, (int, float)) and not isinstance(v, bool) and abs(v) < 1e6 for v in values):
        raise PreprocessorError(f"{key} must list {size} points as x, y, confidence ({size * 3} numbers).")
    return [float(v) for v in values]


def _found_xy(values: list[float]) -> list[float]:
    return [v for i in range(0, len(values), 3) if values[i + 2] > 0 and values[i] >= 0 and values[i + 1] >= 0
            for v in values[i:i + 2]]


def _points(values: list[float] | None, scale: tuple[int, int]) -> tuple[Point | None, ...] | None:
    if values is None:
        return None
    return tuple((values[i] * scale[0], values[i + 1] * scale[1], values[i + 2])
                 if values[i + 2] > 0 and values[i] >= 0 and values[i + 1] >= 0 else None for i in range(0, len(values), 3))


def _middle(person: Person) -> tuple[float, float]:
    points = person.points()
    if not points:
        raise PreprocessorError("This person has no points to move.")
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    return (min(xs) + max(xs)) / 2, (min(ys) + max(ys)) / 2
