"""Runner hooks, registered in MMPose's ``HOOKS`` registry."""
from .atomic_checkpoint_hook import AtomicCheckpointHook, commit_file, write_text_atomically
from .best_and_last_hook import BestAndLastHook, describe_checkpoint
from .heap_reuse_hook import HeapReuseHook
from .mpii_ground_truth_hook import MPIIGroundTruthHook
from .non_finite_loss_guard import NonFiniteLossError, NonFiniteLossGuard
from .per_epoch_seed_hook import PerEpochSeedHook, epoch_seed, seed_worker_from_torch

__all__ = [
    'AtomicCheckpointHook', 'BestAndLastHook', 'HeapReuseHook', 'MPIIGroundTruthHook',
    'NonFiniteLossError', 'NonFiniteLossGuard', 'PerEpochSeedHook',
    'commit_file', 'describe_checkpoint', 'epoch_seed',
    'seed_worker_from_torch', 'write_text_atomically'
]
