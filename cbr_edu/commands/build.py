"""``python -m cbr_edu build``: album folders -> a ``.tflite`` classifier, no code.

``ALBUMS_DIR`` holds one sub-folder per class (the folder name is the class
name) with that class's photos inside::

    albums/
      cat/   1.jpg 2.jpg ...
      dog/   a.png b.heic(skipped) ...

Every photo is embedded (with a progress bar; embeddings are cached, so a
second build is quick), the index becomes a CbR model and is exported with its
labels (model metadata + ``<model>.labels.txt`` beside it). Unreadable files are
skipped and listed with the reason. Nothing inside ``ALBUMS_DIR`` is written.
What can be checked before embedding is (the output folder can be written, the
embedder can become part of a model, the class names fit a label file).

``--embeddings OUT_DIR`` builds from the Parquet shards of ``python -m cbr_edu
embed`` instead, without re-embedding (the embedder is the one the manifest
names; needs the ``scale`` extra).

Example
-------
    python -m cbr_edu build --embeddings out/embeddings -o museum.tflite
    python -m cbr_edu build albums/ -o pets.tflite
    python -m cbr_edu build albums/ -o pets_int8.tflite --int8 --aggregation topk_mean --k 3
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from .._errors import InputError
from ..cli import UserError, check_writable

CHUNK = 16  # images embedded per step (the progress bar moves per step)


def add_arguments(parser):
    a = parser.add_argument
    a("albums", metavar="ALBUMS_DIR", nargs="?",
      help="folder with one sub-folder of images per class")
    a("--embeddings", metavar="OUT_DIR",
      help="build from the shards 'python -m cbr_edu embed' wrote, instead of ALBUMS_DIR")
    a("-o", "--output", required=True, metavar="MODEL.tflite", help="the model file to write")
    a("--embedder", default=None,
      help="embedder spec (default: efficientnet_lite0, offline; with --embeddings, the one "
           "the manifest names; 'pixels' for raw pixels; also "
           "keras:<Name>, a .keras file, a SavedModel folder or a TF Hub handle; a .tflite "
           "embedder cannot become part of a new model)")
    a("--int8", action="store_true",
      help="quantise the embedder (full-integer int8) and the retrieval weights: about 3x "
           "smaller and 2x faster on a phone; scores change slightly")
    a("--aggregation", choices=("max", "mean", "topk_mean"), default="max",
      help="how a class's example scores become its score (default: %(default)s)")
    a("--k", type=int, default=3, help="examples averaged by topk_mean (default: %(default)s)")
    a("--overwrite", action="store_true", help="replace MODEL.tflite if it exists")
    a("--no-progress", action="store_true", help="no progress bar")


def _rel(path, root):
    try:
        return str(Path(path).relative_to(root))
    except ValueError:
        return str(path)


def _check_output(output: Path, albums: Path, overwrite: bool):
    if output.suffix.lower() != ".tflite":
        raise UserError(f"--output: the model file should end in .tflite, got '{output}'")
    if output.is_dir():
        raise UserError(f"--output: '{output}' is a folder; give a file name, e.g. "
                        f"'{output / 'model.tflite'}'")
    if not output.parent.is_dir():
        raise UserError(f"--output: the folder '{output.parent}' does not exist; create it "
                        "first")
    if output.exists() and not overwrite:
        raise UserError(f"'{output}' exists; pass --overwrite to replace it, or choose another "
                        "name")
    try:
        inside = os.path.realpath(output.parent).startswith(os.path.realpath(albums) + os.sep) \
            or os.path.realpath(output.parent) == os.path.realpath(albums)
    except OSError:
        inside = False
    if albums.is_dir() and inside:
        raise UserError(f"'{output}' is inside the album folder '{albums}'; write the model "
                        "somewhere else (the albums are only read, never written)")
    check_writable(output, "--output")


def _check_class_names(output: Path, class_names, overwrite: bool):
    """The class names fit a label file, and the model's label file may be written."""
    from ..tflite.metadata import check_side_labels, label_file_text, side_labels_path
    try:
        check_side_labels(output, label_file_text(class_names), overwrite=overwrite)
    except FileExistsError:
        raise UserError(f"'{side_labels_path(output)}' exists with other labels; pass "
                        "--overwrite to replace it, or choose another model name") from None
    except (ValueError, OSError) as error:  # a class folder name with a line break...
        raise UserError(str(error)) from None


def _embed(embedder, album, show_progress):
    """Embeddings of the album's files (cached); files that fail to decode are skipped."""
    import numpy as np
    from ..cache import EmbeddingCache
    from ..images import ImageReadError, read_image
    cache = EmbeddingCache()
    read_options = {"max_side": album.max_side} if album.max_side else {}
    paths = list(album.paths)
    vectors, kept, late_skips, hits = [], [], [], 0
    bar = None
    if show_progress:
        from tqdm.auto import tqdm
        bar = tqdm(total=len(paths), desc=f"embedding ({embedder.spec})", unit="img",
                   file=sys.stderr)
    try:
        for start in range(0, len(paths), CHUNK):
            chunk = list(range(start, min(start + CHUNK, len(paths))))
            try:
                emb = cache.get_or_compute(embedder, [paths[i] for i in chunk],
                                           batch_size=CHUNK, read_options=read_options)
                vectors.append(emb)
                kept.extend(chunk)
                hits += cache.last_hits
            except (ImageReadError, OSError):
                good = []
                for i in chunk:  # find the bad file(s), then embed the rest together
                    try:
                        read_image(paths[i], **read_options)
                    except ImageReadError as error:
                        late_skips.append((paths[i], error.reason))
                        continue
                    except OSError as error:
                        late_skips.append((paths[i], f"cannot read ({error.strerror or error})"))
                        continue
                    good.append(i)
                if good:
                    vectors.append(cache.get_or_compute(
                        embedder, [paths[i] for i in good], batch_size=CHUNK,
                        read_options=read_options))
                    kept.extend(good)
                    hits += cache.last_hits
            if bar is not None:
                bar.update(len(chunk))
    finally:
        if bar is not None:
            bar.close()
    embeddings = np.concatenate(vectors) if vectors else np.zeros((0, 0), np.float32)
    return embeddings, kept, late_skips, hits


def _read_album(albums):
    from ..images import AlbumError, load_folder
    try:
        return load_folder(albums, load_images=False)
    except AlbumError as error:
        raise UserError(error.message) from None


def _load_embedder(spec):
    """The embedder, checked to become part of a model before any image is embedded."""
    from ..embedders import load_embedder
    try:
        embedder = load_embedder(spec)
    except (ValueError, TypeError) as error:
        raise UserError(f"--embedder: {error}") from None
    except Exception as error:  # noqa: BLE001 - offline, missing weights...
        raise UserError(f"--embedder: could not load {spec!r}: {error}") from None
    try:
        embedder.as_layer()
    except NotImplementedError:
        raise UserError(f"--embedder: {spec!r} can embed images but cannot become part of a "
                        "new .tflite model; give the .keras file or SavedModel folder it was "
                        "made from") from None
    return embedder


def _report_index(albums, album, labels, skipped, hits, seconds):
    """Print what was skipped and indexed; refuse classes left without images."""
    empty = [c for c in album.class_names if c not in set(labels)]
    if skipped:
        print(f"Skipped {len(skipped)} file(s):")
        for path, why in skipped:
            print(f"  {_rel(path, albums)}: {why}")
    if empty:
        raise UserError(f"class folder(s) without readable images: "
                        f"{', '.join(repr(c) for c in empty)}; add images or remove the folder")
    _report_counts(labels, f"{hits} embeddings from the cache, {len(labels) - hits} "
                           f"computed in {seconds:.1f} s")


def _report_counts(labels, note):
    """Print the images per class; refuse fewer than two classes."""
    from collections import Counter
    if len(set(labels)) < 2:
        raise UserError("at least two classes with readable images are needed")
    counts = Counter(labels)
    print(f"Indexed {len(labels)} images in {len(counts)} classes ({note}):")
    width = max(len(c) for c in counts)
    for name in sorted(counts):
        print(f"  {name:<{width}}  {counts[name]}")


def _export(args, embeddings, labels, embedder, output):
    from ..model import build_cbr_model
    from ..tflite import export_tflite
    model = build_cbr_model(embeddings, labels, embedder=embedder,
                            aggregation=args.aggregation, k=args.k)
    try:
        result = export_tflite(model, output, quantize="int8" if args.int8 else None,
                               overwrite=args.overwrite)
    except FileExistsError:
        raise UserError(f"'{output}' or its label file appeared while building; pass "
                        "--overwrite to replace them, or choose another name") from None
    except InputError as error:  # too large for one file: --int8 is 4x smaller
        raise UserError(error.message + ("" if args.int8 else " Try --int8 (4x smaller)."))\
            from None
    except ValueError as error:
        raise UserError(str(error)) from None
    except OSError as error:
        raise UserError(f"cannot write '{output}': {error.strerror or error}") from None
    print(f"Wrote {result.path} ({result.bytes / 1e6:.2f} MB: retrieval weights "
          f"{result.retrieval_bytes / 1e6:.2f} MB {'int8' if args.int8 else 'float32'}, "
          f"aggregation {args.aggregation}) and {result.labels_path}")
    return result


def _from_albums(args, output):
    """``(embeddings, labels, embedder)`` of an album folder (embedded here, cached)."""
    albums = Path(args.albums)
    album = _read_album(albums)
    _check_class_names(output, album.class_names, args.overwrite)
    embedder = _load_embedder(args.embedder or "efficientnet_lite0")
    print(f"Reading albums from {albums} ({len(album)} images in {len(album.class_names)} "
          f"classes), embedder {embedder.spec} ({embedder.dim}-d, "
          f"{embedder.input_size[0]}x{embedder.input_size[1]})")
    t_embed = time.perf_counter()
    embeddings, kept, late_skips, hits = _embed(embedder, album, not args.no_progress)
    labels = [album.labels[i] for i in kept]
    _report_index(albums, album, labels, list(album.skipped) + late_skips, hits,
                  time.perf_counter() - t_embed)
    return embeddings, labels, embedder


def _from_embeddings(args, output):
    """``(embeddings, labels, embedder)`` read from the shards of ``embed``."""
    from ..scale import MissingExtraError, require
    try:
        require(["pyarrow", "apache_beam"], what="build --embeddings")
    except MissingExtraError as error:
        raise UserError(str(error)) from None
    from ..scale.shards import read_embeddings
    try:
        shards = read_embeddings(args.embeddings)
    except ValueError as error:
        raise UserError(f"--embeddings: {error}") from None
    spec = shards.embedder_spec
    if args.embedder not in (None, spec):
        raise UserError(f"--embedder {args.embedder!r} differs from {spec!r}, which the shards "
                        f"in '{args.embeddings}' were embedded with; leave --embedder out")
    labels = list(shards.labels)
    _check_class_names(output, sorted(set(labels)), args.overwrite)
    embedder = _load_embedder(spec)
    if embedder.id != shards.manifest["embedder"]["id"]:
        raise UserError(f"--embeddings: the embedder {spec!r} loads here as {embedder.id!r}, "
                        f"but the shards were made with {shards.manifest['embedder']['id']!r}; "
                        "run embed again")
    _report_counts(labels, f"read from {args.embeddings}, {embedder.spec} {embedder.dim}-d; "
                           f"{shards.manifest['counts']['skipped']} file(s) skipped by embed")
    return shards.embeddings, labels, embedder


def run(args) -> int:
    start = time.perf_counter()
    output = Path(args.output)
    if args.k < 1:
        raise UserError(f"--k must be at least 1, got {args.k}")
    if (args.albums is None) == (args.embeddings is None):
        raise UserError("give either ALBUMS_DIR or --embeddings OUT_DIR (one of them)")
    _check_output(output, Path(args.albums or args.embeddings), args.overwrite)
    embeddings, labels, embedder = (_from_embeddings(args, output) if args.embeddings
                                    else _from_albums(args, output))
    result = _export(args, embeddings, labels, embedder, output)
    print(f"Done in {time.perf_counter() - start:.1f} s. Try it: python -m cbr_edu predict "
          f"{result.path} IMAGE...")
    return 0
