# Our backbone inside an unmodified MMPose config: MMPose's own COCO hourglass config
# (CornerNet's HG-52 backbone + CPMHead) with the backbone replaced by the paper's
# 2-stack network in feature mode and MMPose's stock HeatmapHead on COCO's 17 joints.
# Everything else (CocoDataset, pipelines, codec, CocoMetric, schedule) is MMPose's.
#   python tools/train.py configs/examples/coco_hg2_backbone_heatmaphead.py
_base_ = [
    'mmpose::body_2d_keypoint/topdown_heatmap/coco/'
    'td-hm_hourglass52_8xb32-210e_coco-256x256.py'
]
custom_imports = dict(imports=['mmhg_plugin'], allow_failed_imports=False)

model = dict(
    backbone=dict(
        _delete_=True,
        type='mmpose.StackedHourglass',  # scope prefix: works from any scope
        num_stacks=2,
        feat_channels=256,
        num_keypoints=None,  # feature mode: each stack's features
        out_indices=(1, )),  # the last stack feeds the head
    head=dict(
        _delete_=True,
        type='HeatmapHead',
        in_channels=256,
        out_channels=17,
        deconv_out_channels=None,  # features are already at 1/4 resolution
        loss=dict(type='KeypointMSELoss', use_target_weight=True),
        decoder={{_base_.codec}}))
