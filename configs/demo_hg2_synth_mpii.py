# Demo: a small 2-stack hourglass on the synthetic MPII data (make demo).
_base_ = ['./_base_/hourglass_mpii.py']

num_stacks = 2
input_size = (128, 128)
heatmap_size = (32, 32)
codec = dict(type='HourglassHeatmap', input_size=input_size,
             heatmap_size=heatmap_size, sigma=1.5)
data_root = 'data/synth_mpii'

model = dict(
    channels_last=True,
    backbone=dict(num_stacks=num_stacks, feat_channels=64, depth=3,
                  stem_channels=(16, 32)),
    head=dict(num_stacks=num_stacks, decoder=codec))

train_pipeline = [
    dict(type='MPIITopdownAffine', input_size=input_size, scale_padding=1.25,
         keypoint_index_base=1, scale_range=(0.75, 1.25), rotate_std=30.,
         rotate_max=60., rotate_prob=0.4, flip_prob=0.5, reduced_decode=True),
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
    batch_size=16, num_workers=1,
    dataset=dict(data_root=data_root, pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=32, num_workers=1,
    dataset=dict(data_root=data_root,
                 headbox_file=f'{data_root}/annotations/mpii_gt_val.mat',
                 pipeline=val_pipeline))
test_dataloader = val_dataloader

max_epochs = 6
train_cfg = dict(max_epochs=max_epochs, val_interval=1)
optim_wrapper = dict(optimizer=dict(_delete_=True, type='Adam', lr=2e-3))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=100),
    dict(type='CosineAnnealingLR', by_epoch=True, begin=0, T_max=max_epochs,
         eta_min=1e-5, convert_to_iter_based=True),
]
default_hooks = dict(logger=dict(interval=20))
