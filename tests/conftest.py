"""Shared pytest fixtures and helpers."""
from pathlib import Path

import numpy as np
import pytest
import torch

REPO = Path(__file__).resolve().parents[1]

import mmhg_plugin  # noqa: E402,F401  (registers the modules)


def pytest_configure(config: pytest.Config) -> None:
    """Register the ``slow`` marker. A test is slow when it

    * trains a model (in-process or not; one iteration counts),
    * runs ``tools/train.py`` or ``tools/test.py`` to train or test, or a
      benchmark, in a subprocess,
    * starts a Python subprocess that imports MMPose (5-8 s each on the
      slowest 2-core CPU seen, a Zen 1 EPYC, even when the tool stops at a
      start-up check),
    * starts several processes (``torchrun``),
    * kills or resumes a run, or
    * takes more than about 4 s on a quiet 2-core machine (measured as CPU
      time with ``OMP_NUM_THREADS=1``, subprocesses included).

    ``pytest -m "not slow"`` runs the rest in under 2 minutes there;
    ``make test`` runs everything. Mark a slow test with
    ``@pytest.mark.slow`` (or the module's ``pytestmark``); every test that
    uses :func:`trained_small` is marked here.
    """
    config.addinivalue_line(
        'markers', 'slow: trains a model, runs the train/test tools or a '
        'benchmark, starts several processes, kills or resumes a run, or '
        'takes more than about 4 s (deselect with -m "not slow")')


def pytest_collection_modifyitems(items: list) -> None:
    """Every test that uses the trained model (:func:`trained_small`, one
    training run for the session) is slow."""
    for item in items:
        if 'trained_small' in getattr(item, 'fixturenames', ()):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(autouse=True)
def _seed():
    """Every test starts from the same random state."""
    torch.manual_seed(0)
    np.random.seed(0)
    yield


@pytest.fixture
def repo_root() -> Path:
    """The repository root."""
    return REPO


@pytest.fixture(scope='session')
def synth_tiny(tmp_path_factory) -> Path:
    """A tiny synthetic MPII split (12 train / 6 val images), built once."""
    from mmhg_plugin.datasets.synthetic import generate_synthetic_mpii
    root = tmp_path_factory.mktemp('synth_tiny')
    generate_synthetic_mpii(root, 12, 6, seed=1, workers=1)
    return root


@pytest.fixture(scope='session')
def trained_small(tmp_path_factory):
    """Train the CI-sized model once (tests/configs/ci_learning_synth.py) on
    a generated split; shared by the learning, inference and distributed
    tests. Returns paths: root, data, work, config, ckpt."""
    from types import SimpleNamespace

    from helpers import data_options, run_tool

    from mmhg_plugin.datasets.synthetic import generate_synthetic_mpii
    root = tmp_path_factory.mktemp('learning')
    data = root / 'data'
    generate_synthetic_mpii(data, 1000, 100, seed=7, workers=2)
    work = root / 'work'
    config = REPO / 'tests' / 'configs' / 'ci_learning_synth.py'
    proc = run_tool(['tools/train.py', str(config), '--work-dir', str(work),
                     '--cfg-options', *data_options(data)], timeout=1800)
    assert proc.returncode == 0, proc.stderr[-5000:]
    ckpt = work / (work / 'last_checkpoint').read_text().strip().split('/')[-1]
    return SimpleNamespace(root=root, data=data, work=work, config=config,
                           ckpt=ckpt, train_log=proc.stdout + proc.stderr)

