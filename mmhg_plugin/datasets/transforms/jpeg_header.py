"""What a JPEG's header says: frame size, components, progressive, EXIF
orientation, read by Pillow without decoding any pixel.

``PIL.Image.open`` is lazy: it reads the markers up to the first scan (the
frame header and the APP segments, EXIF included) and stops. Pillow is used
rather than ``simplejpeg.decode_jpeg_header``, which gives size and
colourspace only (no progressive flag, no EXIF) and is an optional
dependency, so Pillow would be needed anyway.

Used by :mod:`.image_io` to know an image's full size when it is decoded at
reduced resolution, and to decide which decoder may decode it.
"""
from dataclasses import dataclass
from io import BytesIO
from typing import Optional, Tuple

from PIL import Image

#: EXIF tag of the orientation (1-8; 1 is upright).
_ORIENTATION_TAG = 0x0112

#: For each EXIF orientation, whether the displayed image's x and y axes run
#: backwards through the stored image (2 mirrors x, 3 turns by 180 degrees,
#: 4 mirrors y; 5-8 are 1-4 with the axes swapped first: transpose, turn
#: 90 degrees clockwise, transverse, turn 90 degrees anticlockwise).
_REVERSED_AXES = {1: (False, False), 2: (True, False), 3: (True, True),
                  4: (False, True), 5: (False, False), 6: (True, False),
                  7: (True, True), 8: (False, True)}


@dataclass(frozen=True)
class JpegHeader:
    """The header fields of one JPEG stream.

    Attributes:
        height (int): Frame height as stored (before EXIF orientation).
        width (int): Frame width as stored.
        components (int): 1 (grayscale), 3 (YCbCr) or 4 (CMYK/YCCK).
        progressive (bool): Progressive (multi-scan) coding.
        orientation (int): EXIF orientation 1-8 (1 when absent or invalid).
    """
    height: int
    width: int
    components: int
    progressive: bool
    orientation: int = 1

    @property
    def displayed_shape(self) -> Tuple[int, int]:
        """(H, W) after the EXIF orientation is applied (orientations 5-8
        transpose the image), as OpenCV's ``imread`` returns it."""
        if self.orientation >= 5:
            return self.width, self.height
        return self.height, self.width

    @property
    def reversed_axes(self) -> Tuple[bool, bool]:
        """Whether the displayed image's (x, y) axes run backwards through
        the stored image: where a decoder flips the decoded pixels."""
        return _REVERSED_AXES[self.orientation]


def parse_jpeg_header(data: bytes) -> Optional[JpegHeader]:
    """Read the header of the JPEG stream ``data``.

    Args:
        data (bytes): The file's bytes (``bytes`` are not copied; other
            buffers are).

    Returns:
        JpegHeader | None: None when ``data`` is not a JPEG stream Pillow
        can read (another format, a cut or malformed header, a frame of
        more than 8 bits per sample).
    """
    try:
        with Image.open(BytesIO(data), formats=('JPEG', )) as im:
            orientation = im.getexif().get(_ORIENTATION_TAG, 1)
            header = JpegHeader(height=im.height, width=im.width,
                                components=im.layers,
                                progressive=bool(im.info.get('progressive')),
                                orientation=orientation
                                if orientation in range(1, 9) else 1)
    except (OSError, Image.DecompressionBombError):
        return None
    return header if header.height > 0 and header.width > 0 else None
