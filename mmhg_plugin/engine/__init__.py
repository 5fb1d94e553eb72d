"""Runner-side helpers and hooks (importing this registers the hooks)."""
from .hooks import (
    AtomicCheckpointHook,
    BestAndLastHook,
    MPIIGroundTruthHook,
    NonFiniteLossError,
    NonFiniteLossGuard,
    PerEpochSeedHook,
)

__all__ = [
    'AtomicCheckpointHook', 'BestAndLastHook', 'MPIIGroundTruthHook',
    'NonFiniteLossError', 'NonFiniteLossGuard', 'PerEpochSeedHook'
]
