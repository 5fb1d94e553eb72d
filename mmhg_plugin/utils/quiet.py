"""Silence third-party notices a user of our tools cannot act on.

For entry points only (``tools/``, ``demo/``, ``benchmarks/``): the library
never installs these filters itself. Call
:func:`silence_third_party_deprecations` at the top of the script, before
anything imports ``mmpose.apis`` or ``mmpose.visualization`` (importing
``mmhg_plugin`` does not), and :func:`silence_deprecation_logs` on a
runner's logger.
"""
import logging
import re
import warnings

#: Message regexes of the Python warnings silenced: mmengine's package
#: look-ups import ``pkg_resources``, which setuptools deprecates (a
#: UserWarning in recent setuptools, a DeprecationWarning in older; raised
#: where mmengine imports or reloads it); MMPose's datasets name their
#: metainfo file relative to MMPose's repository and say so each time they
#: fall back to the copy installed with the package (the same file).
SILENCED_WARNINGS = (r'pkg_resources is deprecated as an API',
                     r'The metainfo config file ".*" does not exist\. A '
                     r'matched config file ".*" will be used instead\.')

#: Log messages of mmengine silenced: its own ``CheckpointHook`` builds the
#: ``FileClient`` (and ``HardDiskBackend``) it deprecates.
SILENCED_LOG_MESSAGES = re.compile(
    r'"FileClient" will be deprecated in future\.|'
    r'"HardDiskBackend" is the alias of "LocalBackend" and the former will '
    r'be deprecated in future\.')


def silence_third_party_deprecations() -> None:
    """Ignore the :data:`SILENCED_WARNINGS` in this process."""
    for message in SILENCED_WARNINGS:
        for category in (UserWarning, DeprecationWarning):
            warnings.filterwarnings('ignore', message=message,
                                    category=category)


class _DropSilencedMessages(logging.Filter):
    """Drops the records whose message matches
    :data:`SILENCED_LOG_MESSAGES`."""

    def filter(self, record: logging.LogRecord) -> bool:
        return SILENCED_LOG_MESSAGES.match(record.getMessage()) is None


def silence_deprecation_logs(logger: logging.Logger) -> None:
    """Drop :data:`SILENCED_LOG_MESSAGES` from ``logger`` (e.g.
    ``runner.logger``, where mmengine logs them)."""
    logger.addFilter(_DropSilencedMessages())
