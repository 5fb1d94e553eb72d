"""Keep freed tensor memory in the process (glibc's ``malloc``).

A CPU forward or training step of the Stacked Hourglass allocates and frees
activations of 1-32 MiB in every layer. With glibc's default settings much
of that memory goes back to the kernel when it is freed (chunks above the
mmap threshold are unmapped; free space above the trim threshold at the top
of the heap is released), so the next step touches fresh pages again and
takes a page fault for every 4 KiB of them: 28,000-97,000 faults a step
for hg8 at batch 2 (inference and training, port-equivalent and shipped
builds), 3-13% of the step's time on the AMX Xeon measured
(``docs/results.md``). Raising both thresholds makes the freed chunks stay
in the heap and serve the next step's tensors of the same sizes, with no
fault; the process's resident memory then stays at its peak, which a
training or test loop reaches again at every step anyway.

This is what Intel's and PyTorch's CPU tuning guides get by swapping in
jemalloc or tcmalloc; here it is two ``mallopt`` calls, made by
:class:`~mmhg_plugin.engine.hooks.HeapReuseHook` before a run starts (so
dataloader workers, forked later, inherit it). Other C libraries (musl,
macOS) have no ``mallopt``: nothing changes there.
"""
import ctypes
import ctypes.util
import platform
from typing import Optional

#: ``mallopt`` parameter numbers (glibc's ``malloc.h``).
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3

#: The largest mmap threshold glibc accepts on 64-bit (``HEAP_MAX_SIZE / 2``):
#: chunks up to this size come from the heap and are reused.
MAX_MMAP_THRESHOLD = 32 << 20

#: Free space kept at the top of the heap before any is returned (1 GiB;
#: ``mallopt`` takes a C ``int``).
DEFAULT_TRIM_THRESHOLD = 1 << 30

_INT_MAX = 2**31 - 1


def _glibc() -> Optional[ctypes.CDLL]:
    """The running glibc, or None on another C library."""
    if platform.libc_ver()[0] != 'glibc':
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library('c') or 'libc.so.6')
    except OSError:
        return None
    return libc if hasattr(libc, 'mallopt') else None


def check_thresholds(mmap_threshold: int, trim_threshold: int) -> None:
    """Raise ValueError unless both thresholds are in ``mallopt``'s range
    (see :func:`keep_freed_memory`)."""
    if not 0 <= mmap_threshold <= MAX_MMAP_THRESHOLD:
        raise ValueError(f'mmap_threshold must be in [0, {MAX_MMAP_THRESHOLD}]'
                         f' bytes, got {mmap_threshold}')
    if not 0 <= trim_threshold <= _INT_MAX:
        raise ValueError(f'trim_threshold must be in [0, {_INT_MAX}] bytes, '
                         f'got {trim_threshold}')


def keep_freed_memory(mmap_threshold: int = MAX_MMAP_THRESHOLD,
                      trim_threshold: int = DEFAULT_TRIM_THRESHOLD) -> bool:
    """Set glibc's mmap and trim thresholds for this process (and the
    processes it forks from now on).

    Args:
        mmap_threshold (int): Bytes; larger allocations are mapped on their
            own and unmapped when freed. At most :data:`MAX_MMAP_THRESHOLD`.
        trim_threshold (int): Bytes of free space at the top of the heap
            above which glibc returns memory to the kernel.

    Returns:
        bool: True where glibc accepted both settings; False on another C
        library (nothing is changed).

    Raises:
        ValueError: A threshold is negative or out of ``mallopt``'s range.
    """
    check_thresholds(mmap_threshold, trim_threshold)
    libc = _glibc()
    if libc is None:
        return False
    ok_mmap = libc.mallopt(M_MMAP_THRESHOLD, int(mmap_threshold)) == 1
    ok_trim = libc.mallopt(M_TRIM_THRESHOLD, int(trim_threshold)) == 1
    return ok_mmap and ok_trim
