# 8-stack hourglass for weights converted from the official PyTorch port
# (princeton-vl/pytorch_stacked_hourglass, e.g. its published hg_8 checkpoint) with
#   python tools/model_converters/pytorch_stacked_hourglass_to_mmhg.py SRC.pth.tar DST.pth
#   python tools/test.py configs/hg8_mpii_256_port_weights.py DST.pth
#
# What the port feeds its PoseNet (verified in the port's sources):
# - channel order RGB: data/MPII/ref.py reads training images with imread(path, mode='RGB');
#   test.py reads cv2.imread(path)[:, :, ::-1] (BGR -> RGB).
# - scale [0, 1], no mean/std: data/MPII/dp.py divides the warped crop by 255
#   (`astype(np.float32) / 255`), test.py feeds `img / 255`.
# - layout NHWC float32: models/posenet.py permutes `imgs.permute(0, 3, 1, 2)` before the
#   stem, so the weights themselves are ordinary NCHW convolutions (nothing to convert).
# Our pipeline decodes images with OpenCV (BGR uint8), so the preprocessor swaps to RGB and
# divides by 255. (Same numbers as the base config; spelled out here so that converted
# weights keep working if the base preprocessing ever changes.)
# Crop geometry is left as the base (200 * scale * 1.25 around the centre moved down by
# 15 * scale): the port's test.py / dp.py crop a 200 * scale box around the centre read from
# its annot/valid.h5 with no adjustment in code; whether those h5 values already include
# the original's 15 * s / 1.25 adjustment was not verified (binary h5, not inspected).
_base_ = ['./hg8_mpii_256.py']

model = dict(
    data_preprocessor=dict(_delete_=True, type='PoseDataPreprocessor',
                           mean=[0., 0., 0.], std=[255., 255., 255.],
                           bgr_to_rgb=True))
