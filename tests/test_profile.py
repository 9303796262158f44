"""Turned heads: OpenCV's profile cascade searched around a track's last box, both ways round."""

import numpy as np
import pytest

from siamface.edge.images import read_image
from siamface.edge.loop.detect import make_detector, photo_faces
from siamface.edge.loop.profile import ProfileFinder
from siamface.edge.loop.track import iou

pytestmark = pytest.mark.arm64


def portraits(root, count):
    """(photo, its one face box) from the first people of a dev folder."""
    detector = make_detector()
    found = []
    for person in sorted(p for p in root.iterdir() if p.is_dir()):
        for path in sorted(person.glob("*.jpg"))[:1]:
            image = read_image(path)
            boxes = photo_faces(detector, image)
            if len(boxes) == 1:
                found.append((image, tuple(int(v) for v in boxes[0])))
        if len(found) == count:
            return found
    pytest.skip(f"{root}: fewer than {count} photos with one face")


def test_a_head_is_found_near_its_box_and_nothing_where_there_is_no_head(dev_people):
    root, _ = dev_people
    finder = ProfileFinder()
    photos = portraits(root, 20)
    found = [(finder.find(image, box), box) for image, box in photos]
    near = [f for f, box in found if f is not None and iou(f, box) > 0.3]
    assert len(near) >= 8, f"{len(near)} of 20 heads found"
    # The same place with the head painted out (the photo's mean colour): nothing to follow.
    assert all(finder.find(np.full_like(image, int(image.mean())), box) is None for image, box in photos)


def test_a_mirrored_photo_gives_the_mirrored_box(dev_people):
    """The cascade is made for one side; the region is also searched mirrored, and a box found that
    way must come back in the photo's own coordinates."""
    root, _ = dev_people
    finder = ProfileFinder()
    checked = 0
    for image, (x, y, w, h) in portraits(root, 20):
        found = finder.find(image, (x, y, w, h))
        if found is None:
            continue
        width = image.shape[1]
        mirrored = finder.find(np.ascontiguousarray(image[:, ::-1]), (width - x - w, y, w, h))
        assert mirrored is not None
        back = (width - mirrored[0] - mirrored[2], *mirrored[1:])
        assert iou(back, found) > 0.7
        checked += 1
    assert checked >= 8


def test_the_loop_embeds_the_profile_it_found_for_the_tracker_to_judge(dev_people):
    """runner.turned_face: the box found and its embedding, which for a face is near the embedding
    of the face found by the detector (the tracker compares it with the track)."""
    from types import SimpleNamespace

    from siamface.edge.config import DEFAULT_MODEL
    from siamface.edge.loop.embed import Embedder
    from siamface.edge.loop.preprocess import preprocess_faces
    from siamface.edge.runner import turned_face

    root, _ = dev_people
    embedder = Embedder(DEFAULT_MODEL)
    runtime = SimpleNamespace(profiles=ProfileFinder(), pipeline=SimpleNamespace(embedder=embedder))
    for image, box in portraits(root, 20):
        found = turned_face(runtime, image, box)
        if found is not None:
            face = embedder.embed_batch(preprocess_faces(image, np.asarray([box]), embedder.contract))[0]
            assert iou(found[0], box) > 0.3 and float(found[1] @ face) > 0.9
            return
    pytest.fail("no head found near any of 20 faces")
