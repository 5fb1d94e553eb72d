"""StackedHeatmapMSELoss and StackedHourglassHead."""
import numpy as np
import pytest
import torch
from helpers import target_samples

from mmhg_plugin.models import StackedHeatmapMSELoss, StackedHourglassHead


def hand_mse(pred, target, w):
    """Independent computation: explicit loops over b, k."""
    B, K, H, W = target.shape
    total = 0.
    for b in range(B):
        for k in range(K):
            d = (pred[b, k].double() - target[b, k].double()) ** 2
            total += float(w[b, k]) * float(d.sum())
    return total / (B * K * H * W)


def test_loss_equals_hand_computation_and_masks():
    loss = StackedHeatmapMSELoss()
    target = torch.rand(2, 3, 4, 5)
    preds = [torch.rand(2, 3, 4, 5) for _ in range(3)]
    w = torch.tensor([[1., 0., 1.], [0., 1., 1.]])
    out = loss(preds, target, w)
    assert out.shape == (3, )
    for s in range(3):
        assert out[s].item() == pytest.approx(hand_mse(preds[s], target, w),
                                              rel=1e-5)
    # an invisible joint's prediction does not matter at all
    p2 = [p.clone() for p in preds]
    for p in p2:
        p[0, 1] += 100.
    torch.testing.assert_close(loss(p2, target, w), out)


def test_loss_stack_weights_and_unweighted_mode():
    target = torch.rand(1, 2, 3, 3)
    preds = [torch.rand(1, 2, 3, 3) for _ in range(2)]
    w = torch.tensor([[1., 0.]])
    plain = StackedHeatmapMSELoss()(preds, target, w)
    weighted = StackedHeatmapMSELoss(stack_weights=[0.5, 2.], loss_weight=3.)(
        preds, target, w)
    torch.testing.assert_close(weighted, plain * torch.tensor([1.5, 6.]))
    no_mask = StackedHeatmapMSELoss(use_target_weight=False)(preds, target)
    assert no_mask[0].item() == pytest.approx(
        hand_mse(preds[0], target, torch.ones(1, 2)), rel=1e-5)
    with pytest.raises(ValueError, match='stack_weights has 3'):
        StackedHeatmapMSELoss(stack_weights=[1, 1, 1])(preds, target, w)
    with pytest.raises(ValueError, match='do not match'):
        StackedHeatmapMSELoss()([torch.rand(1, 2, 4, 4)], target, w)


def test_loss_is_float32_under_autocast():
    loss = StackedHeatmapMSELoss()
    conv = torch.nn.Conv2d(2, 2, 1)
    x = torch.rand(1, 2, 8, 8)
    target = torch.rand(1, 2, 8, 8)
    with torch.autocast('cpu', dtype=torch.bfloat16):
        pred = conv(x)
        assert pred.dtype == torch.bfloat16
        out = loss([pred], target, torch.ones(1, 2))
    assert out.dtype == torch.float32
    ref = hand_mse(pred.detach().float(), target, torch.ones(1, 2))
    assert out.item() == pytest.approx(ref, rel=1e-6)


def test_head_logs_every_stack_and_sums_to_total():
    head = StackedHourglassHead(num_stacks=3, in_channels=4, out_channels=4)
    feats = tuple(torch.rand(2, 4, 8, 8, requires_grad=True)
                  for _ in range(3))
    samples = target_samples(2, 4, 8, 8)
    losses = head.loss(feats, samples)
    assert {'loss_kpt_s0', 'loss_kpt_s1', 'loss_kpt_s2',
            'acc_pose'} <= set(losses)
    target = torch.stack([d.gt_fields.heatmaps for d in samples])
    for s in range(3):
        assert losses[f'loss_kpt_s{s}'].item() == pytest.approx(
            hand_mse(feats[s].detach(), target, torch.ones(2, 4)), rel=1e-5)
    # mmengine sums every key containing 'loss' into the optimised total
    from mmengine.model import BaseModel
    total, log = BaseModel.parse_losses(None, losses)
    assert total.item() == pytest.approx(
        sum(losses[f'loss_kpt_s{s}'].item() for s in range(3)), rel=1e-6)


def test_head_with_final_layer_and_validation():
    head = StackedHourglassHead(num_stacks=2, in_channels=8, out_channels=3,
                                has_final_layer=True)
    outs = head.forward((torch.rand(1, 8, 4, 4), torch.rand(1, 8, 4, 4)))
    assert [o.shape for o in outs] == [(1, 3, 4, 4)] * 2
    with pytest.raises(ValueError, match='has_final_layer'):
        StackedHourglassHead(num_stacks=2, in_channels=8, out_channels=3)
    with pytest.raises(ValueError, match='expects 2 stacks'):
        head.forward((torch.rand(1, 8, 4, 4), ))


def test_head_predict_decodes_last_stack_and_flip_averages():
    codec = dict(type='HourglassHeatmap', input_size=(32, 32),
                 heatmap_size=(8, 8), sigma=1.)
    head = StackedHourglassHead(num_stacks=2, in_channels=2, out_channels=2,
                                decoder=codec)
    hm = torch.zeros(1, 2, 8, 8)
    hm[0, 0, 3, 5] = 1.   # joint 0 at (x=5, y=3)
    hm[0, 1, 6, 1] = 1.   # joint 1 at (x=1, y=6)
    feats = (torch.rand(1, 2, 8, 8), hm)
    (pred, ) = head.predict(feats, target_samples(1, 2, 8, 8))
    # heatmap (5, 3) -> input 4 * (5 + .5) - .5 = 21.5, 4 * 3.5 - .5 = 13.5
    np.testing.assert_allclose(pred.keypoints[0], [[21.5, 13.5], [5.5, 25.5]])
    # flipped features: mirror of hm with the two joints swapped
    hm_flip = hm.flip(-1)[:, [1, 0]]
    preds, fields = head.predict(
        [feats, (torch.rand(1, 2, 8, 8), hm_flip)], target_samples(1, 2, 8, 8),
        test_cfg=dict(flip_test=True, shift_heatmap=False,
                      output_heatmaps=True))
    torch.testing.assert_close(fields[0].heatmaps, hm[0])
    np.testing.assert_allclose(preds[0].keypoints[0],
                               [[21.5, 13.5], [5.5, 25.5]])


def test_foreground_weight_scales_each_pixel_by_its_target():
    target = torch.rand(2, 3, 4, 5)
    preds = [torch.rand(2, 3, 4, 5), torch.rand(2, 3, 4, 5)]
    w = torch.tensor([[1., 0., 1.], [1., 1., 0.]])
    a = 10.
    out = StackedHeatmapMSELoss(foreground_weight=a)(preds, target, w)
    for s, pred in enumerate(preds):
        # independent: the plain loss of sqrt(f)-scaled errors
        f = (1 + a * target.double()).sqrt()
        ref = hand_mse(pred.double() * f, target.double() * f, w)
        assert out[s].item() == pytest.approx(ref, rel=1e-6)
    # a = 0 is the plain loss; the factor is 1 where the target is 0, so a
    # background pixel's gradient does not change and a peak's grows 1 + a
    torch.testing.assert_close(
        StackedHeatmapMSELoss(foreground_weight=0.)(preds, target, w),
        StackedHeatmapMSELoss()(preds, target, w))
    t = torch.zeros(1, 1, 3, 3)
    t[0, 0, 1, 1] = 1.
    grads = []
    for a in (0., 10.):
        p = torch.full((1, 1, 3, 3), 0.5, requires_grad=True)
        StackedHeatmapMSELoss(foreground_weight=a)([p], t,
                                                   torch.ones(1, 1))[0].backward()
        grads.append(p.grad)
    assert grads[1][0, 0, 0, 0] == grads[0][0, 0, 0, 0]
    assert grads[1][0, 0, 1, 1].item() == pytest.approx(
        11 * grads[0][0, 0, 1, 1].item())
    with pytest.raises(ValueError, match='foreground_weight must be >= 0'):
        StackedHeatmapMSELoss(foreground_weight=-1.)
