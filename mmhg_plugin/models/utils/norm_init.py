"""Initial values of the norm layers: PyTorch's or Torch7's.

PyTorch starts every affine norm layer at weight 1, bias 0 (its BatchNorm
drew the weight from ``U(0, 1)`` until pytorch/pytorch#12259 was fixed, by
1.2). Torch7's ``nn.SpatialBatchNormalization``, which the Lua original
builds, started the weight at ``U(0, 1)`` and the bias at 0 (``reset()``:
``self.weight:uniform()``, ``self.bias:zero()``).

Convolutions need no switch: Torch7's ``nn.SpatialConvolution.reset()``
draws weight and bias from ``U(-1/sqrt(fan_in), 1/sqrt(fan_in))``, and
PyTorch's ``Conv2d`` draws the weight with ``kaiming_uniform_(a=sqrt(5))``,
whose bound ``sqrt(6 / ((1 + 5) * fan_in))`` is the same ``1/sqrt(fan_in)``,
and the bias from the same ``U(+-1/sqrt(fan_in))``: one law.
"""
from torch import nn

#: Names of the norm initialisations.
NORM_INITS = ('pytorch', 'torch7')

#: Norm layers with an affine weight and bias.
_AFFINE_NORMS = (nn.modules.batchnorm._NormBase, nn.GroupNorm, nn.LayerNorm)


def init_norms(module: nn.Module, law: str) -> None:
    """Initialise every affine norm layer inside ``module`` in place.

    Args:
        module (nn.Module): The network (or part of it).
        law (str): ``'pytorch'`` leaves the layers as built (weight 1, bias
            0; no random draw); ``'torch7'`` draws each weight from
            ``U(0, 1)`` (torch's global generator, layer by layer in module
            order) and zeroes the bias.

    Raises:
        ValueError: An unknown ``law``.
    """
    if law not in NORM_INITS:
        raise ValueError(f'norm_init must be one of {NORM_INITS}, got '
                         f'{law!r}')
    if law == 'pytorch':
        return
    for m in module.modules():
        if isinstance(m, _AFFINE_NORMS) and getattr(m, 'weight',
                                                     None) is not None:
            nn.init.uniform_(m.weight, 0., 1.)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
