"""Augmentation randomness that depends only on (seed, epoch, rank)."""
import random

import numpy as np
import torch
from mmengine.dataset import DefaultSampler
from mmengine.dist import get_rank
from mmengine.hooks import Hook
from mmpose.registry import HOOKS


def epoch_seed(seed: int, epoch: int, rank: int = 0) -> int:
    """A well-mixed 32-bit seed for one epoch of one rank."""
    return int(np.random.SeedSequence([int(seed) % 2**63, int(epoch),
                                       int(rank)]).generate_state(1)[0])


def seed_worker_from_torch(worker_id: int) -> None:
    """DataLoader ``worker_init_fn``: seed ``random`` and numpy from the
    worker's torch seed (``base_seed + worker_id``, where PyTorch draws
    ``base_seed`` from the main process at the start of each epoch)."""
    seed = torch.initial_seed()
    random.seed(seed)
    np.random.seed(seed % 2**32)


@HOOKS.register_module()
class PerEpochSeedHook(Hook):
    """Reseed ``random``, numpy and torch at the start of every training
    epoch from ``(runner.seed, epoch, rank)``.

    Why: MMEngine does not store random states in checkpoints, so a resumed
    run would otherwise draw different augmentations than the run it
    continues. With this hook an epoch's augmentations (drawn in the main
    process with ``num_workers=0``, or in workers) depend only on the seed
    (kept in the checkpoint), the epoch and the rank, so a run killed and
    resumed from an epoch checkpoint repeats exactly what the uninterrupted
    run did.

    Workers: MMEngine's default ``worker_init_fn`` seeds every worker with
    ``seed + worker_id + rank * num_workers``, the same in every epoch, so
    non-persistent workers would replay one random stream each epoch. This
    hook replaces it with :func:`seed_worker_from_torch`, which seeds each
    worker from PyTorch's per-epoch ``base_seed`` (itself drawn from the
    reseeded main process). Persistent workers are started once, at the
    first epoch a process trains, so with them a resumed run is not
    reproducible; a warning says so.

    Shuffle order: MMEngine's ``DefaultSampler`` draws its own seed when
    the dataloader is built, which happens *before* a resumed run restores
    the checkpoint's seed; without ``randomness=dict(seed=...)`` a resumed
    run would then shuffle differently. Where the sampler's seed is not
    configured, this hook sets it to ``runner.seed`` (restored by the
    resume, the same on every rank), so the order depends on the seed too.

    Args:
        reseed_workers (bool): Replace the train dataloader's
            ``worker_init_fn`` as described. Defaults to True.
    """

    priority = 'NORMAL'

    def __init__(self, reseed_workers: bool = True) -> None:
        self.reseed_workers = reseed_workers

    def before_train(self, runner) -> None:
        """Seed the sampler; install the worker seeding; warn about
        persistent workers."""
        loader = runner.train_dataloader
        sampler = getattr(loader, 'sampler', None)
        sampler_cfg = runner.cfg.get('train_dataloader', {}).get('sampler')
        if (isinstance(sampler, DefaultSampler)
                and (sampler_cfg or {}).get('seed') is None):
            sampler.seed = int(runner.seed)
        if getattr(loader, 'num_workers', 0) <= 0:
            return
        if self.reseed_workers:
            loader.worker_init_fn = seed_worker_from_torch
        if getattr(loader, 'persistent_workers', False):
            runner.logger.warning(
                f'{type(self).__name__}: persistent dataloader workers keep '
                'their random state across epochs, so a resumed run will '
                'not repeat the augmentations of an uninterrupted one; set '
                'train_dataloader.persistent_workers=False (or '
                'num_workers=0) for bitwise reproducible resumes')

    def before_train_epoch(self, runner) -> None:
        """Seed every generator for this epoch."""
        seed = epoch_seed(runner.seed, runner.epoch, get_rank())
        random.seed(seed)
        np.random.seed(seed)
        torch.manual_seed(seed)
