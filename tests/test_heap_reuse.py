"""Keeping freed memory in the process: the page faults of a repeated
allocation pattern disappear once the hook (or the function) has run, the
default configs run it first, and bad thresholds are refused."""
import json
import platform

import pytest
from helpers import REPO, run_python, run_tool
from mmengine.config import Config

from mmhg_plugin.engine.hooks import HeapReuseHook
from mmhg_plugin.utils.heap_reuse import MAX_MMAP_THRESHOLD, keep_freed_memory

glibc_only = pytest.mark.skipif(platform.libc_ver()[0] != 'glibc',
                                reason='mallopt is glibc\'s')

# A training step in miniature, in a fresh process: each round allocates
# four tensors of 4-7 MiB (what a layer's activations are), writes them and
# frees them, each round slightly larger than the last (as glibc's default
# mmap threshold follows the largest chunk freed, this maps every round's
# tensors afresh whatever the heap holds); the fewest minor page faults of
# rounds 3-12 are printed before and after ``SETUP`` runs.
PATTERN = '''
import json, resource, types
import torch
from mmengine.logging import MMLogger
from mmhg_plugin.engine.hooks import HeapReuseHook  # imported before counting

def faults_per_round(first):
    counts = []
    for i in range(first, first + 12):
        before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        ts = [torch.ones((4 << 18) + (i << 14)) for _ in range(4)]
        del ts
        counts.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt
                      - before)
    return min(counts[2:])

runner = types.SimpleNamespace(logger=MMLogger.get_instance('heap_reuse'))
default = faults_per_round(0)
SETUP
print(json.dumps(dict(default=default, after=faults_per_round(12))))
'''


def _faults(setup: str) -> dict:
    out = run_python(PATTERN.replace('SETUP', setup), timeout=300)
    return json.loads(out.strip().splitlines()[-1])


@glibc_only
def test_hook_removes_the_faults_of_a_repeated_step():
    res = _faults('HeapReuseHook().before_run(runner)')
    # glibc's defaults map every round's 16-28 MiB afresh (over 4,000 pages);
    # kept, a round reuses the last one's pages and touches at most its
    # growth (4 x 64 KiB) and what the heap's layout leaves over
    assert res['default'] > 4000, res
    assert res['after'] < res['default'] / 3, res


@glibc_only
def test_disabled_hook_changes_nothing():
    res = _faults('HeapReuseHook(enabled=False).before_run(runner)')
    assert res['default'] > 4000 and res['after'] > 4000, res


@pytest.mark.parametrize('kwargs', [
    dict(mmap_threshold=MAX_MMAP_THRESHOLD + 1), dict(mmap_threshold=-1),
    dict(trim_threshold=2**31), dict(trim_threshold=-5)])
def test_out_of_range_thresholds_are_refused(kwargs):
    name = next(iter(kwargs))
    with pytest.raises(ValueError, match=name):
        keep_freed_memory(**kwargs)
    with pytest.raises(ValueError, match=name):
        HeapReuseHook(**kwargs)


def test_default_runtime_runs_it_before_the_other_hooks():
    cfg = Config.fromfile(REPO / 'configs' / 'hg8_mpii_256.py')
    assert dict(type='HeapReuseHook') in cfg.custom_hooks
    assert HeapReuseHook.priority == 'VERY_HIGH'


@pytest.mark.slow    # two subprocesses that build hg8
@glibc_only
def test_process_benchmark_children_measure_their_build():
    """benchmarks/bench_process.py's children (one build a process) run,
    time every step and apply the heap setting only where asked."""
    runs = {}
    for build in ('port', 'shipped_heap'):
        out = run_tool(['benchmarks/bench_process.py', '--child', 'infer',
                        build, '--steps', '2', '--warmup', '1'], timeout=600)
        assert out.returncode == 0, out.stderr[-3000:]
        runs[build] = json.loads(out.stdout.strip().splitlines()[-1])
    for build, res in runs.items():
        assert len(res['times']) == len(res['faults']) == 2, build
        assert all(t > 0 for t in res['times']), build
    assert runs['shipped_heap']['heap_reuse'] is True
    assert runs['port']['heap_reuse'] is False
