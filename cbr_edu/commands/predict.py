"""``python -m cbr_edu predict``: classify images with a ``.tflite`` model from ``build``.

Prints the best classes with their scores for each image. An image that cannot
be read gets an error line and the others are still classified; the exit
status is 1 if any image failed. Class names come from the model; a model
without them uses its label file ``<model>.labels.txt`` only when it matches.

Example
-------
    python -m cbr_edu predict pets.tflite photo1.jpg photo2.png --top 3
"""

from __future__ import annotations

import sys
from pathlib import Path

from ..cli import UserError


def add_arguments(parser):
    a = parser.add_argument
    a("model", metavar="MODEL.tflite", help="a model written by 'python -m cbr_edu build'")
    a("images", metavar="IMAGE", nargs="+", help="image files to classify")
    a("--top", type=int, default=3, help="classes shown per image (default: %(default)s)")


def run(args) -> int:
    if args.top < 1:
        raise UserError(f"--top must be at least 1, got {args.top}")
    clf = _load_model(Path(args.model))
    from ..images import ImageReadError
    failed = 0
    for image in args.images:
        try:
            (prediction,) = clf.predict([Path(image)], top=args.top)
        except ImageReadError as error:
            print(f"{image}: error: {error.message}", file=sys.stderr)
            failed += 1
            continue
        except RuntimeError as error:  # LiteRT could not run the model
            raise UserError(f"LiteRT cannot run '{clf.path}': {error}") from None
        print(image)
        width = max(len(name) for name, _ in prediction)
        for name, score in prediction:
            print(f"  {name:<{width}}  {score:.3f}")
    if failed:
        print(f"{failed} of {len(args.images)} image(s) could not be classified",
              file=sys.stderr)
        return 1
    return 0


def _load_model(path):
    """The model as a LiteRTClassifier, or one line saying what is wrong with the file."""
    if path.is_dir():
        raise UserError(f"MODEL '{path}' is a folder, not a model file; give the .tflite file "
                        "that 'build' wrote")
    if not path.is_file():
        raise UserError(f"MODEL '{path}' does not exist; check the path")
    from ..tflite import LiteRTClassifier
    try:
        clf = LiteRTClassifier(path)
    except (ValueError, OSError) as error:
        raise UserError(f"'{path}' is not a model made by 'build': {error}") from None
    if clf.input_kind != "image":
        raise UserError(f"'{path}' takes {clf.dim}-d embeddings, not images; build it from "
                        "album folders to classify image files")
    if clf.label_note:
        print(f"note: {clf.label_note}", file=sys.stderr)
    return clf
