"""benchmarks/bench_gpu.py keeps working without a GPU: its tiny CPU mode
runs every row (ours and MMPose's HG-52, inference and training, every
precision and memory-format variant) and writes them all."""
import json

import pytest
from helpers import run_tool

#: Runs a benchmark in a subprocess (see conftest.pytest_configure).
pytestmark = pytest.mark.slow


def test_bench_gpu_tiny_cpu_mode_gives_every_row(tmp_path):
    out = tmp_path / 'gpu.json'
    proc = run_tool(['benchmarks/bench_gpu.py', '--tiny-cpu', '--json',
                     str(out)], timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    data = json.loads(out.read_text())
    rows = {k: v for k, v in data.items() if k != '_meta'}
    expected = {f'gpu_{mode}_{net}_{name}_vs_fp32'
                for mode in ('infer', 'train')
                for net, names in (
                    ('hg8', ('fp32', 'tf32', 'channels_last', 'amp',
                             'amp_channels_last', 'shipped')),
                    ('hg52', ('fp32', 'tf32', 'channels_last', 'amp',
                              'amp_channels_last')))
                for name in names}
    assert set(rows) == expected
    for name, row in rows.items():
        assert row['value'] > 0 and row['baseline'] > 0, name
        assert row['gmacs'] > 0 and row['max_abs_diff'] >= 0, name
        assert row['precision'] in ('fp32', 'tf32', 'bf16'), name
    # the baselines are the float32 rows themselves
    assert rows['gpu_infer_hg8_fp32_vs_fp32']['ratio'] == 1.0
    assert 'failed' not in proc.stdout + proc.stderr
