"""Images as the inference API accepts them: file paths, numpy arrays (BGR or RGB) and PIL images of any mode.

Everything becomes what mmpose's pipelines and OpenCV expect: a BGR ``uint8`` H x W x 3 array.
"""
import os
import os.path as osp
from typing import Optional, Union

import cv2
import mmcv
import numpy as np
from PIL import Image

ImageLike = Union[str, os.PathLike, np.ndarray, Image.Image]
CHANNEL_ORDERS = ('bgr', 'rgb')
# PIL modes that Pillow itself converts to RGB (alpha dropped, palettes looked up, CMYK/YCbCr/HSV transformed).
PIL_RGB_MODES = ('1', 'L', 'LA', 'La', 'P', 'PA', 'RGB', 'RGBA', 'RGBa', 'RGBX', 'CMYK', 'YCbCr', 'HSV')
# 16-bit grey levels (Pillow decodes 16-bit PNG/TIFF into one of these): scaled to 8 bits as arrays are.
PIL_16BIT_MODES = ('I;16', 'I;16L', 'I;16B', 'I;16N', 'I')
PIL_MODES = PIL_RGB_MODES + PIL_16BIT_MODES


def load_image(img: ImageLike, channel_order: Optional[str] = None) -> np.ndarray:
    """A BGR ``uint8`` H x W x 3 image from a file, an array or a PIL image.

    Args:
        img: one of
            - a path (``str`` or ``os.PathLike``): decoded in colour, EXIF orientation applied;
            - a numpy array: H x W or H x W x 1 (grey), H x W x 3 (colour) or H x W x 4 (colour + alpha, dropped),
              ``uint8`` or ``uint16`` (scaled to 8 bits by dropping the low byte);
            - a ``PIL.Image.Image`` of a mode in ``PIL_MODES``: palette images are looked up, grey and
              CMYK/YCbCr/HSV converted to colour, alpha dropped, 16-bit grey (``I;16*``, ``I`` with values in
              0..65535) scaled to 8 bits. Mode ``F`` (float, no defined range) and others are refused.
        channel_order: the channel order of an array, ``'bgr'`` (OpenCV's; the default) or ``'rgb'`` (PIL's,
            matplotlib's, most other libraries'). Only for arrays: files and PIL images say their own order.

    Raises:
        FileNotFoundError: no such file. ValueError: an undecodable file, an array of another shape or dtype, a
        PIL mode outside ``PIL_MODES``, a ``channel_order`` not in ``CHANNEL_ORDERS`` or given with a non-array.
        TypeError: ``img`` of another type.
    """
    if channel_order is not None and channel_order not in CHANNEL_ORDERS:
        raise ValueError(f'channel_order must be one of {list(CHANNEL_ORDERS)} (or None for bgr), got '
                         f'{channel_order!r}')
    if isinstance(img, np.ndarray):
        return _from_array(img, channel_order or 'bgr')
    if channel_order is not None:
        raise ValueError(f'channel_order={channel_order!r} applies to numpy arrays only; a {type(img).__name__} '
                         'carries its own channel order')
    if isinstance(img, Image.Image):
        return _from_pil(img)
    if isinstance(img, (str, os.PathLike)) and isinstance(os.fspath(img), str):
        return _from_file(os.fspath(img))
    raise TypeError(f'img must be a file path (str or os.PathLike), a numpy array or a PIL.Image.Image, got '
                    f'{type(img).__name__}')


def _from_file(path: str) -> np.ndarray:
    if not osp.isfile(path):
        raise FileNotFoundError(f'image not found: {path}')
    out = mmcv.imread(path, flag='color', channel_order='bgr')
    if out is None:
        raise ValueError(f'cannot decode image {path} (corrupt or not an image)')
    return out


def _from_array(img: np.ndarray, channel_order: str) -> np.ndarray:
    if img.dtype == np.uint16:
        img = (img >> 8).astype(np.uint8)
    if img.dtype != np.uint8:
        raise ValueError(f'an image array must be uint8 or uint16, got {img.dtype}')
    if img.ndim == 3 and img.shape[2] == 1:
        img = img[:, :, 0]
    if img.ndim == 2:
        return cv2.cvtColor(img, cv2.COLOR_GRAY2BGR)
    if img.ndim == 3 and img.shape[2] in (3, 4):
        if img.shape[2] == 4:
            img = img[:, :, :3]
        return np.ascontiguousarray(img[:, :, ::-1] if channel_order == 'rgb' else img)
    raise ValueError(f'an image array must be H x W, H x W x 1, x 3 or x 4, got shape {img.shape}')


def _from_pil(img: Image.Image) -> np.ndarray:
    if img.mode in PIL_16BIT_MODES:
        grey = np.asarray(img)
        if grey.min() < 0 or grey.max() > 65535:
            raise ValueError(f'a PIL image of mode {img.mode!r} must hold 16-bit grey levels (0..65535), got values '
                             f'in {grey.min()}..{grey.max()}')
        return _from_array(grey.astype(np.uint16), 'bgr')
    if img.mode not in PIL_RGB_MODES:
        raise ValueError(f'PIL image mode {img.mode!r} is not supported; accepted modes: {list(PIL_MODES)} '
                         "(convert it, e.g. img.convert('RGB'), first)")
    return np.ascontiguousarray(np.asarray(img.convert('RGB'))[:, :, ::-1])
