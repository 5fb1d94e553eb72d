# 8-stack hourglass on MPII with the Lua original's recipe (princeton-vl/pose-hg-train)
# wherever mmhg's default departs from it and a switch restores it:
# - scale augmentation s * 2^clip(N(0, 0.25), -0.5, 0.5) (about 0.71-1.41) instead of the
#   paper's and the port's U(0.75, 1.25): scale_law='lua', scale_range=None;
# - joints of weight 0 (unannotated, or centre outside the crop) trained toward an all-zero
#   heatmap instead of masked out of the loss: mask_invisible=False;
# - BatchNorm weights drawn from U(0, 1) (Torch7's nn.SpatialBatchNormalization) instead of
#   PyTorch's 1: norm_init='torch7'.
# Everything else is the base's, which already follows the Lua code (optimizer, schedule,
# rotation, flip, colour, crop, loss summed over stacks); what has no switch is listed in the
# table of docs/mpii_protocol.md.
_base_ = ['./hg8_mpii_256.py']

train_pipeline = [
    dict(type='MPIITopdownAffine', input_size={{_base_.input_size}},
         scale_range=None, scale_law='lua',  # scale_sigma, scale_clip: Lua's by default
         rotate_std=30., rotate_max=60., rotate_prob=0.4, flip_prob=0.5,
         reduced_decode=True),
    dict(type='ChannelScaleJitter', low=0.6, high=1.4),
    dict(type='GenerateTarget', encoder={{_base_.codec}}),
    dict(type='PackPoseInputs'),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
model = dict(
    backbone=dict(norm_init='torch7'),
    head=dict(loss=dict(mask_invisible=False)))
