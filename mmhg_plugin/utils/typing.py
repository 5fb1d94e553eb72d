"""Type aliases shared across the package."""
from typing import Any, Dict

#: A config dict such as ``dict(type='BN', requires_grad=True)``.
NormCfg = Dict[str, Any]
