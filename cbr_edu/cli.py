"""``python -m cbr_edu``: the command line.

Each subcommand lives in its own module under ``cbr_edu.commands`` and provides
``add_arguments(parser)`` and ``run(args) -> int``. A user error (bad folder,
unknown dataset…) is raised as ``UserError`` and printed as one clear line with
a non-zero exit status, never a traceback.

Example
-------
    python -m cbr_edu compare --dataset lfw_subset --ways 2 --shots 1,5
    python -m cbr_edu build my_albums/ -o my_model.tflite
    python -m cbr_edu predict my_model.tflite photo.jpg
    python -m cbr_edu embed my_albums/ -o out/embeddings   # Apache Beam (the scale extra)
"""

import argparse
import sys
import tempfile
from importlib import import_module
from pathlib import Path

__all__ = ["main", "UserError", "check_writable"]

# subcommand -> one-line help; the module cbr_edu.commands.<name> does the work
COMMANDS = {
    "compare": "compare CbR with kNN, prototypes and trained baselines on few-shot episodes",
    "build": "turn album folders (one per class) into a .tflite classifier",
    "predict": "classify images with a .tflite model built by 'build'",
    "embed": "embed a big collection into Parquet shards with an Apache Beam pipeline",
}


class UserError(Exception):
    """A problem with the user's input: printed as a message, exit status 2."""


def check_writable(path, flag):
    """Refuse now, before the slow work, an output file that could not be written.

    The message is one line naming ``flag`` (e.g. ``--output``). Missing folders
    are fine when the nearest existing one can be written (they are created).
    """
    path = Path(path)
    if path.is_dir():
        raise UserError(f"{flag}: '{path}' is a folder; give a file name inside it")
    folder = path.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    if not folder.is_dir():
        raise UserError(f"{flag}: '{folder}' is a file, not a folder; choose another place")
    try:
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as error:
        raise UserError(f"{flag}: cannot write in the folder '{folder}' "
                        f"({error.strerror or error}); choose a folder you can write to") from None


class _Parser(argparse.ArgumentParser):
    """argparse, with its errors in one line like every other failure."""

    def error(self, message):
        self.exit(2, f"error: {message} ('{self.prog} --help' lists the options)\n")


def _parser(available):
    parser = _Parser(
        prog="python -m cbr_edu",
        description="Classification-by-Retrieval: image classifiers with no training.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, module in available.items():
        command = sub.add_parser(name, help=COMMANDS[name], description=COMMANDS[name])
        module.add_arguments(command)
    return parser


def _available_commands():
    found = {}
    for name in COMMANDS:
        try:
            found[name] = import_module(f"cbr_edu.commands.{name}")
        except ModuleNotFoundError as error:
            if error.name != f"cbr_edu.commands.{name}":
                raise
    return found


def main(argv=None):
    """Run the command line; returns the exit status."""
    available = _available_commands()
    parser = _parser(available)
    args, unknown = parser.parse_known_args(argv)
    module = available[args.command]
    passes = getattr(module, "PASSES_UNKNOWN_OPTIONS", False)  # e.g. Beam's options
    if unknown and not passes:
        parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    try:
        return (module.run(args, unknown) if passes else module.run(args)) or 0
    except UserError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
