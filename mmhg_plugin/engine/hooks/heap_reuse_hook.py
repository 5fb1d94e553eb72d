"""Keep freed tensor memory in the process for the whole run."""
from mmengine.hooks import Hook
from mmpose.registry import HOOKS

from mmhg_plugin.utils.heap_reuse import (
    DEFAULT_TRIM_THRESHOLD,
    MAX_MMAP_THRESHOLD,
    check_thresholds,
    keep_freed_memory,
)


@HOOKS.register_module()
class HeapReuseHook(Hook):
    """Apply :func:`~mmhg_plugin.utils.heap_reuse.keep_freed_memory` before
    a run (training, validation or test) starts.

    Freed activations then serve the next step instead of going back to the
    kernel and being faulted in again page by page (the reasons and the
    measurements: :mod:`mmhg_plugin.utils.heap_reuse`): same numbers, less
    time. Dataloader workers started after it (MMEngine starts them at the first
    iteration) inherit the setting through ``fork``. It acts on the whole
    process, so it is a run setting, not a model one; glibc only (elsewhere
    it logs that nothing changed). Its priority runs it before the other
    hooks' ``before_run``.

    Args:
        enabled (bool): Apply the setting. Defaults to True; turn it off
            with ``--cfg-options`` on this hook's entry in ``custom_hooks``.
        mmap_threshold (int): Bytes; see ``keep_freed_memory``.
        trim_threshold (int): Bytes; see ``keep_freed_memory``.
    """

    priority = 'VERY_HIGH'

    def __init__(self,
                 enabled: bool = True,
                 mmap_threshold: int = MAX_MMAP_THRESHOLD,
                 trim_threshold: int = DEFAULT_TRIM_THRESHOLD) -> None:
        check_thresholds(mmap_threshold, trim_threshold)
        self.enabled = enabled
        self.mmap_threshold = mmap_threshold
        self.trim_threshold = trim_threshold
        self.applied = False

    def before_run(self, runner) -> None:
        """Set the thresholds once per process."""
        if not self.enabled or self.applied:
            return
        self.applied = keep_freed_memory(self.mmap_threshold,
                                         self.trim_threshold)
        if self.applied:
            runner.logger.info(
                f'HeapReuseHook: glibc malloc keeps freed memory (mmap '
                f'threshold {self.mmap_threshold >> 20} MiB, trim threshold '
                f'{self.trim_threshold >> 20} MiB)')
        else:
            runner.logger.info('HeapReuseHook: not a glibc process, malloc '
                               'settings unchanged')
