# Runtime shared by every mmhg config (MMPose's conventions; scope stays 'mmpose').
default_scope = 'mmpose'
custom_imports = dict(imports=['mmhg_plugin'], allow_failed_imports=False)

default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50),
    param_scheduler=dict(type='ParamSchedulerHook'),
    # keep the last checkpoints and the best one by PCKh Mean
    checkpoint=dict(type='CheckpointHook', interval=1, max_keep_ckpts=3,
                    save_best='PCKh/Mean', rule='greater'),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    visualization=dict(type='PoseVisualizationHook', enable=False),
)

# CPU runs fall back to gloo automatically (tools/train.py); 'nccl' on GPUs.
env_cfg = dict(
    cudnn_benchmark=False,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    dist_cfg=dict(backend='nccl'),
)

# TensorBoard: add dict(type='TensorboardVisBackend') here, or from the command line
#   --cfg-options "visualizer.vis_backends=[dict(type='LocalVisBackend'),dict(type='TensorboardVisBackend')]"
vis_backends = [dict(type='LocalVisBackend')]
visualizer = dict(type='PoseLocalVisualizer', vis_backends=vis_backends,
                  name='visualizer')

log_processor = dict(type='LogProcessor', window_size=50, by_epoch=True,
                     num_digits=6)
log_level = 'INFO'
load_from = None
resume = False
backend_args = dict(backend='local')
