"""Exceptions that the CLI reports as one clear line (no traceback): bad input, not bugs."""


class UserError(Exception):
    """A problem with the user's input: config, paths, files, missing weights."""


class ConfigError(UserError):
    """A config key is unknown, has the wrong type, or combines impossibly with another."""


class DataError(UserError):
    """An input file is missing, unreadable, corrupt or of the wrong shape; the message names it."""


class TrainingDiverged(UserError):
    """A loss became NaN or infinite; the last good checkpoint is left untouched."""
