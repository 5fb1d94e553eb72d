"""A TensorBoard backend that configs switch on and off with one flag."""
from typing import Any

from mmengine.visualization import TensorboardVisBackend
from mmpose.registry import VISBACKENDS


@VISBACKENDS.register_module()
class SwitchableTensorboardVisBackend(TensorboardVisBackend):
    """mmengine's ``TensorboardVisBackend`` behind an ``enabled`` flag.

    mmengine's ``--cfg-options`` parser cannot append a dict to
    ``visualizer.vis_backends`` (it turns ``[dict(...)]`` into strings), so
    our configs list this backend disabled and a run switches it on with::

        --cfg-options visualizer.vis_backends.1.enabled=True

    Disabled, it creates no directory and writes nothing; enabled, it is
    exactly ``TensorboardVisBackend`` (events under ``<work_dir>/<time>/
    vis_data``; view with ``tensorboard --logdir work_dirs``).

    Args:
        save_dir (str): Set by the visualizer.
        enabled (bool): Write TensorBoard events. Defaults to False.
    """

    def __init__(self, save_dir: str, enabled: bool = False) -> None:
        super().__init__(save_dir)
        self.enabled = enabled

    def add_config(self, config: Any, **kwargs) -> None:
        if self.enabled:
            super().add_config(config, **kwargs)

    def add_image(self, name: str, image: Any, step: int = 0,
                  **kwargs) -> None:
        if self.enabled:
            super().add_image(name, image, step, **kwargs)

    def add_scalar(self, name: str, value: Any, step: int = 0,
                   **kwargs) -> None:
        if self.enabled:
            super().add_scalar(name, value, step, **kwargs)

    def add_scalars(self, scalar_dict: dict, step: int = 0,
                    file_path: Any = None, **kwargs) -> None:
        if self.enabled:
            super().add_scalars(scalar_dict, step, file_path, **kwargs)

    def close(self) -> None:
        if self.enabled:
            super().close()
