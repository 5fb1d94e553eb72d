"""Errors the library raises for the tools to report.

Library code raises these; only the entry points under ``tools/`` (and
``demo/``) turn them into a message on stderr and exit status 1.
"""
import pickle


class MMHGError(Exception):
    """Base of the errors mmhg raises about its inputs."""


class PreflightError(MMHGError):
    """A run cannot start; the message names every problem found."""


class DatasetFilesError(PreflightError):
    """The annotation or head-box files of a dataloader cannot be used."""


class CheckpointFileError(PreflightError):
    """The checkpoint to load is missing, unsafe or unreadable, or lies
    outside the run's work dir."""


class UnsafeCheckpointError(CheckpointFileError, pickle.UnpicklingError):
    """The checkpoint holds objects whose loading could run code."""


class CheckpointMismatchError(CheckpointFileError):
    """The checkpoint's keys or tensor shapes differ from the model's."""


class CheckpointWriteError(MMHGError, OSError):
    """A checkpoint (or ``last_checkpoint``) could not be written; the
    partial file was removed."""
