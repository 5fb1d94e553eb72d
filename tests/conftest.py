"""Shared pytest fixtures and helpers."""
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import mmhg_plugin  # noqa: E402,F401  (registers the modules)


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
