import numpy as np
import pytest

from siamface.edge.contract import PREFIX, ModelContract
from siamface.edge.errors import SiamfaceError
from siamface.edge.images import read_image
from siamface.edge.loop.preprocess import crop_face, expand_box, to_tensor, whole_image_box

from .conftest import REPO

pytestmark = pytest.mark.arm64

CONTRACT = ModelContract(
    width=64, height=64, channels="bgr", layout="nhwc", mean=(0.0,), std=(1.0,), crop_padding=0.25, embedding_size=8
)


def test_box_at_the_edge_is_padded_not_shifted():
    frame = read_image(REPO / "samples" / "astronaut.jpg")
    box = (-20, -10, 100, 100)  # partly above and left of the frame
    x0, y0, x1, y1 = expand_box(box, CONTRACT.crop_padding)
    expected = np.zeros((y1 - y0, x1 - x0, 3), np.uint8)
    expected[-y0:, -x0:] = frame[:y1, :x1]
    import cv2

    expected = cv2.resize(expected, (64, 64), interpolation=cv2.INTER_AREA)
    crop = crop_face(frame, box, CONTRACT)
    assert crop.shape == (64, 64, 3)
    assert np.array_equal(crop, expected)
    assert crop[:5, :5].max() == 0  # the corner outside the frame is black, not image


def test_channel_orders_layouts_and_scaling():
    frame = np.zeros((100, 100, 3), np.uint8)
    frame[..., 2] = 200  # red in BGR
    box = (10, 10, 80, 80)
    rgb = ModelContract(32, 32, "rgb", "nchw", (100.0,), (50.0,), 0.0, 8)
    batch = to_tensor([crop_face(frame, box, rgb)], rgb)
    assert batch.shape == (1, 3, 32, 32)
    assert np.allclose(batch[0, 0], 2.0) and np.allclose(batch[0, 2], -2.0)  # (200-100)/50, (0-100)/50
    gray = ModelContract(32, 32, "gray", "nhwc", (0.0,), (255.0,), 0.0, 8)
    assert to_tensor([crop_face(frame, box, gray)], gray).shape == (1, 32, 32, 1)


def test_whole_image_box_crops_the_whole_image():
    x0, y0, x1, y1 = expand_box(whole_image_box((200, 100), 0.25), 0.25)
    assert abs(x0) <= 1 and abs(y0) <= 1 and abs(x1 - 100) <= 1 and abs(y1 - 200) <= 1


def test_contract_round_trip_and_errors():
    meta = CONTRACT.to_metadata()
    assert ModelContract.from_metadata(meta, "m.onnx") == CONTRACT
    broken = {k: v for k, v in meta.items() if k != PREFIX + "layout"}
    with pytest.raises(SiamfaceError, match=r"m.onnx: metadata key siamface.layout missing"):
        ModelContract.from_metadata(broken, "m.onnx")
    with pytest.raises(SiamfaceError, match=r"siamface.channels='cmyk', expected one of rgb, bgr, gray"):
        ModelContract.from_metadata({**meta, PREFIX + "channels": "cmyk"}, "m.onnx")
