# 2-stack hourglass on MPII at 256x256 (the paper's network and recipe; see the base).
_base_ = ['./_base_/hourglass_mpii.py']

num_stacks = 2
model = dict(
    backbone=dict(num_stacks=num_stacks),
    head=dict(num_stacks=num_stacks))
