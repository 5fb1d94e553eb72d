"""Top-down estimator with one-batch flip test and a channels-last switch."""
import torch
from mmpose.models.pose_estimators import TopdownPoseEstimator
from mmpose.registry import MODELS
from mmpose.utils.typing import SampleList
from torch import Tensor


@MODELS.register_module()
class StackedHourglassEstimator(TopdownPoseEstimator):
    """MMPose's ``TopdownPoseEstimator`` with two speed switches.

    - Flip test runs the images and their mirrors as *one* batch of 2B
      (MMPose runs two forward passes); eval-mode norms make this
      numerically the same, and a GPU runs one big batch faster.
    - ``channels_last=True`` stores weights and inputs in NHWC, which
      oneDNN (CPU) and cuDNN convolutions run faster; outputs are the same
      up to float rounding.

    Args:
        channels_last (bool): Use the channels-last memory format.
        **kwargs: Passed to ``TopdownPoseEstimator`` (backbone, neck, head,
            train_cfg, test_cfg, data_preprocessor, init_cfg, metainfo).
    """

    def __init__(self, channels_last: bool = False, **kwargs) -> None:
        super().__init__(**kwargs)
        self.channels_last = channels_last
        if channels_last:
            self.to(memory_format=torch.channels_last)

    def extract_feat(self, inputs: Tensor):
        """Backbone (and neck) features of (B, C, H, W) images."""
        if self.channels_last:
            inputs = inputs.contiguous(memory_format=torch.channels_last)
        return super().extract_feat(inputs)

    def predict(self, inputs: Tensor, data_samples: SampleList) -> SampleList:
        """Predict keypoints; with ``test_cfg.flip_test`` in one batch.

        Args:
            inputs (Tensor): Images (B, C, H, W).
            data_samples (list[PoseDataSample]): The batch's samples.

        Returns:
            list[PoseDataSample]: With ``pred_instances`` in image space.
        """
        if not self.with_head:
            raise RuntimeError('the model needs a head to predict')
        if self.test_cfg.get('flip_test', False):
            n = inputs.shape[0]
            both = self.extract_feat(torch.cat([inputs, inputs.flip(-1)]))
            feats = [tuple(f[:n] for f in both), tuple(f[n:] for f in both)]
        else:
            feats = self.extract_feat(inputs)
        preds = self.head.predict(feats, data_samples, test_cfg=self.test_cfg)
        instances, fields = preds if isinstance(preds, tuple) else (preds,
                                                                    None)
        return self.add_pred_to_datasample(instances, fields, data_samples)

