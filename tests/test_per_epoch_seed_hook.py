"""PerEpochSeedHook: the shuffle order and the augmentation draws of an
epoch depend only on (runner.seed, epoch, rank), so a resumed process (whose
dataloader was built under a different random state) repeats them."""
import random
from types import SimpleNamespace

import numpy as np
import torch
from mmengine.config import Config
from mmengine.dataset import DefaultSampler
from torch.utils.data import DataLoader

from mmhg_plugin.engine.hooks.per_epoch_seed_hook import PerEpochSeedHook


def fake_runner(seed: int, sampler_cfg: dict, process_seed: int):
    """A runner as MMEngine has it when ``before_train`` runs: the loader
    was built (its sampler drew a seed from this process's random state)
    before the checkpoint's ``seed`` was restored."""
    np.random.seed(process_seed)  # DefaultSampler draws its seed from numpy
    torch.manual_seed(process_seed)
    data = list(range(50))
    loader = DataLoader(data, batch_size=5, sampler=DefaultSampler(
        data, **{k: v for k, v in sampler_cfg.items() if k != 'type'}))
    return SimpleNamespace(
        seed=seed, epoch=0, train_dataloader=loader,
        cfg=Config(dict(train_dataloader=dict(sampler=sampler_cfg))),
        logger=SimpleNamespace(warning=print))


def epoch_order(runner, epoch: int):
    runner.epoch = epoch
    runner.train_dataloader.sampler.set_epoch(epoch)
    return [int(i) for b in runner.train_dataloader for i in b]


def epoch_draws(hook, runner, epoch: int):
    runner.epoch = epoch
    hook.before_train_epoch(runner)
    return (random.random(), float(np.random.rand()),
            float(torch.rand(1)))


def test_resumed_process_shuffles_and_draws_like_the_original():
    cfg = dict(type='DefaultSampler', shuffle=True)
    original = fake_runner(1234, cfg, process_seed=1)
    resumed = fake_runner(1234, cfg, process_seed=2)
    # without the hook the two processes shuffle differently
    assert original.train_dataloader.sampler.seed != \
        resumed.train_dataloader.sampler.seed
    hook = PerEpochSeedHook()
    for runner in (original, resumed):
        hook.before_train(runner)
        assert runner.train_dataloader.sampler.seed == 1234
    for epoch in (3, 4):
        assert epoch_order(original, epoch) == epoch_order(resumed, epoch)
        assert epoch_draws(hook, original, epoch) == \
            epoch_draws(hook, resumed, epoch)
    # and the epochs differ from each other
    assert epoch_order(original, 3) != epoch_order(original, 4)


def test_a_configured_sampler_seed_is_kept():
    runner = fake_runner(1234, dict(type='DefaultSampler', shuffle=True,
                                    seed=7), process_seed=1)
    PerEpochSeedHook().before_train(runner)
    assert runner.train_dataloader.sampler.seed == 7
