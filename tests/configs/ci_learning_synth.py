# CI-sized learning check (tests/test_learning.py, also the trained model of
# tests/test_inference.py and tests/test_distributed.py): the demo recipe
# (codec, augmentation, optimizer) on a smaller network at 96 px in float32, for
# ~900 iterations on a generated 1000-image split. Data roots come from
# --cfg-options. It builds on the float32 96 px demo (the main demo is 128 px
# with bfloat16 autocast where the CPU has it): the same numbers on every CI
# machine, and the calibration below stays valid.
# Measured here (1183 train / 117 val people, seed 7): PCKh Mean 52.95 (flip
# test) after 12 epochs against a mean-pose baseline of 20.5 (49.6 with the
# paper's stronger augmentation). Batch 8 learned faster per sample than
# batch 16 (50.3 vs 45.2 after 9 epochs) and sigma 2 faster than 1.25 early
# on (24.9 vs 18.9 after 8 short epochs): the demo took both from these runs.
# Batch, workers and lr are pinned to the measured values even where they
# equal the demo's, so that tuning the demo does not move this test.
_base_ = ['../../configs/demo_hg2_synth_mpii_fp32.py']  # 96 px, float32

model = dict(backbone=dict(feat_channels=48, stem_channels=(8, 16)))

train_dataloader = dict(batch_size=8, num_workers=0, persistent_workers=False)
val_dataloader = dict(num_workers=0, persistent_workers=False)
test_dataloader = val_dataloader

optim_wrapper = dict(optimizer=dict(lr=2e-3))
max_epochs = 12
train_cfg = dict(max_epochs=max_epochs, val_interval=max_epochs)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=50),
    dict(type='CosineAnnealingLR', by_epoch=True, begin=0, T_max=max_epochs,
         eta_min=1e-5, convert_to_iter_based=True),
]
default_hooks = dict(logger=dict(interval=40),
                     checkpoint=dict(interval=max_epochs, max_keep_ckpts=1))
randomness = dict(seed=0)
