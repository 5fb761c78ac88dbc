"""Images: decoding (:mod:`.read`), the one pixel policy (:mod:`.prepare`), albums (:mod:`.album`).

Every road from an image to a model goes through :func:`prepare_images`: decode
(EXIF orientation, modes, alpha on white), then resize the whole image to the
model's input size with one method — MediaPipe's, so the phone sees the same
pixels — as RGB uint8, which the exported ``.tflite`` receives too.

Example
-------
>>> import numpy as np
>>> from cbr_edu.images import prepare_images
>>> prepare_images([np.zeros((30, 40, 3), np.uint8)], (8, 8)).shape
(1, 8, 8, 3)
"""

from .album import Album, AlbumError, AlbumScan, is_hidden, load_folder, read_album, scan_album
from .prepare import MAX_SHRINK, POLICY_ID, as_image_list, prepare_image, prepare_images, resize
from .read import (DEFAULT_MAX_PIXELS, IMAGE_EXTENSIONS, ImageReadError, check_header,
                   read_image, to_rgb)

__all__ = ["Album", "AlbumError", "AlbumScan", "DEFAULT_MAX_PIXELS", "IMAGE_EXTENSIONS",
           "ImageReadError", "MAX_SHRINK", "POLICY_ID", "as_image_list", "check_header",
           "is_hidden", "load_folder", "prepare_image", "prepare_images", "read_album",
           "read_image", "resize", "scan_album", "to_rgb"]
