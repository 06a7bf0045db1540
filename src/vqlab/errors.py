"""The one exception type for errors a user can cause."""


class VQLabError(Exception):
    """A user-facing error: bad option, missing or corrupt file, incompatible checkpoint, diverged run.

    The CLI prints ``error: <message>`` on one line and exits with code 2; library users catch this type.
    """
