"""BlazeFace (detector.kind: blazeface) on real faces: the scenes, live tiles, keypoints, the shipped file."""

import cv2
import numpy as np
import onnxruntime as ort
import pytest

from bench import scenes
from siamface.edge.images import read_image
from siamface.edge.loop.blazeface import DEFAULT_BLAZEFACE, BlazeFaceDetector, frames_per_turn, tile_squares
from siamface.edge.loop.detect import DetectorSettings, HaarDetector, make_detector
from siamface.edge.loop.landmarks import find_landmarks
from siamface.edge.loop.scan import Scanner, ScanSettings, describe

from .conftest import data_dir

BLAZEFACE = DetectorSettings(kind="blazeface")


def test_blazeface_finds_more_of_the_hand_drawn_faces_than_haar_with_fewer_false_ones():
    folder = data_dir("scenes")
    haar = scenes.score_scenes(folder, HaarDetector().detect)
    blaze = scenes.score_scenes(folder, make_detector(BLAZEFACE).detect)
    whole_only = scenes.score_scenes(folder, make_detector(DetectorSettings(kind="blazeface", tiles=1)).detect)
    print(f"scenes found/false: Haar {haar[0]}/{haar[2]}, BlazeFace {blaze[0]}/{blaze[2]}, no tiles {whole_only[0]}")
    assert blaze[0] >= haar[0] and blaze[2] <= haar[2]
    assert whole_only[0] < blaze[0]  # the small faces need the tiles


def test_live_detection_finds_far_faces_within_one_turn_of_the_tiles_and_keeps_them():
    folder = data_dir("scenes")
    turn = frames_per_turn(BLAZEFACE.tiles)
    photo = scenes.score_scenes(folder, make_detector(BLAZEFACE).detect)

    def live(frames: int):
        def run(image: np.ndarray) -> np.ndarray:
            scanner = Scanner(make_detector(BLAZEFACE))
            for _ in range(frames):
                boxes = scanner.detect(image)
            return boxes

        return run

    first = scenes.score_scenes(folder, live(1))
    after_turn = scenes.score_scenes(folder, live(turn))
    later = scenes.score_scenes(folder, live(turn + 4))
    assert first[0] < after_turn[0]  # one frame sees one tile only
    assert after_turn[0] >= photo[0] - 1 and after_turn[2] <= photo[2] + 1
    assert later[0] >= after_turn[0]  # found faces are followed in the squares around them


# Fast enough for the emulated arm64 root; the scene searches are not.
@pytest.mark.arm64
def test_tiles_cover_the_frame_with_overlap():
    for width, height in ((640, 480), (1280, 720), (320, 240), (1920, 360)):
        squares = tile_squares(width, height, 3)
        covered = np.zeros((height, width), bool)
        for left, top, side in squares:
            assert left >= 0 and top >= 0 and left + side <= width and top + side <= height
            covered[top : top + side, left : left + side] = True
        assert covered.all()


def test_keypoints_land_on_the_eyes_and_nose_the_landmark_model_finds():
    detector = BlazeFaceDetector(BLAZEFACE)
    checked = 0
    for path in sorted(data_dir("dev", "celeba").rglob("*.jpg"))[:60]:
        image = read_image(path)
        boxes = detector.detect(image)
        if len(boxes) != 1:
            continue
        side = float(boxes[0][2])
        points = find_landmarks(image, boxes[0])
        eyes = np.array([points[0:2].mean(axis=0), points[2:4].mean(axis=0)])
        for keypoint in detector.keypoints[0][:2]:
            assert np.min(np.linalg.norm(eyes - keypoint, axis=1)) < 0.15 * side, path
        assert np.linalg.norm(points[4] - detector.keypoints[0][2]) < 0.2 * side, path
        checked += 1
    assert checked >= 40


# Fast enough for the emulated arm64 root; the scene searches are not.
@pytest.mark.arm64
def test_the_shipped_model_takes_a_batch_and_gives_what_it_gives_one_at_a_time():
    session = ort.InferenceSession(str(DEFAULT_BLAZEFACE), providers=["CPUExecutionProvider"])
    images = [read_image(p) for p in sorted(data_dir("dev", "celeba").rglob("*.jpg"))[:3]]
    batch = np.stack([cv2.resize(i, (128, 128))[:, :, ::-1] / 127.5 - 1 for i in images]).astype(np.float32)
    together = session.run(None, {"input": batch})
    for i in range(len(batch)):
        alone = session.run(None, {"input": batch[i : i + 1]})
        for a, b in zip(together, alone):
            np.testing.assert_allclose(a[i], b[0], atol=1e-5)


def test_a_photo_in_a_folder_is_searched_whole_from_its_first_frame():
    folder = data_dir("scenes")
    photo = scenes.score_scenes(folder, make_detector(BLAZEFACE).detect)
    still = scenes.score_scenes(folder, lambda image: Scanner(make_detector(BLAZEFACE)).detect(image, still=True))
    first_live = scenes.score_scenes(folder, lambda image: Scanner(make_detector(BLAZEFACE)).detect(image))
    assert still == photo and first_live[0] < still[0]


# Fast enough for the emulated arm64 root; the scene searches are not.
@pytest.mark.arm64
def test_check_and_the_log_say_what_each_frame_is_searched_with():
    assert describe(BLAZEFACE, ScanSettings()) == (
        "BlazeFace: the whole frame and 2 of 9 tiles in turn on alternate frames (every tile within 10 frames), "
        "a square around each face found"
    )
    haar = DetectorSettings(kind="haar", downscale=2.0)
    assert "every 30 frames at 1/2 size, regions around the last faces between" in describe(
        haar, ScanSettings(full_every=30)
    )
