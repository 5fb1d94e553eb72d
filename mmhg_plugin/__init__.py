"""mmhg: the Stacked Hourglass network (Newell et al., ECCV 2016) for MMPose.

Importing this package registers every module into MMPose's registries (MODELS,
KEYPOINT_CODECS, TRANSFORMS, METRICS, HOOKS, VISBACKENDS), so a config needs only::

    custom_imports = dict(imports=['mmhg_plugin'], allow_failed_imports=False)
"""
__version__ = '0.1.0'

from . import (  # noqa: E402,F401
               codecs,
               datasets,
               engine,
               evaluation,
               models,  # registration
               visualization,
)
from .utils.safe_checkpoint import register_safe_globals  # noqa: E402

# mmengine's --resume loads with torch's weights_only=True: allow exactly what
# its checkpoints hold (see mmhg_plugin/utils/safe_checkpoint.py).
register_safe_globals()
