"""Type aliases shared across the package."""
from typing import Any, Dict, List, Sequence, Tuple, Union

from torch import Tensor

#: A config dict such as ``dict(type='BN', requires_grad=True)``.
NormCfg = Dict[str, Any]
#: Per-stack outputs of the network, stack 0 first; each (B, C, H, W).
StackOutputs = Union[Tuple[Tensor, ...], List[Tensor]]
#: A sequence of integer indices.
Indices = Sequence[int]
