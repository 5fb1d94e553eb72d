# CI-sized learning check (tests/test_learning.py, also the trained model of
# tests/test_inference.py and tests/test_distributed.py): the demo recipe on a
# smaller network, for ~900 iterations on a generated 1000-image split. Data
# roots come from --cfg-options.
# Measured here (1183 train / 117 val people, seed 7): PCKh Mean 54.5 after
# 12 epochs against a mean-pose baseline of 20.5; batch 8 learned faster per
# sample than batch 16 (50.3 vs 45.2 after 9 epochs) and sigma 2 faster than
# 1.25 early on (24.9 vs 18.9 after 8 short epochs), hence both.
_base_ = ['../../configs/demo_hg2_synth_mpii.py']

input_size = (96, 96)
heatmap_size = (24, 24)
codec = dict(type='HourglassHeatmap', input_size=input_size,
             heatmap_size=heatmap_size, sigma=2.0)

model = dict(
    backbone=dict(feat_channels=48, depth=3, stem_channels=(8, 16)),
    head=dict(decoder=codec))

train_pipeline = [
    dict(type='MPIITopdownAffine', input_size=input_size, scale_padding=1.25,
         keypoint_index_base=1, scale_range=(0.75, 1.25), rotate_std=15.,
         rotate_max=30., rotate_prob=0.4, flip_prob=0.5, reduced_decode=True),
    dict(type='ChannelScaleJitter', low=0.6, high=1.4),
    dict(type='GenerateTarget', encoder=codec),
    dict(type='PackPoseInputs'),
]
val_pipeline = [
    dict(type='MPIITopdownAffine', input_size=input_size, scale_padding=1.25,
         keypoint_index_base=1, reduced_decode=True),
    dict(type='PackPoseInputs'),
]
train_dataloader = dict(
    batch_size=8, num_workers=0, persistent_workers=False,
    dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=32, num_workers=0, persistent_workers=False,
    dataset=dict(pipeline=val_pipeline))
test_dataloader = val_dataloader

max_epochs = 12
train_cfg = dict(max_epochs=max_epochs, val_interval=max_epochs)
optim_wrapper = dict(optimizer=dict(lr=2e-3))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=50),
    dict(type='CosineAnnealingLR', by_epoch=True, begin=0, T_max=max_epochs,
         eta_min=1e-5, convert_to_iter_based=True),
]
default_hooks = dict(logger=dict(interval=40),
                     checkpoint=dict(interval=max_epochs, max_keep_ckpts=1))
randomness = dict(seed=0)
