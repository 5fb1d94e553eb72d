"""A run reads and changes only the files of its own work dir.

MMEngine records checkpoint paths as they were when written: absolute when
the work dir was given absolute, else relative to the working directory.
``last_checkpoint`` and the message hub's ``best_ckpt`` (saved in every
checkpoint) then point into the original folder after ``cp -r w1 w1c``, and
a run in ``w1c`` would resume from ``w1``'s checkpoint and later delete
``w1``'s best checkpoint. The helpers here map such paths onto the current
work dir, or refuse them.
"""
import os
import os.path as osp
from typing import List, Optional

from mmengine.config import Config
from mmengine.logging import print_log

from mmhg_plugin.utils.errors import CheckpointFileError

#: The file in the work dir naming the newest complete checkpoint (MMEngine).
LAST_CHECKPOINT = 'last_checkpoint'


def is_inside(path: str, folder: str) -> bool:
    """Whether ``path`` is ``folder`` or below it (links resolved; relative
    paths are relative to the working directory, as MMEngine reads them)."""
    path, folder = osp.realpath(path), osp.realpath(folder)
    try:
        return osp.commonpath([path, folder]) == folder
    except ValueError:  # different drives (Windows)
        return False


def checkpoint_dirs(cfg: Config) -> List[str]:
    """The folders a run's checkpoints belong in: the work dir and, when
    ``default_hooks.checkpoint.out_dir`` is set, ``out_dir/<work dir
    name>`` (where MMEngine's ``CheckpointHook`` saves then)."""
    dirs = [cfg.work_dir]
    hook = (cfg.get('default_hooks') or {}).get('checkpoint') or {}
    out_dir = hook.get('out_dir')
    if out_dir and '://' not in out_dir:
        dirs.append(osp.join(out_dir,
                             osp.basename(cfg.work_dir.rstrip(osp.sep))))
    return dirs


def own_copy(path: str, folders: List[str]) -> Optional[str]:
    """``path`` if it lies in one of ``folders``; else the file of the same
    name in the first folder that has one; else None."""
    if any(is_inside(path, f) for f in folders):
        return path
    for folder in folders:
        local = osp.join(folder, osp.basename(path))
        if osp.isfile(local):
            return local
    return None


def resolve_last_checkpoint(cfg: Config) -> Optional[str]:
    """The checkpoint ``--resume`` (without a file) continues from.

    Reads ``<work_dir>/last_checkpoint`` as MMEngine does, but never leaves
    the run's folders (:func:`checkpoint_dirs`): a recorded path outside
    them is replaced by the file of the same name inside (a copied or
    moved work dir), and refused when there is none.

    Args:
        cfg (Config): The run's config (``work_dir`` set).

    Returns:
        str | None: The checkpoint, or None when the work dir has no
        ``last_checkpoint`` (the run starts from scratch, as in MMEngine).

    Raises:
        CheckpointFileError: When ``last_checkpoint`` names a file outside
            the run's folders and they hold no file of that name.
    """
    record = osp.join(cfg.work_dir, LAST_CHECKPOINT)
    if not osp.isfile(record):
        return None
    with open(record, encoding='utf-8') as f:
        recorded = f.read().strip()
    if not recorded or '://' in recorded:
        return recorded or None
    folders = checkpoint_dirs(cfg)
    local = own_copy(recorded, folders)
    if local is None:
        raise CheckpointFileError(
            f'{record} names {recorded}, outside the work dir '
            f'{cfg.work_dir}, which has no {osp.basename(recorded)}: '
            "refusing to resume from another run's files (to do so on "
            f'purpose: --resume {recorded})')
    if local != recorded:
        print_log(f'{record} names {recorded}, outside the work dir: '
                  f'resuming from {local}', logger='current')
    return local


def is_first_process() -> bool:
    """Rank 0 (or not distributed), judged from the launchers' environment
    before any process group exists."""
    for var in ('RANK', 'SLURM_PROCID', 'OMPI_COMM_WORLD_RANK'):
        if var in os.environ:
            return os.environ[var] == '0'
    return True
