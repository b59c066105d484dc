"""Run NudeNet's detector on an image and read its raw output, without a Python loop per box.

NudeNet ships its ONNX weights (a YOLOv8n at 320×320) inside the package. Its own ``detect``
walks the model's 2100 candidate boxes one by one in Python, which costs about as much as the
network itself (~6 ms an image on a 2-core CPU) and sits between every finished job and its
delivery. This module reads the same output with numpy, in one pass, and keeps NudeNet's
rules: a candidate counts when its best class scores at least 0.2, boxes are scaled back to
the image and clipped to it, and OpenCV's class-agnostic non-maximum suppression (score 0.25,
overlap 0.45) picks the survivors. ``tests/bot/moderation/test_nudity_detector.py`` checks the
detections against NudeNet's own reading.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import nudenet
import numpy as np
import onnxruntime

INPUT_SIDE = 320
CANDIDATE_SCORE = 0.2
NMS_SCORE = 0.25
NMS_OVERLAP = 0.45
# The class order of NudeNet's 320n model, as the package documents it.
LABELS = (
    "FEMALE_GENITALIA_COVERED",
    "FACE_FEMALE",
    "BUTTOCKS_EXPOSED",
    "FEMALE_BREAST_EXPOSED",
    "FEMALE_GENITALIA_EXPOSED",
    "MALE_BREAST_EXPOSED",
    "ANUS_EXPOSED",
    "FEET_EXPOSED",
    "BELLY_COVERED",
    "FEET_COVERED",
    "ARMPITS_COVERED",
    "ARMPITS_EXPOSED",
    "FACE_MALE",
    "BELLY_EXPOSED",
    "MALE_GENITALIA_EXPOSED",
    "ANUS_COVERED",
    "FEMALE_BREAST_COVERED",
    "BUTTOCKS_COVERED",
)


@dataclass(frozen=True)
class Detection:
    """One body part found in an image: its class, confidence and box (x, y, w, h) in pixels."""

    label: str
    score: float
    box: tuple[int, int, int, int]


class NudityDetector:
    """NudeNet's shipped model in an ONNX Runtime session (one image per call)."""

    def __init__(self, model_path: Path | None = None) -> None:
        path = model_path or Path(nudenet.__file__).with_name("320n.onnx")
        self._session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        self._input_name = self._session.get_inputs()[0].name

    def detect(self, rgb: np.ndarray) -> list[Detection]:
        """Return the body parts found in an RGB image (height × width × 3, uint8)."""
        # NudeNet's preprocessing swaps the channels twice, so the network sees the order it
        # is handed, and its normal use (a file read by OpenCV) hands it BGR: keep that.
        blob = model_input(rgb[:, :, ::-1])
        (output, *_) = self._session.run(None, {self._input_name: blob})
        height, width = rgb.shape[:2]
        return read_output(output, width, height)


def model_input(pixels: np.ndarray) -> np.ndarray:
    """Pad the image to a square (right and bottom, black), scale it to 320² and to 0..1."""
    height, width = pixels.shape[:2]
    side = max(height, width)
    padded = cv2.copyMakeBorder(
        np.ascontiguousarray(pixels), 0, side - height, 0, side - width, cv2.BORDER_CONSTANT
    )
    blob: np.ndarray = cv2.dnn.blobFromImage(
        padded, 1 / 255.0, (INPUT_SIDE, INPUT_SIDE), (0, 0, 0), swapRB=False, crop=False
    )
    return blob


def read_output(output: Any, width: int, height: int) -> list[Detection]:
    """Turn the model's raw output (1 × (4 + classes) × candidates) into detections."""
    rows = np.asarray(output, dtype=np.float32).reshape(4 + len(LABELS), -1).T
    class_scores = rows[:, 4:]
    best = class_scores.max(axis=1)
    keep = best >= CANDIDATE_SCORE
    if not keep.any():
        return []
    rows, best = rows[keep], best[keep]
    classes = class_scores[keep].argmax(axis=1)
    # The model sees the padded square; map its centre-size boxes back onto the image.
    scale = np.float32(max(width, height) / INPUT_SIDE)
    centre_x, centre_y, box_w, box_h = (rows[:, i] for i in range(4))
    left = np.clip((centre_x - box_w / 2) * scale, 0, width)
    top = np.clip((centre_y - box_h / 2) * scale, 0, height)
    box_w = np.minimum(box_w * scale, width - left)
    box_h = np.minimum(box_h * scale, height - top)
    boxes = np.stack([left, top, box_w, box_h], axis=1)
    chosen = cv2.dnn.NMSBoxes(boxes.tolist(), best.tolist(), NMS_SCORE, NMS_OVERLAP)
    return [
        Detection(
            label=LABELS[int(classes[i])],
            score=float(best[i]),
            box=(int(boxes[i, 0]), int(boxes[i, 1]), int(boxes[i, 2]), int(boxes[i, 3])),
        )
        for i in np.asarray(chosen, dtype=int).reshape(-1)
    ]
