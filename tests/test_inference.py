"""MMPose's inference APIs and our image demo with a trained model."""
import json

import numpy as np
import torch
from helpers import run_tool

from mmhg_plugin.datasets.mpii_conventions import MPII_INDEX_BASE, mpii_crop_box
from mmhg_plugin.datasets.mpii_io import head_sizes, read_head_boxes


def val_people(data, n):
    """The first ``n`` val people: image, person box (unpadded: the test
    pipeline pads it), 0-based joints, visibility and head size."""
    ann = data / 'annotations'
    entries = json.loads((ann / 'mpii_val.json').read_text())[:n]
    heads = head_sizes(read_head_boxes(ann / 'mpii_gt_val.mat'))
    out = []
    for i, a in enumerate(entries):
        center, side = mpii_crop_box(a['center'], a['scale'], padding=1.)
        out.append(dict(
            image=str(data / 'images' / a['image']),
            bbox=np.concatenate([center - side / 2,
                                 center + side / 2]).astype(np.float32),
            joints0=np.array(a['joints']) - MPII_INDEX_BASE,
            visible=np.array(a['joints_vis']) > 0,
            head=heads[i]))
    return out


def test_init_model_and_inference_topdown(trained_small):
    from mmpose.apis import inference_topdown, init_model
    model = init_model(str(trained_small.config), str(trained_small.ckpt),
                       device='cpu')
    # MPII skeleton from the checkpoint, not COCO's fallback
    assert model.dataset_meta['dataset_name'] == 'mpii'
    assert model.dataset_meta['num_keypoints'] == 16
    hits = count = 0
    for p in val_people(trained_small.data, 24):
        (res, ) = inference_topdown(model, p['image'], bboxes=p['bbox'][None])
        k = res.pred_instances.keypoints[0]
        assert k.shape == (16, 2)
        d = np.linalg.norm(k - p['joints0'], axis=1) / p['head']
        hits += int(((d <= 0.5) & p['visible']).sum())
        count += int(p['visible'].sum())
    # the trained CI model scores far above the ~20 % of a mean pose
    assert 100. * hits / count > 40., 100. * hits / count


def test_mmpose_inferencer_with_our_config(trained_small, tmp_path):
    from mmpose.apis import MMPoseInferencer
    inferencer = MMPoseInferencer(
        pose2d=str(trained_small.config),
        pose2d_weights=str(trained_small.ckpt), det_model='whole_image',
        device='cpu')
    p = val_people(trained_small.data, 1)[0]
    result = next(inferencer(p['image'], bboxes=[p['bbox'].tolist()],
                             vis_out_dir=str(tmp_path), return_vis=False))
    (person, ) = result['predictions'][0]
    assert np.asarray(person['keypoints']).shape == (16, 2)
    assert len(list(tmp_path.glob('*.jpg'))) == 1


def test_image_demo_draws_the_mpii_skeleton(trained_small, tmp_path):
    p = val_people(trained_small.data, 1)[0]
    out = tmp_path / 'demo.png'
    proc = run_tool(['demo/image_demo.py', p['image'],
                     str(trained_small.config), str(trained_small.ckpt),
                     '--bbox', *map(str, p['bbox'].tolist()), '--out-file',
                     str(out)])
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert 'right_ankle' in proc.stdout and 'left_wrist' in proc.stdout
    import cv2
    img = cv2.imread(str(out))
    src = cv2.imread(p['image'])
    assert img.shape == src.shape
    assert (np.abs(img.astype(int) - src).sum(-1) > 60).mean() > 0.001


def test_image_demo_refuses_checkpoint_without_metadata(trained_small,
                                                        tmp_path):
    ckpt = torch.load(trained_small.ckpt, map_location='cpu')
    bare = tmp_path / 'bare.pth'
    torch.save({'state_dict': ckpt['state_dict']}, bare)
    p = val_people(trained_small.data, 1)[0]
    proc = run_tool(['demo/image_demo.py', p['image'],
                     str(trained_small.config), str(bare), '--out-file',
                     str(tmp_path / 'x.png')])
    assert proc.returncode != 0
    assert 'no meta.dataset_meta' in proc.stderr + proc.stdout
