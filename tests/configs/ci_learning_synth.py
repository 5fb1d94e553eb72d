# CI-sized learning check (tests/test_learning.py, also the trained model of
# tests/test_inference.py and tests/test_distributed.py): the demo recipe
# (codec, augmentation, optimizer) on a smaller network at 96 px in float32, for
# ~900 iterations on a generated 1000-image split. Data roots come from
# --cfg-options. It builds on the float32 96 px demo (the main demo is 128 px
# with bfloat16 autocast where the CPU has it), so every CI machine computes the
# same numbers and test_learning's margin over the mean-pose baseline holds on
# all of them (its calibration run: docs/results.md). Batch, workers and lr are
# pinned even where they equal the demo's, so that tuning the demo does not
# move this test.
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
