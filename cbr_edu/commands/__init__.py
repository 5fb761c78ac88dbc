"""Subcommands of ``python -m cbr_edu``: one module each, see ``cbr_edu.cli``."""
