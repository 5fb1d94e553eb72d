"""Crash-safe checkpoints: every file appears complete or not at all, and
only inside the run's own folder."""
import os.path as osp
from typing import Any, Dict, Optional

from mmengine.dist import is_main_process
from mmengine.fileio.backends import LocalBackend
from mmengine.hooks import CheckpointHook
from mmpose.registry import HOOKS

from mmhg_plugin.engine.atomic_files import (
    commit_file,
    remove_stale_temp_files,
    write_text_atomically,
    write_via_temp,
)
from mmhg_plugin.engine.work_dir_files import is_inside, own_copy


@HOOKS.register_module()
class AtomicCheckpointHook(CheckpointHook):
    """MMEngine's ``CheckpointHook`` with crash-safe writes.

    Same arguments and file names as ``CheckpointHook``. Differences:

    - each checkpoint is saved to ``<name>.tmp-<pid>`` in the same folder,
      fsynced and renamed over ``<name>`` (``os.replace``), so a process
      killed at any moment leaves either the old file or the complete new
      one; ``last_checkpoint`` is written the same way;
    - rotation deletes the oldest checkpoint (``max_keep_ckpts``) and the
      previous best checkpoint (``save_best``) only after the new file is
      complete;
    - temporary files left by a killed run are removed when training
      starts; a failed write (a full disk) removes its temporary file and
      raises :class:`~mmhg_plugin.utils.errors.CheckpointWriteError` naming
      the file (:mod:`mmhg_plugin.engine.atomic_files`);
    - it deletes only inside its own folder (``out_dir``): a previous best
      checkpoint recorded by a resumed message hub outside it (the run's
      work dir was copied) is replaced by the file of the same name inside,
      or forgotten.

    Writing through other file backends (``backend_args`` for remote
    storage) falls back to ``CheckpointHook``'s direct writes.
    """

    def before_train(self, runner) -> None:
        """Set up as ``CheckpointHook``; remove stale temporary files; keep
        the recorded best checkpoints inside ``out_dir``."""
        super().before_train(runner)
        self.atomic = self.file_client_args is None and isinstance(
            self.file_backend, LocalBackend)
        if not self.atomic:
            runner.logger.warning(
                f'{type(self).__name__}: {self.out_dir} is not on a local '
                'file system; checkpoints are written directly, not '
                'atomically')
            return
        if is_main_process():
            for folder in {self.out_dir, runner.work_dir}:
                for path in remove_stale_temp_files(folder):
                    runner.logger.info(f'removing {path}, left by an '
                                       'interrupted checkpoint write')
        if self.save_best is None:
            return
        if len(self.key_indicators) == 1:
            self.best_ckpt_path = self._own_best(runner, self.best_ckpt_path)
        else:
            for key, path in self.best_ckpt_path_dict.items():
                self.best_ckpt_path_dict[key] = self._own_best(runner, path)

    def _own_best(self, runner, path: Optional[str]) -> Optional[str]:
        """A recorded best checkpoint, mapped into ``out_dir``."""
        if not path:
            return path
        local = own_copy(path, [self.out_dir])
        if local != path:
            runner.logger.info(
                f'the previous best checkpoint {path} is outside '
                f'{self.out_dir}: ' + ('it will not be touched' if local is
                                       None else f'using {local}'))
        return local

    # ------------------------------------------------------------ writing
    def _commit(self, tmp_path: str, final_path: str) -> None:
        """Make a completely written temporary file the checkpoint
        (overridable, e.g. by tests that kill the process here)."""
        commit_file(tmp_path, final_path)

    def _write(self, runner, filename: str, **kwargs: Any) -> None:
        """``runner.save_checkpoint`` into ``out_dir/filename``, atomically
        where possible (only the main process writes).

        Raises:
            CheckpointWriteError: As :func:`write_via_temp`.
        """
        if not getattr(self, 'atomic', False):
            runner.save_checkpoint(self.out_dir, filename, **kwargs)
            return
        write_via_temp(
            osp.join(self.out_dir, filename),
            lambda tmp: runner.save_checkpoint(self.out_dir,
                                               osp.basename(tmp), **kwargs),
            self._commit if is_main_process() else None)

    def _remove(self, path: Optional[str]) -> None:
        """Delete an old checkpoint file or folder (main process only;
        never outside ``out_dir``)."""
        if not path or not is_main_process():
            return
        if getattr(self, 'atomic', False) and \
                not is_inside(path, self.out_dir):
            raise ValueError(f'refusing to delete {path}: outside this '
                             f"run's checkpoint folder {self.out_dir}")
        if self.file_backend.isfile(path):
            self.file_backend.remove(path)
        elif self.file_backend.isdir(path):  # DeepSpeed saves folders
            self.file_backend.rmtree(path)

    # ------------------------------------------------------------ rotation
    def _save_checkpoint_with_step(self, runner, step, meta) -> None:
        """Save ``filename_tmpl.format(step)``; rotate after the write."""
        outdated = None
        if self.max_keep_ckpts > 0 and not (self.keep_ckpt_ids and
                                            self.keep_ckpt_ids[-1] == step):
            if len(self.keep_ckpt_ids) == self.max_keep_ckpts:
                outdated = self.keep_ckpt_ids.popleft()
            self.keep_ckpt_ids.append(step)
            runner.message_hub.update_info('keep_ckpt_ids',
                                           list(self.keep_ckpt_ids))
        ckpt_filename = self.filename_tmpl.format(step)
        self.last_ckpt = self.file_backend.join_path(self.out_dir,
                                                     ckpt_filename)
        runner.message_hub.update_info('last_ckpt', self.last_ckpt)
        self._write(
            runner,
            ckpt_filename,
            file_client_args=self.file_client_args,
            save_optimizer=self.save_optimizer,
            save_param_scheduler=self.save_param_scheduler,
            meta=meta,
            by_epoch=self.by_epoch,
            backend_args=self.backend_args,
            **self.args)
        if not is_main_process():
            return
        # point last_checkpoint at the new file before deleting the oldest
        # (with max_keep_ckpts=1 the oldest is what it pointed at)
        write_text_atomically(osp.join(runner.work_dir, 'last_checkpoint'),
                              self.last_ckpt)
        if outdated is not None and outdated != step:
            self._remove(
                self.file_backend.join_path(self.out_dir,
                                            self.filename_tmpl.format(
                                                outdated)))

    def _save_best_checkpoint(self, runner, metrics: Dict[str, Any]) -> None:
        """Save a new best checkpoint, then delete the previous one."""
        if not self.save_best:
            return
        if self.by_epoch:
            ckpt_filename = self.filename_tmpl.format(runner.epoch)
            cur_type, cur_time = 'epoch', runner.epoch
        else:
            ckpt_filename = self.filename_tmpl.format(runner.iter)
            cur_type, cur_time = 'iter', runner.iter
        meta = dict(epoch=runner.epoch, iter=runner.iter)
        if 'auto' in self.key_indicators:
            self._init_rule(self.rules, [list(metrics.keys())[0]])
        single = len(self.key_indicators) == 1
        updated = False
        for key, rule in zip(self.key_indicators, self.rules):
            score_key = 'best_score' if single else f'best_score_{key}'
            path_key = 'best_ckpt' if single else f'best_ckpt_{key}'
            old_path = (self.best_ckpt_path
                        if single else self.best_ckpt_path_dict[key])
            best = runner.message_hub.runtime_info.get(
                score_key, self.init_value_map[rule])
            score = metrics[key]
            if score is None or not self.is_better_than[key](score, best):
                continue
            updated = True
            runner.message_hub.update_info(score_key, score)
            name = f'best_{key}_{ckpt_filename}'.replace('/', '_')
            new_path = self.file_backend.join_path(self.out_dir, name)
            if single:
                self.best_ckpt_path = new_path
            else:
                self.best_ckpt_path_dict[key] = new_path
            runner.message_hub.update_info(path_key, new_path)
            self._write(runner, name, file_client_args=self.file_client_args,
                        save_optimizer=False, save_param_scheduler=False,
                        meta=meta, by_epoch=False,
                        backend_args=self.backend_args)
            if old_path and old_path != new_path:
                self._remove(old_path)
                runner.logger.info(
                    f'The previous best checkpoint {old_path} is removed')
            runner.logger.info(
                f'The best checkpoint with {score:0.4f} {key} at '
                f'{cur_time} {cur_type} is saved to {name}.')
        # as CheckpointHook: re-save the last checkpoint so that its message
        # hub knows the new best (and a resumed run can rotate it)
        if updated and self.last_ckpt is not None:
            self._save_checkpoint_with_step(runner, cur_time, meta)
