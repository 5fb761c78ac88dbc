"""Robust image reading and the album loader.

Two jobs, both read-only towards the user's files:

* :func:`read_image` turns one file into an ``(H, W, 3)`` ``uint8`` RGB array,
  whatever the file's format or mode.
* :func:`load_folder` reads an *album*, ``root/<class>/<images…>``, and reports
  every file it skipped together with the reason.

Mode policy (what :func:`read_image` does to each Pillow mode):

* EXIF orientation is applied first, so a phone photo taken in portrait comes
  back upright (``ImageOps.exif_transpose``).
* ``RGB``, ``L``, ``1``, ``P`` (no transparency), ``CMYK``, ``YCbCr``, ``LAB``,
  ``HSV`` → converted to RGB by Pillow.
* Anything with transparency (``RGBA``, ``LA``, ``PA``, ``P`` with a
  transparency entry, premultiplied ``RGBa``/``La``) is composited **on a white
  background**: a transparent logo on white is what people see in a viewer,
  whereas dropping alpha would expose arbitrary colours hidden under it.
* 16-bit grey (``I;16*``) is *scaled* to 8 bits (``value / 257``), not
  clipped, so a 16-bit scan keeps its full tonal range. 32-bit integer ``I``
  is treated the same way when its values fit 0…65535, otherwise stretched
  min→0, max→255. Float ``F`` in 0…1 is multiplied by 255, any other range is
  stretched min→max; NaN becomes 0.
* Animated GIF / WebP / PNG and multi-page TIFF: the first frame.

Resize policy: the embedders resize the *whole* image to their input size
(no cropping), so the reader never crops and never upsizes. It only
*downsizes* on request (``max_side``), to save memory with large photos; the
aspect ratio is kept. JPEGs are then decoded at reduced scale
(``Image.draft``), which is much faster and lighter than decoding in full.

Decompression bombs: a file whose header claims more than ``max_pixels``
pixels (default 50 megapixels) is refused *before* it is decoded. Pillow's own
guard (``Image.MAX_IMAGE_PIXELS``, ``DecompressionBombError``) still applies
on top and is reported the same way.

Example
-------
>>> import numpy as np, tempfile, os
>>> from PIL import Image
>>> d = tempfile.mkdtemp()
>>> Image.new("LA", (4, 2), (0, 0)).save(os.path.join(d, "logo.png"))
>>> read_image(os.path.join(d, "logo.png"))[0, 0]   # transparent -> white
array([255, 255, 255], dtype=uint8)
"""

from __future__ import annotations

import os
import stat
import unicodedata
import warnings
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np
from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

__all__ = [
    "DEFAULT_MAX_PIXELS",
    "IMAGE_EXTENSIONS",
    "ImageReadError",
    "AlbumError",
    "Album",
    "read_image",
    "to_rgb_array",
    "load_folder",
    "is_hidden",
]

#: Images whose header claims more pixels than this are refused (50 MP).
DEFAULT_MAX_PIXELS = 50_000_000

#: File extensions :func:`load_folder` tries to read (lower case, with dot).
IMAGE_EXTENSIONS = frozenset({
    ".jpg", ".jpeg", ".jpe", ".jfif", ".png", ".gif", ".webp", ".bmp", ".dib",
    ".tif", ".tiff", ".ppm", ".pgm", ".pbm", ".pnm",
})

#: Extensions we recognise as images Pillow cannot read here.
_UNSUPPORTED_IMAGE_EXTENSIONS = {
    ".heic": "HEIC/HEIF", ".heif": "HEIC/HEIF", ".avif": "AVIF", ".svg": "SVG",
    ".raw": "camera RAW", ".cr2": "camera RAW", ".nef": "camera RAW",
    ".arw": "camera RAW", ".dng": "camera RAW", ".psd": "Photoshop",
}

#: Names that are never user content (besides anything starting with ".").
_JUNK_NAMES = frozenset({"__macosx", "thumbs.db", "desktop.ini", "@eadir",
                         "$recycle.bin", "ehthumbs.db"})


class ImageReadError(ValueError):
    """An image file could not be read; the message names the file and a fix.

    ``path`` is the offending file and ``reason`` a short phrase (also used in
    :attr:`Album.skipped`).

    Example
    -------
    >>> try:
    ...     read_image("no/such/file.jpg")
    ... except ImageReadError as e:
    ...     print(e.reason)
    file does not exist
    """

    def __init__(self, path, reason: str, hint: str = ""):
        self.path = Path(path)
        self.reason = reason
        self.hint = hint
        msg = f"Cannot read image '{path}': {reason}."
        if hint:
            msg += f" {hint}"
        super().__init__(msg)


class AlbumError(ValueError):
    """An album folder cannot become a data set; the message says why and what to do.

    Example
    -------
    >>> try:
    ...     load_folder("no/such/album")
    ... except AlbumError as e:
    ...     print(str(e).split(":")[0])
    Album folder 'no/such/album' does not exist
    """


# --------------------------------------------------------------------------- #
# one image
# --------------------------------------------------------------------------- #

def _scale_to_uint8(a: np.ndarray, mode: str) -> np.ndarray:
    """Scale a single-channel high-bit-depth array to uint8 (see module doc)."""
    if mode.startswith("I;16") or (
        mode == "I" and a.size and a.min() >= 0 and a.max() <= 65535
    ):
        return np.round(a.astype(np.float64) / 257.0).astype(np.uint8)
    a = a.astype(np.float64)
    a = np.where(np.isfinite(a), a, 0.0)
    if mode == "F" and a.size and a.min() >= 0.0 and a.max() <= 1.0:
        return np.round(a * 255.0).astype(np.uint8)
    lo, hi = (float(a.min()), float(a.max())) if a.size else (0.0, 0.0)
    if hi <= lo:
        return np.zeros(a.shape, np.uint8)
    return np.round((a - lo) * (255.0 / (hi - lo))).astype(np.uint8)


def _pil_to_rgb(im: Image.Image) -> Image.Image:
    """Convert any Pillow image to RGB following the module's mode policy."""
    mode = im.mode
    if mode == "RGB":
        return im
    if mode.startswith("I") or mode == "F":
        grey = _scale_to_uint8(np.asarray(im), mode)
        return Image.fromarray(grey, "L").convert("RGB")
    has_alpha = mode in ("RGBA", "LA", "PA", "RGBa", "La") or (
        mode == "P" and "transparency" in im.info
    ) or (mode in ("L", "RGB") and "transparency" in im.info)
    if has_alpha:
        rgba = im.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    return im.convert("RGB")


def to_rgb_array(image) -> np.ndarray:
    """Return an ``(H, W, 3)`` uint8 RGB copy of a PIL image or an array.

    Arrays may be ``(H, W)`` grey, ``(H, W, 1)``, ``(H, W, 3)`` or ``(H, W, 4)``
    (alpha composited on white); float arrays are taken to be in 0…1 when they
    fit, otherwise stretched.

    Example
    -------
    >>> to_rgb_array(np.zeros((2, 3))).shape
    (2, 3, 3)
    """
    if isinstance(image, Image.Image):
        return np.array(_pil_to_rgb(image), dtype=np.uint8)
    a = np.asarray(image)
    if a.ndim == 3 and a.shape[-1] == 1:
        a = a[..., 0]
    if a.ndim not in (2, 3) or (a.ndim == 3 and a.shape[-1] not in (3, 4)):
        raise ValueError(
            f"Expected an image array of shape (H, W), (H, W, 3) or (H, W, 4); got {a.shape}.")
    if a.dtype != np.uint8:
        if a.dtype == bool:
            a = a.astype(np.uint8) * 255
        elif np.issubdtype(a.dtype, np.floating):
            finite = a[np.isfinite(a)]
            if finite.size == 0 or (finite.min() >= 0 and finite.max() <= 1):
                a = np.round(np.nan_to_num(a, nan=0.0, posinf=1.0, neginf=0.0) * 255)
                a = a.astype(np.uint8)
            else:
                a = _scale_to_uint8(a, "F")  # one min-max stretch over all channels
        elif a.dtype == np.uint16:
            a = np.round(a / 257.0).astype(np.uint8)
        else:
            a = np.clip(a, 0, 255).astype(np.uint8)
    if a.ndim == 2:
        return np.repeat(a[..., None], 3, axis=-1)
    if a.shape[-1] == 4:
        return np.array(_pil_to_rgb(Image.fromarray(np.ascontiguousarray(a), "RGBA")))
    return np.array(a, dtype=np.uint8, copy=True)


def read_image(path, *, max_pixels: int | None = DEFAULT_MAX_PIXELS,
               max_side: int | None = None) -> np.ndarray:
    """Read one image file as an ``(H, W, 3)`` uint8 RGB array.

    Parameters
    ----------
    path : str or PathLike
        The file. It is opened read-only and never modified.
    max_pixels : int or None
        Refuse images whose header claims more pixels than this (checked
        before decoding). ``None`` leaves only Pillow's own guard.
    max_side : int or None
        If given, downsize (keeping the aspect ratio, never upsizing) so that
        the longer side is at most this many pixels.

    Raises
    ------
    ImageReadError
        With the file name, the reason and what to do.

    Example
    -------
    >>> import tempfile, os
    >>> from PIL import Image
    >>> p = os.path.join(tempfile.mkdtemp(), "a.png")
    >>> Image.new("L", (40, 20), 7).save(p)
    >>> read_image(p).shape, read_image(p, max_side=10).shape
    ((20, 40, 3), (5, 10, 3))
    """
    path = Path(path)
    try:
        st = path.stat()
    except FileNotFoundError:
        raise ImageReadError(path, "file does not exist",
                             "Check the path and the file name.") from None
    except OSError as e:
        raise ImageReadError(path, f"cannot access the file ({e.strerror or e})",
                             "Check the file's permissions.") from None
    if stat.S_ISDIR(st.st_mode):
        raise ImageReadError(path, "it is a folder, not a file",
                             "Use load_folder() for a folder of images.")
    if not stat.S_ISREG(st.st_mode):
        raise ImageReadError(path, "not a regular file", "Pass an image file.")
    if st.st_size == 0:
        raise ImageReadError(path, "empty file (0 bytes)",
                             "The file was probably not copied or downloaded completely; "
                             "replace it.")
    ext = path.suffix.lower()
    if ext in _UNSUPPORTED_IMAGE_EXTENSIONS:
        kind = _UNSUPPORTED_IMAGE_EXTENSIONS[ext]
        raise ImageReadError(path, f"{kind} images are not supported",
                             "Convert it to JPEG or PNG first.")
    try:
        with warnings.catch_warnings():
            # Our own limit below is the policy; Pillow's warning is not needed.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as im:
                n_pixels = im.width * im.height
                if max_pixels is not None and n_pixels > max_pixels:
                    raise ImageReadError(
                        path,
                        f"{im.width}×{im.height} = {n_pixels / 1e6:.1f} megapixels is above "
                        f"the limit of {max_pixels / 1e6:.1f} megapixels (decompression-bomb "
                        f"guard)",
                        "If the image is genuine, downsize it with an image editor, or pass "
                        "a larger max_pixels=.")
                if max_side is not None and max(im.size) > max_side:
                    # JPEG: decode directly at a reduced scale (>= requested size).
                    im.draft(im.mode, (max_side, max_side))
                im.load()
                im = ImageOps.exif_transpose(im)
                rgb = _pil_to_rgb(im)
                if max_side is not None and max(rgb.size) > max_side:
                    rgb = rgb.copy()
                    rgb.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
                arr = np.array(rgb, dtype=np.uint8)
    except ImageReadError:
        raise
    except Image.DecompressionBombError as e:
        raise ImageReadError(
            path, f"refused by Pillow's decompression-bomb guard ({e})",
            "If the image is genuine, downsize it, or raise PIL.Image.MAX_IMAGE_PIXELS.") from None
    except UnidentifiedImageError:
        raise ImageReadError(path, "not an image file Pillow can read",
                             "Check that it really is a JPEG/PNG/GIF/WebP/BMP/TIFF "
                             "(the extension may be wrong).") from None
    except MemoryError:
        raise ImageReadError(path, "not enough memory to decode it",
                             "Pass max_side= to downsize while reading.") from None
    except Exception as e:  # truncated data, broken headers, codec errors, …
        text = str(e) or type(e).__name__
        reason = ("truncated or corrupt image data" if "truncat" in text.lower()
                  else f"corrupt or unsupported image ({text})")
        raise ImageReadError(path, reason,
                             "Open it in an image viewer; re-export or replace it.") from None
    if arr.ndim != 3 or arr.shape[-1] != 3 or 0 in arr.shape:
        raise ImageReadError(path, f"decoded to an unexpected shape {arr.shape}",
                             "Re-export it as an RGB JPEG or PNG.")
    return arr


def _check_header(path: Path, max_pixels: int | None) -> None:
    """Cheap readability check without decoding the pixels (lazy mode)."""
    if path.stat().st_size == 0:
        raise ImageReadError(path, "empty file (0 bytes)", "Replace it.")
    if path.suffix.lower() in _UNSUPPORTED_IMAGE_EXTENSIONS:
        read_image(path)  # raises the right message
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as im:
                w, h = im.size
    except Image.DecompressionBombError as e:
        raise ImageReadError(path, f"refused by Pillow's decompression-bomb guard ({e})") from None
    except UnidentifiedImageError:
        raise ImageReadError(path, "not an image file Pillow can read") from None
    except Exception as e:
        raise ImageReadError(path, f"corrupt or unsupported image ({e})") from None
    if max_pixels is not None and w * h > max_pixels:
        raise ImageReadError(
            path, f"{w}×{h} = {w * h / 1e6:.1f} megapixels is above the limit of "
                  f"{max_pixels / 1e6:.1f} megapixels (decompression-bomb guard)")


# --------------------------------------------------------------------------- #
# albums
# --------------------------------------------------------------------------- #

def is_hidden(name: str) -> bool:
    """True for dot-files and OS clutter (``__MACOSX``, ``Thumbs.db``, …).

    Example
    -------
    >>> [is_hidden(n) for n in (".DS_Store", "__MACOSX", "cat.jpg")]
    [True, True, False]
    """
    return name.startswith(".") or name.lower() in _JUNK_NAMES


@dataclass
class Album:
    """What :func:`load_folder` found.

    Attributes
    ----------
    images : list of ndarray
        ``(H, W, 3)`` uint8 RGB arrays (empty in lazy mode — use :meth:`read`
        or :meth:`iter_images`).
    labels : list of str
        The class name of each image.
    paths : list of Path
        The file of each image.
    class_names : list of str
        Sorted class names that have at least one image.
    skipped : list of (Path, str)
        Every file or folder that was *not* used, with the reason.
    root : Path
    empty_classes : list of str
        Class folders without readable images (only with ``allow_empty_classes``).

    Example
    -------
    >>> a = Album(images=[], labels=["b", "a"], paths=[], class_names=["a", "b"])
    >>> a.y.tolist()
    [1, 0]
    """

    images: list
    labels: list
    paths: list
    class_names: list
    skipped: list = field(default_factory=list)
    root: Path | None = None
    empty_classes: list = field(default_factory=list)
    max_pixels: int | None = DEFAULT_MAX_PIXELS
    max_side: int | None = None

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def y(self) -> np.ndarray:
        """Integer labels (index into :attr:`class_names`)."""
        index = {c: i for i, c in enumerate(self.class_names)}
        return np.array([index[c] for c in self.labels], dtype=np.int64)

    @property
    def lazy(self) -> bool:
        """True when pixels were not loaded (``load_images=False``)."""
        return len(self.images) != len(self.labels)

    def read(self, i: int) -> np.ndarray:
        """Pixels of image ``i`` (reads the file in lazy mode)."""
        if not self.lazy:
            return self.images[i]
        return read_image(self.paths[i], max_pixels=self.max_pixels, max_side=self.max_side)

    def iter_images(self) -> Iterator[np.ndarray]:
        """Yield the images one by one (memory-friendly in lazy mode)."""
        for i in range(len(self)):
            yield self.read(i)

    def counts(self) -> dict:
        """Number of images per class."""
        c = Counter(self.labels)
        return {name: c[name] for name in self.class_names}

    def summary(self) -> str:
        """A short human-readable report, including the skip reasons."""
        lines = [f"{len(self)} images in {len(self.class_names)} classes from {self.root}"]
        for name, n in self.counts().items():
            lines.append(f"  {name}: {n}")
        if self.skipped:
            lines.append(f"skipped {len(self.skipped)}:")
            for p, why in self.skipped:
                lines.append(f"  {p}: {why}")
        return "\n".join(lines)


def _nfc(name: str) -> str:
    return unicodedata.normalize("NFC", name)


def _walk_class(class_dir: Path, visited: set, skipped: list) -> list:
    """All candidate files under ``class_dir`` (sorted, hidden ones skipped).

    ``visited`` holds the real paths of folders already walked for this class;
    a folder seen again (symlink loop, or two links to one folder) is skipped.
    """
    files: list = []
    stack = [class_dir]
    while stack:
        d = stack.pop()
        try:
            real = os.path.realpath(d)
        except OSError as e:  # pragma: no cover - exotic
            skipped.append((d, f"cannot resolve folder ({e})"))
            continue
        if real in visited:
            skipped.append((d, "folder already visited (symbolic-link loop or duplicate link)"))
            continue
        visited.add(real)
        try:
            entries = sorted(os.scandir(d), key=lambda e: e.name)
        except OSError as e:
            skipped.append((d, f"cannot list folder ({e.strerror or e})"))
            continue
        subdirs = []
        for entry in entries:
            p = Path(entry.path)
            if is_hidden(entry.name):
                skipped.append((p, "hidden or system file/folder"))
                continue
            try:
                st = os.stat(entry.path)  # follows symlinks
            except FileNotFoundError:
                skipped.append((p, "broken symbolic link"))
                continue
            except OSError as e:  # e.g. ELOOP for a link pointing to itself
                skipped.append((p, f"cannot access ({e.strerror or e})"))
                continue
            if stat.S_ISDIR(st.st_mode):
                subdirs.append(p)
            elif stat.S_ISREG(st.st_mode):
                files.append(p)
            else:
                skipped.append((p, "not a regular file"))
        stack.extend(reversed(subdirs))  # a folder's files, then its sub-folders, alphabetical
    return files


def load_folder(root, *, min_classes: int = 2, allow_empty_classes: bool = False,
                load_images: bool = True, max_side: int | None = 1024,
                max_pixels: int | None = DEFAULT_MAX_PIXELS,
                extensions: Sequence[str] = IMAGE_EXTENSIONS,
                progress: bool = False) -> Album:
    """Load an album laid out as ``root/<class>/<images…>``.

    Every immediate sub-folder of ``root`` is a class; images may sit in
    nested folders inside a class folder (they belong to that class). Files
    are visited in sorted order, so the result is deterministic. Class names
    are the folder names in Unicode NFC form. Nothing under ``root`` is ever
    written, moved or deleted.

    Skipped, each recorded in :attr:`Album.skipped` with its reason: hidden
    files and folders (dot-files, ``__MACOSX``, ``Thumbs.db``), files with a
    non-image extension, empty/truncated/corrupt files, images above
    ``max_pixels``, broken symbolic links, folders reached twice (symlink
    loops), and loose files directly in ``root``.

    Parameters
    ----------
    root : str or PathLike
    min_classes : int
        Fewer classes (with images) than this is an error; 2 for a classifier.
    allow_empty_classes : bool
        A class folder without readable images is an error naming it unless
        this is True; then it is dropped and listed in ``empty_classes``.
    load_images : bool
        False = lazy mode: only headers are checked and ``images`` stays
        empty; read pixels later with :meth:`Album.read` / :meth:`Album.iter_images`.
    max_side : int or None
        Downsize larger images on read to save memory (default 1024; the
        embedders resize to ~224 anyway). None keeps full size.
    max_pixels : int or None
        Decompression-bomb limit, see :func:`read_image`.
    extensions : collection of str
        File extensions to try, lower case with the dot.
    progress : bool
        Show a tqdm progress bar while reading.

    Raises
    ------
    AlbumError
        Missing folder, a file instead of a folder, no class folders, fewer
        than ``min_classes`` classes, a class without readable images, or no
        readable images at all.

    Example
    -------
    >>> import tempfile, os
    >>> from PIL import Image
    >>> root = tempfile.mkdtemp()
    >>> for cls in ("cat", "dog"):
    ...     os.mkdir(os.path.join(root, cls))
    ...     Image.new("RGB", (8, 8)).save(os.path.join(root, cls, "1.png"))
    >>> album = load_folder(root)
    >>> album.class_names, album.labels, album.images[0].shape
    (['cat', 'dog'], ['cat', 'dog'], (8, 8, 3))
    """
    root_in = root
    root = Path(root)
    layout = "Expected layout: <folder>/<class name>/<images>, e.g. album/cat/1.jpg, album/dog/1.jpg."
    if not root.exists():
        if root.is_symlink():
            raise AlbumError(f"Album folder '{root_in}' is a broken symbolic link.")
        raise AlbumError(f"Album folder '{root_in}' does not exist: check the path. {layout}")
    if not root.is_dir():
        hint = (" It looks like an archive: extract it first."
                if root.suffix.lower() in (".zip", ".tar", ".gz", ".tgz", ".7z", ".rar") else "")
        raise AlbumError(f"'{root_in}' is a file, not a folder.{hint} {layout}")
    exts = {e.lower() for e in extensions}
    skipped: list = []
    class_dirs: list = []
    try:
        entries = sorted(os.scandir(root), key=lambda e: e.name)
    except OSError as e:
        raise AlbumError(f"Cannot list album folder '{root_in}': {e.strerror or e}.") from None
    root_real = os.path.realpath(root)
    for entry in entries:
        p = Path(entry.path)
        if is_hidden(entry.name):
            skipped.append((p, "hidden or system file/folder"))
            continue
        try:
            st = os.stat(entry.path)
        except FileNotFoundError:
            skipped.append((p, "broken symbolic link"))
            continue
        except OSError as e:
            skipped.append((p, f"cannot access ({e.strerror or e})"))
            continue
        if stat.S_ISDIR(st.st_mode):
            class_dirs.append(p)
        else:
            skipped.append((p, "not inside a class folder (move it into <folder>/<class>/)"))
    if not class_dirs:
        loose = sum(1 for _, why in skipped if why.startswith("not inside"))
        extra = f" It holds {loose} loose file(s) but no class sub-folders." if loose else ""
        raise AlbumError(f"Album folder '{root_in}' has no class sub-folders.{extra} {layout}")

    # Collect candidate files per class.
    candidates: list = []  # (path, class)
    names_seen: dict = {}
    for cdir in class_dirs:
        cname = _nfc(cdir.name)
        if cname in names_seen:  # NFC/NFD twins on some file systems
            raise AlbumError(
                f"Class folders '{names_seen[cname]}' and '{cdir}' have the same name after "
                f"Unicode normalisation; rename one of them.")
        names_seen[cname] = cdir
        for f in _walk_class(cdir, {root_real}, skipped):
            ext = f.suffix.lower()
            if ext in exts:
                candidates.append((f, cname))
            elif ext in _UNSUPPORTED_IMAGE_EXTENSIONS:
                skipped.append((f, f"{_UNSUPPORTED_IMAGE_EXTENSIONS[ext]} images are not "
                                   f"supported; convert to JPEG or PNG"))
            else:
                skipped.append((f, f"not an image file (extension '{ext or 'none'}')"))

    iterator = candidates
    if progress:
        from tqdm.auto import tqdm
        iterator = tqdm(candidates, desc="reading images", unit="img")
    images, labels, paths = [], [], []
    for f, cname in iterator:
        try:
            if load_images:
                images.append(read_image(f, max_pixels=max_pixels, max_side=max_side))
            else:
                _check_header(f, max_pixels)
        except ImageReadError as e:
            skipped.append((f, e.reason))
            continue
        except OSError as e:  # pragma: no cover - race with the file system
            skipped.append((f, f"cannot access ({e.strerror or e})"))
            continue
        labels.append(cname)
        paths.append(f)

    def _skip_summary() -> str:
        if not skipped:
            return ""
        c = Counter(why for _, why in skipped)
        top = "; ".join(f"{n}× {why}" for why, n in c.most_common(4))
        return f" Skipped {len(skipped)} file(s): {top}."

    if not labels:
        raise AlbumError(f"No readable images under '{root_in}'.{_skip_summary()} {layout}")
    present = set(labels)
    all_classes = sorted(names_seen)
    empty = [c for c in all_classes if c not in present]
    if empty and not allow_empty_classes:
        raise AlbumError(
            f"Class folder(s) without readable images: {', '.join(repr(c) for c in empty)} "
            f"in '{root_in}'. Add images to them, remove the folder(s), or pass "
            f"allow_empty_classes=True to drop them.{_skip_summary()}")
    for c in empty:
        skipped.append((names_seen[c], "class folder has no readable images (class dropped)"))
    class_names = [c for c in all_classes if c in present]
    if len(class_names) < min_classes:
        raise AlbumError(
            f"Album '{root_in}' has {len(class_names)} class(es) with images "
            f"({', '.join(class_names)}); at least {min_classes} are needed to build a "
            f"classifier. Add another sub-folder of images, or pass min_classes=1.")
    return Album(images=images, labels=labels, paths=paths, class_names=class_names,
                 skipped=skipped, root=root, empty_classes=empty,
                 max_pixels=max_pixels, max_side=max_side)
