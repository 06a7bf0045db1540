"""The one exception type for errors a user can cause."""


class VQLabError(Exception):
    """A user-facing error: bad option, missing or corrupt file, incompatible checkpoint, diverged run.

    The CLI prints ``error: <message>`` on one line and exits with code 2; library users catch this type.
    """


class ReportedElsewhere(VQLabError):
    """A user error that another process of the same job reports (under ``torchrun``: rank 0).

    The CLI exits with code 2 without printing it, so the user reads the message once, not once per process.
    """
