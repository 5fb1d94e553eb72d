"""Errors the library raises for the tools to report.

Library code raises these; only the entry points under ``tools/`` turn them
into a message on stderr and an exit status.
"""


class MMHGError(Exception):
    """Base of the errors mmhg raises about its inputs."""


class PreflightError(MMHGError):
    """A run cannot start; the message names every problem found."""


class DatasetFilesError(PreflightError):
    """The annotation or head-box files of a dataloader cannot be used."""


class CheckpointFileError(PreflightError):
    """The checkpoint to load is missing, unsafe or unreadable."""
