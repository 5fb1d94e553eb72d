"""The last checkpoint's validation metrics beside the best one's."""
from numbers import Real
from typing import Any, Dict, Optional

from mmengine.hooks import CheckpointHook, Hook
from mmengine.runner import BaseLoop
from mmpose.registry import HOOKS

#: Message-hub keys of the records (saved in every checkpoint's
#: ``message_hub.runtime_info``): ``{'epoch', 'metrics'}`` of the last
#: validation, and of the best one with its ``key`` and ``score``.
LAST_INFO = 'mmhg_last_val'
BEST_INFO = 'mmhg_best_val'


def _checkpoint_hook(runner) -> Optional[CheckpointHook]:
    """The runner's checkpoint hook that keeps a best checkpoint."""
    for hook in runner.hooks:
        if isinstance(hook, CheckpointHook) and hook.save_best:
            return hook
    return None


def describe_checkpoint(checkpoint: Dict[str, Any]) -> str:
    """Which checkpoint of its run this is: best, last, both or neither.

    Args:
        checkpoint (dict): A loaded MMEngine checkpoint. Its ``meta`` gives
            the epoch (and ``max_epochs``, written by
            :class:`BestAndLastHook`); its message hub the best so far.

    Returns:
        str: E.g. ``'the last checkpoint (epoch 100 of 100); the best by
        PCKh/Mean up to it: epoch 85 (88.12)'``.
    """
    meta = checkpoint.get('meta') or {}
    epoch, planned = meta.get('epoch'), meta.get('max_epochs')
    if epoch is None:
        return ('a checkpoint without a training record (no epoch in its '
                'meta: converted or hand-made weights)')
    hub = checkpoint.get('message_hub') or {}
    best = (hub.get('runtime_info') or {}).get(BEST_INFO)
    is_best = best is not None and best['epoch'] == epoch
    is_last = planned is not None and epoch == planned
    kind = {(True, True): 'the best and the last checkpoint',
            (True, False): 'the best checkpoint',
            (False, True): 'the last checkpoint'}.get(
                (is_best, is_last),
                'a checkpoint' if planned is None else
                'neither the best nor the last checkpoint')
    text = f'{kind} (epoch {epoch}' + \
        (f' of {planned})' if planned is not None else ')')
    if best is None:
        return text + '; no best recorded'
    if is_best:
        return (text + f', chosen by {best["key"]} = {best["score"]:.2f} on '
                'the validation split: its score on that split is '
                'optimistic')
    return (text + f'; the best by {best["key"]} up to it: epoch '
            f'{best["epoch"]} ({best["score"]:.2f})')


@HOOKS.register_module()
class BestAndLastHook(Hook):
    """Report the last checkpoint's validation metrics beside the best's.

    The best checkpoint (``save_best`` of the checkpoint hook, e.g.
    ``'PCKh/Mean'``) is chosen on the validation split it is scored on, so
    its figure is optimistic; the last one is chosen by nothing. This hook

    - records every validation's metrics, and those of the validation the
      checkpoint hook keeps as best (its first key, same rule), in the message hub
      (:data:`LAST_INFO`, :data:`BEST_INFO`), so every checkpoint, resumed
      runs included, carries them;
    - writes ``max_epochs`` into every checkpoint's ``meta``;
    - at the end of training logs both in two columns, best and last, with
      their epochs;
    - when a checkpoint is evaluated (``tools/test.py``), logs after the
      PCKh table which checkpoint it was: best, last, both or neither, and
      its epoch (:func:`describe_checkpoint`).

    Its priority (``LOW``) runs it before the checkpoint hook (``VERY_LOW``)
    after each validation, so a new best checkpoint holds its own record.
    """

    priority = 'LOW'

    def __init__(self) -> None:
        self.loaded: Optional[str] = None

    def after_val_epoch(self, runner,
                        metrics: Optional[Dict[str, Any]] = None) -> None:
        """Record this validation; as the best when the checkpoint hook
        will keep it as best."""
        if not metrics:
            return
        record = dict(epoch=runner.epoch,
                      metrics={k: float(v) for k, v in metrics.items()
                               if isinstance(v, Real)})
        hub = runner.message_hub
        hub.update_info(LAST_INFO, record)
        ckpt = _checkpoint_hook(runner)
        if ckpt is None or ckpt.key_indicators[0] not in record['metrics']:
            return
        key, rule = ckpt.key_indicators[0], ckpt.rules[0]
        score = record['metrics'][key]
        # the checkpoint hook's name for the best score so far
        name = 'best_score' if len(ckpt.key_indicators) == 1 else \
            f'best_score_{key}'
        best = hub.runtime_info.get(name, ckpt.init_value_map[rule])
        if ckpt.is_better_than[key](score, best):
            hub.update_info(BEST_INFO, dict(record, key=key, score=score))

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        """Write the planned number of epochs into the checkpoint's meta."""
        loop = getattr(runner, '_train_loop', None)
        if isinstance(loop, BaseLoop) and hasattr(loop, 'max_epochs'):
            checkpoint.setdefault('meta', {})['max_epochs'] = loop.max_epochs

    def after_train(self, runner) -> None:
        """Log the best and the last validation side by side."""
        hub = runner.message_hub
        last, best = hub.get_info(LAST_INFO), hub.get_info(BEST_INFO)
        if last is None:
            return
        columns = ([(f'best (epoch {best["epoch"]})', best)] if best else [])
        columns.append((f'last (epoch {last["epoch"]})', last))
        width = max(len(k) for k in last['metrics'])
        lines = ['validation metrics of the best and the last checkpoint' +
                 (f' (the best is chosen by {best["key"]} on this same '
                  'validation split, so its figures are optimistic)'
                  if best else '')]
        if last['epoch'] != runner.epoch:
            lines.append(f'(training ended at epoch {runner.epoch}; the last '
                         f'validation was at epoch {last["epoch"]})')
        lines.append(' ' * width + ''.join(f'  {c:>18s}' for c, _ in columns))
        for key in last['metrics']:
            lines.append(f'{key:<{width}s}' + ''.join(
                f'  {r["metrics"].get(key, float("nan")):18.2f}'
                for _, r in columns))
        runner.logger.info('\n'.join(lines))

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        """Remember what the loaded checkpoint is (for the test log)."""
        self.loaded = describe_checkpoint(checkpoint)

    def after_test_epoch(self, runner,
                         metrics: Optional[Dict[str, Any]] = None) -> None:
        """Name the checkpoint that was scored."""
        if self.loaded is not None:
            runner.logger.info(
                f'scored {runner.cfg.get("load_from")}: {self.loaded}')
