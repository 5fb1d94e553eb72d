"""Runner hooks, registered in MMPose's ``HOOKS`` registry."""
from .atomic_checkpoint_hook import AtomicCheckpointHook, commit_file, write_text_atomically
from .non_finite_loss_guard import NonFiniteLossError, NonFiniteLossGuard
from .per_epoch_seed_hook import PerEpochSeedHook, epoch_seed, seed_worker_from_torch

__all__ = [
    'AtomicCheckpointHook', 'NonFiniteLossError', 'NonFiniteLossGuard',
    'PerEpochSeedHook', 'commit_file', 'epoch_seed', 'seed_worker_from_torch',
    'write_text_atomically'
]
