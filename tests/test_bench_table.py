"""The benchmark table lists every figure with a target, including those
this machine cannot run (with the reason), and never marks them met."""
import json
import sys

import pytest
from helpers import REPO

sys.path.insert(0, str(REPO / 'benchmarks'))
import bench_model  # noqa: E402
import common  # noqa: E402


def test_not_run_row_is_listed_with_reason_and_never_met(tmp_path):
    measured = common.Result('decode_vs_mmpose', 20., 2., 'samples/s', '>= 10')
    skipped = common.Result('infer_hg8_bf16_vs_baseline', 0., 1., 'images/s',
                            '>= 3', not_run='no native bfloat16')
    assert measured.met is True
    assert skipped.met is None  # not a miss, not a pass
    text = common.table([measured, skipped])
    row = next(line for line in text.splitlines()
               if line.startswith('infer_hg8_bf16_vs_baseline'))
    assert '>= 3 not run: no native bfloat16' in row
    assert 'met' not in row and 'MISSED' not in row
    out = tmp_path / 'r.json'
    common.write_json(str(out), [measured, skipped], {})
    data = json.loads(out.read_text())  # strict JSON: no NaN
    assert data['infer_hg8_bf16_vs_baseline']['not_run'] == 'no native bfloat16'
    assert data['infer_hg8_bf16_vs_baseline']['ratio'] is None
    assert data['decode_vs_mmpose']['ratio'] == pytest.approx(10.)


@pytest.mark.parametrize('native', [False, True])
def test_bf16_headline_timed_where_native_else_listed_as_not_run(
        monkeypatch, native):
    monkeypatch.setattr(bench_model, 'has_native_bf16', lambda dev: native)
    planned = {v for _, _, vs in bench_model.plan(True, '') for v in vs}
    assert ('shipped_bf16' in planned) == native

    def fake_time_variants(mode, n, batch, repeats, variants):
        if mode == 'infer' and n == 8 and 'shipped_bf16' in variants:
            return [common.Result('infer_hg8_bf16_vs_baseline', 9., 3.,
                                  'images/s', '>= 3')]
        return []
    monkeypatch.setattr(bench_model, 'time_variants', fake_time_variants)
    rows = [r for r in bench_model.run(True, log=lambda m: None)
            if r.name == 'infer_hg8_bf16_vs_baseline']
    assert len(rows) == 1
    if native:
        assert rows[0].met is True and rows[0].not_run is None
    else:
        assert rows[0].met is None
        assert 'amx_bf16' in rows[0].not_run
        assert rows[0].target == bench_model.TARGETS[('infer', '_bf16')]


def test_round_ratios_pair_each_round_and_show_in_table():
    # a slow spell in round 2 slows both sides: the paired ratio stays 2
    times = dict(ours=[1., 3., 1.5], base=[2., 6., 2.4])
    assert common.round_ratios(times, 'ours', 'base') == pytest.approx(
        [1.6, 2., 2.])
    r = common.throughput_result('x_vs_y', times, 'ours', 'base', 4.,
                                 'items/s', '>= 1.5')
    assert r.rounds == pytest.approx([1.6, 2., 2.])
    assert r.ratio == pytest.approx(2.4 / 1.5)  # medians: 2.4 / 1.5
    header, _, row = common.table([r]).splitlines()
    assert 'rounds' in header.split()
    assert '1.60-2.00' in row.split()
    assert r.to_json()['round_ratios'] == pytest.approx([1.6, 2., 2.])
