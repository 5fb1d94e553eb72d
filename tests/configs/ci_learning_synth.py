# CI-sized learning check (tests/test_learning.py, also the trained model of
# tests/test_inference.py and tests/test_distributed.py): the demo recipe
# (codec, augmentation, optimizer) on a smaller 2-stack network at 96 px in float32,
# for ~900 iterations on a generated 1000-image split. Data roots come from
# --cfg-options. Float32 everywhere, so that every CI machine computes the same
# numbers and test_learning's margin over the mean-pose baseline holds on all of
# them (its calibration run: docs/results.md). Input size, network, batch, workers
# and lr are pinned here even where they equal the demo's, so that tuning the demo
# does not move this test.
_base_ = ['../../configs/demo_hg2_synth_mpii.py']

input_size = (96, 96)
codec = dict(type='HourglassHeatmap', input_size=input_size,
             heatmap_size=(24, 24), sigma=2.0)
train_pipeline = [
    dict(type='MPIITopdownAffine', input_size=input_size,
         scale_range=(0.9, 1.1), rotate_std=10., rotate_max=20.,
         rotate_prob=0.2, flip_prob=0.5, reduced_decode=True),
    dict(type='ChannelScaleJitter', low=0.6, high=1.4),
    dict(type='GenerateTarget', encoder=codec),
    dict(type='PackPoseInputs'),
]
val_pipeline = [
    dict(type='MPIITopdownAffine', input_size=input_size,
         reduced_decode=True),
    dict(type='PackPoseInputs'),
]

model = dict(autocast=None,
             backbone=dict(num_stacks=2, feat_channels=48, depth=3,
                           stem_channels=(8, 16)),
             head=dict(num_stacks=2, decoder=codec))

train_dataloader = dict(batch_size=8, num_workers=0, persistent_workers=False,
                        dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(num_workers=0, persistent_workers=False,
                      dataset=dict(pipeline=val_pipeline))
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
