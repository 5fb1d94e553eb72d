"""Files that appear complete or not at all: written to a temporary file in
the same folder, fsynced and renamed into place; a failed write leaves
nothing behind."""
import glob
import os
import os.path as osp
from typing import Callable, List, Optional

from mmhg_plugin.utils.errors import CheckpointWriteError

#: Temporary files are ``<final name><TMP_MARK><pid>`` in the same folder.
TMP_MARK = '.tmp-'

#: A commit step: make the written temporary file (first argument) the
#: final file (second argument).
Commit = Callable[[str, str], None]


def fsync_dir(path: str) -> None:
    """Flush a directory entry (a rename) to disk; a no-op where the OS
    cannot open directories (Windows)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def commit_file(tmp_path: str, final_path: str) -> None:
    """fsync ``tmp_path``, rename it over ``final_path`` (atomic on POSIX and
    Windows within one file system), fsync the folder."""
    with open(tmp_path, 'rb+') as f:
        os.fsync(f.fileno())
    os.replace(tmp_path, final_path)
    fsync_dir(osp.dirname(osp.abspath(final_path)))


def _failure(error: Exception) -> str:
    """``[Errno 28] No space left on device`` for OS errors (without the
    file name: the message names the final file), else ``Type: first line``."""
    if isinstance(error, OSError) and error.errno is not None:
        return f'[Errno {error.errno}] {error.strerror}'
    lines = str(error).strip().splitlines()
    name = type(error).__name__
    return f'{name}: {lines[0]}' if lines else name


def write_via_temp(final_path: str, write: Callable[[str], None],
                   commit: Optional[Commit]) -> None:
    """Write ``final_path`` through ``<final_path><TMP_MARK><pid>``.

    Args:
        final_path (str): The file to create or replace.
        write (Callable[[str], None]): Writes the content to the path given.
        commit (Commit | None): Makes the temporary file the final one; None
            when another process commits (ranks other than 0).

    Raises:
        CheckpointWriteError: When writing or committing fails (e.g. a full
            disk); names ``final_path`` and the reason. The temporary file
            is removed first (also on ``KeyboardInterrupt``, which is
            re-raised as it is).
    """
    tmp_path = f'{final_path}{TMP_MARK}{os.getpid()}'
    try:
        write(tmp_path)
        if commit is not None:
            commit(tmp_path, final_path)
    except BaseException as e:
        if osp.lexists(tmp_path):
            os.remove(tmp_path)
        if not isinstance(e, Exception):
            raise
        raise CheckpointWriteError(
            f'cannot write {final_path}: {_failure(e)} (the partial file was '
            'removed)') from e


def write_text_atomically(path: str, text: str) -> None:
    """Write a small text file through a temporary file and a rename.

    Raises:
        CheckpointWriteError: As :func:`write_via_temp`.
    """

    def write(tmp: str) -> None:
        with open(tmp, 'w', encoding='utf-8') as f:
            f.write(text)

    # looked up at each call, so that tests can replace commit_file
    write_via_temp(path, write, lambda tmp, final: commit_file(tmp, final))


def remove_stale_temp_files(folder: str) -> List[str]:
    """Delete the temporary files interrupted writes left in ``folder``.

    Returns:
        list[str]: The removed paths.
    """
    removed = []
    for path in sorted(glob.glob(osp.join(glob.escape(folder),
                                          f'*{TMP_MARK}*'))):
        try:
            os.remove(path)
        except FileNotFoundError:  # another process was quicker
            continue
        removed.append(path)
    return removed
