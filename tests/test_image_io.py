"""Image reading: the JPEG header (read by Pillow) and the simplejpeg fast
path give exactly what OpenCV gives, and everything simplejpeg must not
decode goes to OpenCV."""
import struct

import cv2
import numpy as np
import pytest
from PIL import Image

from mmhg_plugin.datasets.transforms import image_io
from mmhg_plugin.datasets.transforms.image_io import ImageReadError, read_image_sized
from mmhg_plugin.datasets.transforms.jpeg_header import parse_jpeg_header

pytest.importorskip('simplejpeg')  # a pinned runtime dependency

SAMPLING = {'420': cv2.IMWRITE_JPEG_SAMPLING_FACTOR_420,
            '422': cv2.IMWRITE_JPEG_SAMPLING_FACTOR_422,
            '444': cv2.IMWRITE_JPEG_SAMPLING_FACTOR_444}


def _photo(h: int, w: int, seed: int = 0) -> np.ndarray:
    """A smooth image with edges and noise (JPEG artefacts everywhere)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    img = np.stack([(xx * 255 // w), (yy * 255 // h),
                    ((xx + yy) % 64) * 4], -1).astype(np.int32)
    img += rng.integers(-20, 20, img.shape)
    cv2.circle(img, (w // 3, h // 2), min(h, w) // 4, (250, 30, 90), -1)
    return np.clip(img, 0, 255).astype(np.uint8)


def _jpeg(img: np.ndarray, sampling: str = '420',
          progressive: bool = False) -> bytes:
    params = [cv2.IMWRITE_JPEG_QUALITY, 90]
    if img.ndim == 3:
        params += [cv2.IMWRITE_JPEG_SAMPLING_FACTOR, SAMPLING[sampling]]
    if progressive:
        params += [cv2.IMWRITE_JPEG_PROGRESSIVE, 1]
    ok, buf = cv2.imencode('.jpg', img, params)
    assert ok
    return buf.tobytes()


def _with_exif_orientation(jpeg: bytes, orientation: int,
                           endian: str = '<', long: bool = False) -> bytes:
    """Insert an APP1 EXIF segment whose IFD0 holds only Orientation, as a
    SHORT (the standard) or a LONG (some writers)."""
    mark = b'II' if endian == '<' else b'MM'
    tiff = mark + struct.pack(endian + 'HI', 42, 8)
    tiff += struct.pack(endian + 'H', 1)
    value = (struct.pack(endian + 'I', orientation) if long else
             struct.pack(endian + 'HH', orientation, 0))
    tiff += struct.pack(endian + 'HHI', 0x0112, 4 if long else 3, 1) + value
    tiff += struct.pack(endian + 'I', 0)
    payload = b'Exif\0\0' + tiff
    app1 = b'\xff\xe1' + struct.pack('>H', len(payload) + 2) + payload
    return jpeg[:2] + app1 + jpeg[2:]


def _write(tmp_path, name: str, data: bytes) -> str:
    path = tmp_path / name
    path.write_bytes(data)
    return str(path)


def test_header_parser_reads_size_components_progressive_orientation():
    img = _photo(333, 517)
    h = parse_jpeg_header(_jpeg(img))
    assert (h.height, h.width, h.components, h.progressive,
            h.orientation) == (333, 517, 3, False, 1)
    h = parse_jpeg_header(_jpeg(img, progressive=True))
    assert h.progressive and (h.height, h.width) == (333, 517)
    h = parse_jpeg_header(_jpeg(cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)))
    assert h.components == 1
    for endian in '<>':
        h = parse_jpeg_header(_with_exif_orientation(_jpeg(img), 6, endian))
        assert h.orientation == 6 and h.displayed_shape == (517, 333)
        h = parse_jpeg_header(_with_exif_orientation(_jpeg(img), 3, endian))
        assert h.orientation == 3 and h.displayed_shape == (333, 517)
    ok, png = cv2.imencode('.png', img)
    assert parse_jpeg_header(png.tobytes()) is None
    assert parse_jpeg_header(b'\xff\xd8\xff\xe0\x00') is None  # cut header
    assert parse_jpeg_header(b'') is None


@pytest.mark.parametrize('kind', ['420', '422', '444', 'gray', 'progressive'])
@pytest.mark.parametrize('reduction', [1, 2, 4, 8])
def test_simplejpeg_path_equals_opencv(tmp_path, monkeypatch, kind,
                                       reduction):
    img = _photo(333, 517, seed=reduction)
    if kind == 'gray':
        data = _jpeg(cv2.cvtColor(img, cv2.COLOR_BGR2GRAY))
    elif kind == 'progressive':
        data = _jpeg(img, progressive=True)
    else:
        data = _jpeg(img, sampling=kind)
    path = _write(tmp_path, 'a.jpg', data)
    want = cv2.imdecode(np.frombuffer(data, np.uint8),
                        image_io._REDUCED_FLAGS[reduction])

    used = []
    real = image_io._decode_simplejpeg
    monkeypatch.setattr(image_io, '_decode_simplejpeg',
                        lambda *a: used.append(real(*a)) or used[-1])
    monkeypatch.setattr(image_io.cv2, 'imdecode', lambda *a: pytest.fail(
        'decoded twice: simplejpeg gave another size, OpenCV redid it'))
    got, shape = read_image_sized(path, reduction)
    assert used, 'simplejpeg was not used for a plain JPEG'
    assert used[0] is not None, 'simplejpeg refused a plain JPEG'
    monkeypatch.undo()
    assert got.dtype == np.uint8 and got.shape == want.shape
    assert got.shape[:2] == (-(-333 // reduction), -(-517 // reduction))
    np.testing.assert_array_equal(got, want)
    assert shape == (333, 517)
    ref, _ = read_image_sized(path, reduction, use_simplejpeg=False)
    np.testing.assert_array_equal(ref, want)


@pytest.mark.parametrize('reduction', [1, 2])
def test_exif_rotated_jpeg_goes_to_opencv_and_reports_rotated_size(
        tmp_path, monkeypatch, reduction):
    data = _with_exif_orientation(_jpeg(_photo(200, 320)), 6)
    path = _write(tmp_path, 'rot.jpg', data)
    monkeypatch.setattr(image_io, '_decode_simplejpeg',
                        lambda *a: pytest.fail('simplejpeg ignores EXIF'))
    got, shape = read_image_sized(path, reduction)
    want = cv2.imdecode(np.frombuffer(data, np.uint8),
                        image_io._REDUCED_FLAGS[reduction])
    np.testing.assert_array_equal(got, want)
    assert want.shape[:2] == (-(-320 // reduction), -(-200 // reduction))
    assert shape == (320, 200)


@pytest.mark.parametrize('orientation,long', [(6, True), (8, False),
                                              (9, False), (0, False)])
def test_orientation_is_the_one_opencv_applies(tmp_path, orientation, long):
    """Stored as a LONG it still rotates (in OpenCV too); values outside
    1-8 are ignored."""
    data = _with_exif_orientation(_jpeg(_photo(200, 320)), orientation,
                                  long=long)
    full = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    assert full.shape[:2] == ((320, 200) if orientation in (6, 8) else
                              (200, 320))
    assert parse_jpeg_header(data).displayed_shape == full.shape[:2]
    got, shape = read_image_sized(_write(tmp_path, 'o.jpg', data), 2)
    np.testing.assert_array_equal(got, cv2.imdecode(
        np.frombuffer(data, np.uint8), cv2.IMREAD_REDUCED_COLOR_2))
    assert shape == full.shape[:2]


def test_cmyk_jpeg_and_png_go_to_opencv(tmp_path, monkeypatch):
    monkeypatch.setattr(image_io, '_decode_simplejpeg',
                        lambda *a: pytest.fail('not for simplejpeg'))
    rgb = Image.fromarray(_photo(120, 160)[..., ::-1])
    cmyk = tmp_path / 'cmyk.jpg'
    rgb.convert('CMYK').save(cmyk, quality=90)
    got, shape = read_image_sized(str(cmyk), 2)
    want = cv2.imread(str(cmyk), cv2.IMREAD_REDUCED_COLOR_2)
    np.testing.assert_array_equal(got, want)
    assert shape == (120, 160)
    png = tmp_path / 'a.png'
    cv2.imwrite(str(png), _photo(120, 160))
    got, shape = read_image_sized(str(png), 2)
    assert got.shape == (60, 80, 3) and shape is None  # size read elsewhere
    got, shape = read_image_sized(str(png), 1)
    assert shape == (120, 160)


def test_without_simplejpeg_the_same_pixels(tmp_path, monkeypatch):
    path = _write(tmp_path, 'a.jpg', _jpeg(_photo(240, 300)))
    fast, s1 = read_image_sized(path, 2)
    monkeypatch.setattr(image_io, 'simplejpeg', None)
    slow, s2 = read_image_sized(path, 2)
    np.testing.assert_array_equal(fast, slow)
    assert s1 == s2 == (240, 300)


def test_corrupt_jpeg_body_still_named_in_the_error(tmp_path):
    data = bytearray(_jpeg(_photo(100, 100)))
    start = data.index(b'\xff\xda')      # first scan
    data[start + 2:start + 200] = b'\xff' * 198   # header intact, body gone
    path = _write(tmp_path, 'bad.jpg', bytes(data))
    try:
        img, _ = read_image_sized(path, 1, context='id=7')
    except ImageReadError as e:
        assert 'bad.jpg' in str(e) and 'id=7' in str(e)
    else:  # OpenCV's own tolerance of recoverable errors decides, as before
        want = cv2.imdecode(np.frombuffer(bytes(data), np.uint8),
                            cv2.IMREAD_COLOR)
        np.testing.assert_array_equal(img, want)
