"""Runner-side helpers and hooks (importing this registers the hooks)."""
from .hooks import AtomicCheckpointHook, NonFiniteLossError, NonFiniteLossGuard, PerEpochSeedHook

__all__ = [
    'AtomicCheckpointHook', 'NonFiniteLossError', 'NonFiniteLossGuard',
    'PerEpochSeedHook'
]
