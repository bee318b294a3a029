"""Typed errors. Each says what went wrong and what to do; the CLI maps them to exit codes."""


class BtcstressError(Exception):
    """Base class. `exit_code` is what the CLI exits with."""

    exit_code = 1


class InputError(BtcstressError):
    """The user asked for something malformed (a bad timestamp, a negative price)."""

    exit_code = 2


class NoDataError(BtcstressError):
    """The store holds no data for the question (an as-of beyond the data, an empty store)."""

    exit_code = 2


class ParseError(BtcstressError):
    """A file or message cannot be read at all (wrong header, unknown format)."""

    exit_code = 1


class QuarantineError(BtcstressError):
    """Rows were quarantined and the user did not pass --allow-quarantine."""

    exit_code = 1
