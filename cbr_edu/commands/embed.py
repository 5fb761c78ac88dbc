"""``python -m cbr_edu embed``: a big collection -> embeddings in Parquet shards, with Apache Beam.

SOURCE is an album folder (one sub-folder per class) or a file list (one image
per line, ``PATH`` or ``PATH<TAB>LABEL``; paths on any file system Beam reads,
e.g. ``gs://``). The Beam pipeline decodes with the project's one pixel policy,
embeds with RunInference and writes ``OUT_DIR/embeddings-*.parquet`` (``path``,
``label``, ``embedding``) and ``OUT_DIR/manifest.json`` (embedder, counts, shards,
skipped files and why). Unknown options go to Beam (``--runner``, ``--project``,
``--temp_location``…); the default runner, DirectRunner, runs here, offline.
Then ``python -m cbr_edu build --embeddings OUT_DIR -o model.tflite``.

Needs the optional ``scale`` extra (``pip install "cbr-edu[scale]"``).

Example
-------
    python -m cbr_edu embed albums/ -o out/embeddings
    python -m cbr_edu embed photos.txt -o gs://my-bucket/embeddings --runner DataflowRunner \\
        --project my-project --region europe-west1 --temp_location gs://my-bucket/tmp \\
        --extra_package dist/cbr_edu-0.1.0-py3-none-any.whl
"""

from __future__ import annotations

import os
import time

from ..cli import UserError

#: ``embed`` takes Beam's own options too (``parse_known_args``)
PASSES_UNKNOWN_OPTIONS = True


def add_arguments(parser):
    a = parser.add_argument
    a("source", metavar="SOURCE",
      help="album folder (one sub-folder per class) or a file list (one image path per line)")
    a("-o", "--output", required=True, metavar="OUT_DIR",
      help="folder for the Parquet shards and manifest.json (local or e.g. gs://)")
    a("--embedder", default="efficientnet_lite0",
      help="embedder spec, loaded on every worker (default: %(default)s, offline)")
    a("--batch-size", type=int, default=32,
      help="largest batch RunInference gives the embedder (default: %(default)s)")
    a("--shards", type=int, default=0,
      help="number of Parquet files (default: 0, the runner decides)")
    a("--large-model", action="store_true",
      help="one embedder per machine, shared by its worker processes (big models)")
    a("--overwrite", action="store_true",
      help="write into an OUT_DIR that already holds a manifest (old shards are not deleted)")


def _check_output(output: str, source: str, overwrite: bool):
    from ..scale.shards import MANIFEST, join
    from ..scale.sources import is_remote
    if is_remote(output):
        return
    if os.path.isfile(output):
        raise UserError(f"-o '{output}' is a file; give a folder for the shards")
    if os.path.exists(join(output, MANIFEST)) and not overwrite:
        raise UserError(f"'{output}' already holds embeddings ({MANIFEST}); pass --overwrite "
                        "or choose another OUT_DIR")
    if os.path.isdir(source):
        inside = os.path.realpath(output) + os.sep
        if inside.startswith(os.path.realpath(source) + os.sep):
            raise UserError(f"-o '{output}' is inside the album '{source}'; write the shards "
                            "somewhere else (the album is only read)")


def run(args, beam_args=()) -> int:
    from ..scale import MissingExtraError, require
    try:
        require(what="python -m cbr_edu embed")
    except MissingExtraError as error:
        raise UserError(str(error)) from None
    if args.batch_size < 1:
        raise UserError(f"--batch-size must be at least 1, got {args.batch_size}")
    if args.shards < 0:
        raise UserError(f"--shards must be 0 (the runner decides) or more, got {args.shards}")
    _check_output(args.output, args.source, args.overwrite)
    from ..embedders import OfflineError
    from ..scale.pipeline import embed_source
    start = time.perf_counter()
    print(f"Embedding {args.source} -> {args.output} with {args.embedder} "
          f"({' '.join(beam_args) or '--runner DirectRunner'})", flush=True)
    try:
        manifest = embed_source(args.source, args.output, embedder=args.embedder,
                                pipeline_args=list(beam_args), batch_size=args.batch_size,
                                shards=args.shards, large_model=args.large_model)
    except (ValueError, OfflineError, FileNotFoundError) as error:
        raise UserError(str(error)) from None
    counts = manifest["counts"]
    print(f"Embedded {counts['embedded']} images in {counts['classes']} classes "
          f"({manifest['embedder']['dim']}-d, {manifest['embedder']['id']}) into "
          f"{len(manifest['shards'])} shard(s) in {time.perf_counter() - start:.1f} s")
    if manifest["skipped"]:
        print(f"Skipped {counts['skipped']} file(s):")
        for item in manifest["skipped"][:20]:
            print(f"  {item['path']}: {item['reason']}")
        if counts["skipped"] > 20:
            print(f"  ... and {counts['skipped'] - 20} more (all in manifest.json)")
    print(f"Next: python -m cbr_edu build --embeddings {args.output} -o model.tflite")
    return 0
