"""Raw image fields -> RGB, and every unreadable frame rejected with its reason."""
import numpy as np
import pytest

from emotion_node.camera.images import MIN_SIDE, ImageRejected, to_rgb


def _image(h=40, w=48, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


@pytest.mark.parametrize('encoding,convert', [
    ('rgb8', lambda rgb: rgb),
    ('bgr8', lambda rgb: rgb[:, :, ::-1]),
    ('rgba8', lambda rgb: np.dstack([rgb, np.full(rgb.shape[:2], 7, np.uint8)])),
    ('bgra8', lambda rgb: np.dstack([rgb[:, :, ::-1], np.full(rgb.shape[:2], 7, np.uint8)])),
])
def test_colour_encodings_come_back_as_the_same_rgb(encoding, convert):
    rgb = _image()
    raw = np.ascontiguousarray(convert(rgb))
    h, w, c = raw.shape
    assert np.array_equal(to_rgb(encoding, w, h, w * c, raw.tobytes()), rgb)


def test_row_padding_and_mono():
    gray = np.arange(40 * 48, dtype=np.uint32).reshape(40, 48).astype(np.uint8)
    padded = np.zeros((40, 64), np.uint8)  # step 64 > width 48: padding at each row's end
    padded[:, :48] = gray
    out = to_rgb('mono8', 48, 40, 64, padded.tobytes())
    assert out.shape == (40, 48, 3) and np.array_equal(out[:, :, 1], gray)


@pytest.mark.parametrize('fields,reason', [
    (('16UC1', 48, 40, 96, bytes(96 * 40)), 'encoding'),
    (('yuv422', 48, 40, 96, bytes(96 * 40)), 'encoding'),
    (('rgb8', 0, 0, 0, b''), 'empty'),
    (('rgb8', 48, 40, 144, b''), 'empty'),
    (('rgb8', 48, 40, 144, bytes(144 * 40 - 1)), 'size'),     # a byte short
    (('rgb8', 48, 40, 100, bytes(100 * 40)), 'size'),         # step shorter than a row
    (('rgb8', MIN_SIDE - 1, 40, 93, bytes(93 * 40)), 'too_small'),
])
def test_unreadable_frames_name_their_reason(fields, reason):
    with pytest.raises(ImageRejected) as err:
        to_rgb(*fields)
    assert err.value.reason == reason
