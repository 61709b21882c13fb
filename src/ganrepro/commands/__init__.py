"""Subcommands of the `ganrepro` CLI: one module per stage, each with a ``register(subparsers)``."""
