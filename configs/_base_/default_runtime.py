# Runtime shared by every mmhg config (MMPose's conventions; scope stays 'mmpose').
default_scope = 'mmpose'
custom_imports = dict(imports=['mmhg_plugin'], allow_failed_imports=False)

default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50),
    param_scheduler=dict(type='ParamSchedulerHook'),
    # keep the last checkpoints and the best one by PCKh Mean (chosen on the
    # validation split it is scored on: optimistic; BestAndLastHook reports
    # the last beside it); written through a temporary file + rename, so a
    # killed run never leaves a partial one
    checkpoint=dict(type='AtomicCheckpointHook', interval=1, max_keep_ckpts=3,
                    save_best='PCKh/Mean', rule='greater'),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    visualization=dict(type='PoseVisualizationHook', enable=False),
)

# Keep freed tensor memory in the process instead of faulting it in again at
# every step (same numbers; 3-13% of a CPU step, see docs/results.md);
# stop at the first NaN/inf loss (before a checkpoint can store the corrupted
# weights); reseed the augmentation per epoch so that resumed runs repeat the
# uninterrupted ones (see docs/reliability.md); give MPIIPCKh(gt_file='headbox_file')
# the dataset's mpii_gt_val.mat; log the last checkpoint's PCKh beside the best one's
# at the end of training, and name the checkpoint tools/test.py scored (best or last,
# epoch). A config that sets its own custom_hooks replaces this list: keep these in it.
custom_hooks = [
    dict(type='HeapReuseHook'),
    dict(type='NonFiniteLossGuard'),
    dict(type='PerEpochSeedHook'),
    dict(type='MPIIGroundTruthHook'),
    dict(type='BestAndLastHook'),
]

# CPU runs fall back to gloo automatically (tools/train.py); 'nccl' on GPUs.
env_cfg = dict(
    cudnn_benchmark=False,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    dist_cfg=dict(backend='nccl'),
)

# TensorBoard is listed but off; switch it on from the command line with
#   --cfg-options visualizer.vis_backends.1.enabled=True
# (events under <work_dir>/<timestamp>/vis_data; tensorboard --logdir work_dirs)
vis_backends = [
    dict(type='LocalVisBackend'),
    dict(type='SwitchableTensorboardVisBackend', enabled=False),
]
visualizer = dict(type='PoseLocalVisualizer', vis_backends=vis_backends,
                  name='visualizer')

log_processor = dict(type='LogProcessor', window_size=50, by_epoch=True,
                     num_digits=6)
log_level = 'INFO'
load_from = None
resume = False
backend_args = dict(backend='local')
