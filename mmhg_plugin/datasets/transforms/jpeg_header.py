"""What a JPEG's header says: frame size, components, progressive, EXIF
orientation, read from the markers without decoding anything.

Used by :mod:`.image_io` to know an image's full size when it is decoded at
reduced resolution, and to decide which decoder may decode it.
"""
import struct
from dataclasses import dataclass
from typing import Optional

#: Start-of-frame markers (0xC0-0xCF except DHT 0xC4, JPG 0xC8, DAC 0xCC).
_SOF_MARKERS = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
#: Progressive start-of-frame markers (Huffman and arithmetic).
_PROGRESSIVE = frozenset({0xC2, 0xC6, 0xCA, 0xCE})
#: Markers without a length field (TEM, RSTn, SOI, EOI).
_STANDALONE = frozenset({0x01, *range(0xD0, 0xDA)})
_SOS = 0xDA
_APP1 = 0xE1
_ORIENTATION_TAG = 0x0112


@dataclass(frozen=True)
class JpegHeader:
    """The header fields of one JPEG stream.

    Attributes:
        height (int): Frame height as stored (before EXIF orientation).
        width (int): Frame width as stored.
        components (int): 1 (grayscale), 3 (YCbCr) or 4 (CMYK/YCCK).
        progressive (bool): Progressive (multi-scan) coding.
        orientation (int): EXIF orientation 1-8 (1 when absent).
    """
    height: int
    width: int
    components: int
    progressive: bool
    orientation: int = 1

    @property
    def displayed_shape(self) -> tuple:
        """(H, W) after the EXIF orientation is applied (orientations 5-8
        transpose the image), as OpenCV's ``imread`` returns it."""
        if self.orientation >= 5:
            return self.width, self.height
        return self.height, self.width


def parse_jpeg_header(data: bytes) -> Optional[JpegHeader]:
    """Parse the markers of ``data`` up to the first scan.

    Args:
        data (bytes | np.ndarray): The file's bytes.

    Returns:
        JpegHeader | None: None when ``data`` is not a JPEG stream or its
        header is malformed (no frame header before the first scan).
    """
    buf = memoryview(data).cast('B') if not isinstance(data, bytes) else data
    n = len(buf)
    if n < 4 or buf[0] != 0xFF or buf[1] != 0xD8:
        return None
    pos, frame, orientation = 2, None, 1
    while pos + 4 <= n:
        if buf[pos] != 0xFF:
            return None
        marker = buf[pos + 1]
        if marker == 0xFF:          # fill byte
            pos += 1
            continue
        if marker in _STANDALONE:
            pos += 2
            continue
        length = (buf[pos + 2] << 8) | buf[pos + 3]
        if length < 2 or pos + 2 + length > n:
            return None
        seg = bytes(buf[pos + 4:pos + 2 + length])
        if marker in _SOF_MARKERS and frame is None:
            if len(seg) < 6:
                return None
            h, w = struct.unpack('>HH', seg[1:5])
            frame = (h, w, seg[5], marker in _PROGRESSIVE)
        elif marker == _APP1 and seg.startswith(b'Exif\0\0'):
            orientation = _exif_orientation(seg[6:])
        elif marker == _SOS:
            break
        pos += 2 + length
    if frame is None or frame[0] == 0 or frame[1] == 0:
        return None
    return JpegHeader(height=frame[0], width=frame[1], components=frame[2],
                      progressive=frame[3], orientation=orientation)


def _exif_orientation(tiff: bytes) -> int:
    """The orientation tag of IFD0 of an EXIF TIFF block (1 if absent or
    unreadable)."""
    if len(tiff) < 8 or tiff[:2] not in (b'II', b'MM'):
        return 1
    end = '<' if tiff[:2] == b'II' else '>'
    try:
        (ifd,) = struct.unpack(end + 'I', tiff[4:8])
        (count,) = struct.unpack(end + 'H', tiff[ifd:ifd + 2])
        for i in range(count):
            off = ifd + 2 + 12 * i
            tag, typ = struct.unpack(end + 'HH', tiff[off:off + 4])
            if tag == _ORIENTATION_TAG and typ == 3:    # SHORT
                (value,) = struct.unpack(end + 'H', tiff[off + 8:off + 10])
                return value if 1 <= value <= 8 else 1
    except struct.error:
        return 1
    return 1
