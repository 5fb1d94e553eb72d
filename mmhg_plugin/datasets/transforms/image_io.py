"""Image reading with optional reduced-resolution JPEG decoding.

A top-down crop of a person 4x larger than the network input throws away
15 of every 16 decoded pixels. libjpeg can decode at 1/2, 1/4 or 1/8 of the
size directly in the DCT domain, several times faster. Reduced pixel ``i``
of the stored image averages full-size pixels ``r*i ... r*i + r - 1`` (the
last one, of a side ``D`` that is not a multiple of ``r``, partly padding),
so its centre sits at ``r * i + (r - 1) / 2``. An EXIF orientation that
reverses an axis flips the decoded image, which puts that partial pixel
first and moves every centre by ``D - r * ceil(D / r)`` along that axis.
:func:`~.crop_geometry.reduced_to_full_matrix` maps both cases, so a crop
of a reduced decode lands exactly where the crop of the full image lands,
for every EXIF orientation (:func:`read_image_mapped`). Other formats gain
nothing from a reduced read (OpenCV decodes them in full and resizes), so
:func:`read_image_mapped` reads them at full size.

JPEGs with 1 or 3 components and no EXIF rotation are decoded by
libjpeg-turbo through ``simplejpeg`` when it is installed: the same library
and settings as OpenCV's decoder, so the pixels are identical, and faster,
as it decodes straight into the output array. Everything else (PNG, CMYK,
EXIF-rotated, anything simplejpeg refuses) goes to ``cv2.imdecode``.

Decoding into fresh memory costs a page fault per 4 KiB page of the output
the first time it is written (the allocator hands large blocks straight
from the kernel), a large share of a decode's time.
``reuse_buffer=True`` decodes into a per-thread scratch array instead (for
callers that consume the image at once, as
:class:`~.mpii_topdown_affine.MPIITopdownAffine` warps it). The timings
behind both choices: docs/results.md.
"""
import threading
from typing import NamedTuple, Optional, Tuple

import cv2
import numpy as np

from .crop_geometry import reduced_to_full_matrix
from .jpeg_header import JpegHeader, parse_jpeg_header

try:
    import simplejpeg
except ImportError:  # optional: OpenCV decodes everything without it
    simplejpeg = None

_REDUCED_FLAGS = {
    1: cv2.IMREAD_COLOR,
    2: cv2.IMREAD_REDUCED_COLOR_2,
    4: cv2.IMREAD_REDUCED_COLOR_4,
    8: cv2.IMREAD_REDUCED_COLOR_8,
}


class _Scratch(threading.local):
    """One growing uint8 buffer per thread (see :func:`scratch_array`)."""
    array: np.ndarray = np.empty(0, np.uint8)


_SCRATCH = _Scratch()


def scratch_array(shape: Tuple[int, ...]) -> np.ndarray:
    """A C-contiguous uint8 array of ``shape`` over this thread's scratch
    buffer, grown to the largest size asked so far (never shrunk).

    The array is overwritten by the next call in the same thread: use it
    before then, and never keep or return it.
    """
    size = int(np.prod(shape))
    if _SCRATCH.array.size < size:
        _SCRATCH.array = np.empty(size, np.uint8)
    return _SCRATCH.array[:size].reshape(shape)


class BadSampleError(ValueError):
    """One sample cannot be used: its image or its annotation is broken.

    The message names the image file and the annotation. A pipeline with
    ``MPIITopdownAffine(on_bad_sample='skip')`` skips such samples instead
    of raising.
    """


class ImageReadError(BadSampleError, RuntimeError):
    """An image file is missing, empty, truncated or cannot be decoded.

    A :class:`BadSampleError` and a ``RuntimeError``, so handlers of
    either catch it.
    """


def choose_reduction(downscale: float, max_reduction: int = 8) -> int:
    """Largest of 1, 2, 4, 8 (capped by ``max_reduction``) not above
    ``downscale``, so the decoded image is never smaller than the crop's
    output."""
    r = 1
    while r * 2 <= min(downscale, max_reduction):
        r *= 2
    return r


class MappedImage(NamedTuple):
    """An image read for cropping, with where its pixels lie in the full
    image.

    Attributes:
        img (np.ndarray): (H', W', 3) uint8 BGR, the full image or a reduced
            decode of it.
        full_shape (tuple[int, int]): The full image's (H, W) after EXIF
            orientation.
        to_full (np.ndarray): (3, 3) affine matrix from ``img``'s pixel
            coordinates to the full image's (the identity at full size).
    """
    img: np.ndarray
    full_shape: Tuple[int, int]
    to_full: np.ndarray


def read_image_mapped(path: str, reduction: int = 1,
                      context: Optional[str] = None,
                      reuse_buffer: bool = False) -> MappedImage:
    """Read a colour image to crop, JPEGs at 1/``reduction`` size.

    Other formats are read at full size (a reduced read would decode them in
    full and resize). A crop through ``to_full`` takes the same place as one
    of the full image, whatever the EXIF orientation.

    Args:
        path (str): Image file.
        reduction (int): 1, 2, 4 or 8.
        context (str | None): Appended to error messages.
        reuse_buffer (bool): As in :func:`read_image_sized`: the image may
            lie in this thread's scratch buffer, to use at once.

    Returns:
        MappedImage: The image, the full (H, W) and the reduced-to-full
        matrix.

    Raises:
        ImageReadError: The file is missing, empty, truncated or corrupt.
        ValueError: ``reduction`` is not 1, 2, 4 or 8.
    """
    _check_reduction(reduction)
    data, header = _read_file(path, context)
    if header is None:
        reduction = 1
    img = _decode(data, header, reduction, path, context, True, reuse_buffer)
    if reduction == 1:
        return MappedImage(img, img.shape[:2], np.eye(3))
    full_shape = header.displayed_shape
    return MappedImage(img, full_shape, reduced_to_full_matrix(
        reduction, full_shape, header.reversed_axes))


def read_image_sized(path: str,
                     reduction: int = 1,
                     context: Optional[str] = None,
                     use_simplejpeg: bool = True,
                     reuse_buffer: bool = False
                     ) -> Tuple[np.ndarray, Optional[Tuple[int, int]]]:
    """Read a colour image (BGR, uint8, 3 channels) at 1/``reduction`` size
    and the full image's size.

    Grayscale, RGBA and 16-bit images are converted to 8-bit BGR; EXIF
    orientation is applied (as ``cv2.imread``).

    Args:
        path (str): Image file.
        reduction (int): 1, 2, 4 or 8.
        context (str | None): Appended to error messages.
        use_simplejpeg (bool): Allow the simplejpeg decoder (if installed).
        reuse_buffer (bool): Let simplejpeg decode into this thread's
            scratch buffer (:func:`scratch_array`): no page faults, but the
            image is overwritten by the next such call in the thread, so
            the caller must use it at once and not keep it.

    Returns:
        tuple: The (H', W', 3) uint8 image, ``H' = ceil(H / reduction)``,
        and the full image's (H, W) after EXIF orientation, or None when
        ``reduction > 1`` and the file is not a JPEG whose header Pillow
        reads (the caller must then read the size otherwise).

    Raises:
        ImageReadError: The file is missing, empty, truncated or corrupt.
        ValueError: ``reduction`` is not 1, 2, 4 or 8.
    """
    _check_reduction(reduction)
    data, header = _read_file(path, context)
    img = _decode(data, header, reduction, path, context, use_simplejpeg,
                  reuse_buffer)
    if reduction == 1:
        return img, img.shape[:2]
    return img, None if header is None else header.displayed_shape


def _check_reduction(reduction: int) -> None:
    """Refuse a reduction libjpeg cannot decode at."""
    if reduction not in _REDUCED_FLAGS:
        raise ValueError(f'reduction must be 1, 2, 4 or 8, got {reduction}')


def _where(context: Optional[str]) -> str:
    """The context as appended to error messages."""
    return f' ({context})' if context else ''


def _read_file(path: str, context: Optional[str]
               ) -> Tuple[np.ndarray, Optional[JpegHeader]]:
    """The file's bytes (a uint8 array) and, for a JPEG, its header.

    Raises:
        ImageReadError: The file is missing, empty or a truncated JPEG.
    """
    try:
        with open(path, 'rb') as f:
            raw = f.read()
    except OSError as e:
        raise ImageReadError(
            f'cannot read image {path}{_where(context)}: {e}') from e
    data = np.frombuffer(raw, np.uint8)
    if data.size == 0:
        raise ImageReadError(
            f'image file {path} is empty (0 bytes){_where(context)}')
    is_jpeg = data.size >= 2 and data[0] == 0xFF and data[1] == 0xD8
    if is_jpeg and not _has_jpeg_end(data):
        raise ImageReadError(
            f'image file {path} is a truncated JPEG (no end-of-image '
            f'marker, {data.size} bytes){_where(context)}')
    return data, parse_jpeg_header(raw) if is_jpeg else None


def _decode(data: np.ndarray, header: Optional[JpegHeader], reduction: int,
            path: str, context: Optional[str], use_simplejpeg: bool,
            reuse_buffer: bool) -> np.ndarray:
    """Decode the file's bytes at 1/``reduction`` size (see
    :func:`read_image_sized` for the arguments).

    Raises:
        ImageReadError: The bytes do not decode.
    """
    img = None
    if use_simplejpeg and _simplejpeg_can_decode(header):
        img = _decode_simplejpeg(data, reduction, header, reuse_buffer)
    if img is None:
        img = cv2.imdecode(data, _REDUCED_FLAGS[reduction])
    if img is None:
        raise ImageReadError(f'cannot decode image {path} ({data.size} '
                             f'bytes, corrupt or unsupported)'
                             f'{_where(context)}')
    return img


def _simplejpeg_can_decode(header: Optional[JpegHeader]) -> bool:
    """Whether simplejpeg gives the same pixels as OpenCV for this JPEG:
    grayscale or YCbCr and no EXIF rotation (OpenCV applies it)."""
    return (simplejpeg is not None and header is not None
            and header.components in (1, 3) and header.orientation == 1)


def _decode_simplejpeg(data: np.ndarray, reduction: int,
                       header: JpegHeader,
                       reuse_buffer: bool = False) -> Optional[np.ndarray]:
    """Decode with libjpeg-turbo's accurate DCT and fancy upsampling (what
    OpenCV uses); None when simplejpeg refuses the stream or scales it
    otherwise than 1/``reduction`` (OpenCV then decides, with its own
    tolerance of recoverable errors). With ``reuse_buffer`` the image lies
    in this thread's scratch buffer (:func:`scratch_array`)."""
    want = (-(-header.height // reduction), -(-header.width // reduction), 3)
    out = scratch_array(want) if reuse_buffer else None
    try:
        # simplejpeg scales only when asked for a smaller size: min_factor
        # alone decodes at full size
        img = simplejpeg.decode_jpeg(data, colorspace='BGR',
                                     min_height=want[0], min_width=want[1],
                                     min_factor=reduction, buffer=out)
    except ValueError:
        return None
    return img if img.shape == want else None


def _has_jpeg_end(data: np.ndarray) -> bool:
    """Whether a JPEG stream ends with EOI (0xFFD9), allowing trailing
    padding bytes as some cameras write."""
    tail = data[-64:] if data.size > 64 else data
    ends = np.flatnonzero((tail[:-1] == 0xFF) & (tail[1:] == 0xD9))
    return ends.size > 0

