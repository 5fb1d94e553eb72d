"""Measure the demo's candidate recipes here and plan a run that fits a budget.

    python tools/misc/plan_demo.py [--budget-min 12] [--deadline EPOCH_S]
        [--data-root DIR] [--work-dir DIR] [--force-precision fp32|bf16]
        [--recipes CONFIG ...] [--warmup 2] [--iters 8]

For each candidate recipe (a config with a ``demo_recipe`` dict; a recipe
computing in bfloat16 only where bfloat16 is native) it builds the model,
optimizer and training dataloader of the config, times ``--iters``
training iterations after ``--warmup`` (data loading included, with the
loader as configured), and two validation batches (flip test as
configured) to predict one validation of the whole split. The training
time is the budget, or less when ``--deadline`` (the clone-to-pictures
deadline, as ``make demo`` passes it) leaves less, but never less than
reaching the target needs where the budget allows it; then the recipe and
its epochs are chosen (:func:`mmhg_plugin.engine.demo_budget.plan_demo`);
the plan and why are printed and written to ``<work-dir>/plan.json``, and
``<work-dir>/demo_planned.py`` is a config that trains it (``make demo``
trains that one).

Adding a recipe: give its config a ``demo_recipe`` dict (see the demo
configs) and list it in :data:`DEMO_RECIPES`, in order of preference.
"""
import argparse
import gc
import json
import time
from pathlib import Path
from typing import Iterator, List, Optional

from mmhg_plugin.utils.quiet import silence_third_party_deprecations

silence_third_party_deprecations()  # before anything below can warn

import torch  # noqa: E402
from mmengine.config import Config  # noqa: E402
from mmengine.device import get_device  # noqa: E402
from mmengine.optim import build_optim_wrapper  # noqa: E402
from mmengine.registry import init_default_scope  # noqa: E402
from mmengine.runner import Runner  # noqa: E402
from mmengine.utils.dl_utils import set_multi_processing  # noqa: E402

import mmhg_plugin  # noqa: E402,F401  (registers the plugin's modules)
from mmhg_plugin.engine.demo_budget import plan_demo  # noqa: E402
from mmhg_plugin.engine.demo_planner import candidate_recipes  # noqa: E402
from mmhg_plugin.engine.demo_recipe import Recipe  # noqa: E402
from mmhg_plugin.engine.planned_config import planned_config_text  # noqa: E402
from mmhg_plugin.engine.runner_setup import preflight  # noqa: E402
from mmhg_plugin.models.utils.autocast import has_native_bf16  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
#: The candidate recipes, best final accuracy first (the planner's order of
#: preference among those that reach their target in the budget).
DEMO_RECIPES = ('configs/demo_hg2_synth_mpii.py',
                'configs/demo_hg1_synth_mpii_fp32.py')
#: The name of the generated config inside the work dir.
PLANNED_CONFIG = 'demo_planned.py'


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    """Parse the command line."""
    p = argparse.ArgumentParser(description='Plan the demo for this machine')
    p.add_argument('--budget-min', type=float, default=12.,
                   help='training time allowed, validations included')
    p.add_argument('--deadline', type=float,
                   help='Unix time by which the whole demo (evaluation and '
                   'pictures included) should end; the training is '
                   'shortened to meet it')
    p.add_argument('--data-root', default='data/synth_mpii')
    p.add_argument('--work-dir', default='work_dirs/demo_hg2_synth_mpii')
    p.add_argument('--force-precision', choices=('fp32', 'bf16'),
                   help='consider only the recipes of this precision')
    p.add_argument('--recipes', nargs='+',
                   default=[str(REPO / c) for c in DEMO_RECIPES],
                   help='candidate configs, in order of preference')
    p.add_argument('--warmup', type=int, default=2,
                   help='untimed training iterations first')
    p.add_argument('--iters', type=int, default=8,
                   help='timed training iterations')
    return p.parse_args(argv)


def recipe_config(recipe: Recipe, data_root: str) -> Config:
    """The recipe's config, every dataloader pointed at ``data_root``."""
    cfg = Config.fromfile(recipe.config)
    head = f'{data_root}/annotations/mpii_gt_val.mat'
    cfg.merge_from_dict({
        'train_dataloader.dataset.data_root': data_root,
        'val_dataloader.dataset.data_root': data_root,
        'val_dataloader.dataset.headbox_file': head})
    return cfg


def endless(loader) -> Iterator:
    """The loader's batches, epoch after epoch (each one loaded anew)."""
    while True:
        yield from loader


def measure(recipe: Recipe, data_root: str, warmup: int, iters: int,
            device: str) -> dict:
    """Time ``recipe`` on this machine.

    Returns:
        dict: ``s_per_iter`` (training iteration, loading included),
        ``iters_per_epoch``, ``val_s`` (one validation of the split: the
        first batch, which starts the loader, plus the second batch's time
        for each further batch), and what they came from.
    """
    t_start = time.perf_counter()
    cfg = recipe_config(recipe, data_root)
    preflight(cfg, ('train_dataloader', 'val_dataloader'))
    init_default_scope(cfg.get('default_scope', 'mmpose'))
    set_multi_processing(**cfg.env_cfg.get('mp_cfg', {}), distributed=False)
    torch.manual_seed(0)
    from mmpose.registry import MODELS
    model = MODELS.build(cfg.model).to(device)
    optim_wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    loader = Runner.build_dataloader(cfg.train_dataloader, seed=0)
    batches = endless(loader)
    model.train()
    for i in range(warmup + iters):
        if i == warmup:
            t0 = time.perf_counter()
        model.train_step(next(batches), optim_wrapper=optim_wrapper)
    s_per_iter = (time.perf_counter() - t0) / iters

    model.eval()
    val_loader = Runner.build_dataloader(cfg.val_dataloader, seed=0)
    n_val = len(val_loader)
    batch_s = []
    with torch.no_grad():
        t0 = time.perf_counter()
        val_iter = iter(val_loader)   # starts the loader's workers
        for _ in range(min(2, n_val)):
            model.val_step(next(val_iter))
            batch_s.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
    val_s = batch_s[0] + (n_val - 1) * batch_s[-1]
    out = dict(s_per_iter=s_per_iter, iters_per_epoch=len(loader),
               val_s=val_s, val_batches=n_val,
               val_people=len(val_loader.dataset),
               val_batch_s=[round(s, 3) for s in batch_s],
               timed_iters=iters, warmup_iters=warmup,
               measure_s=round(time.perf_counter() - t_start, 1))
    del model, optim_wrapper, loader, batches, val_loader, val_iter
    gc.collect()
    return out


def main(argv: Optional[List[str]] = None) -> dict:
    """Entry point; returns what ``plan.json`` holds."""
    args = parse_args(argv)
    if args.iters < 1 or args.warmup < 0:
        raise SystemExit('plan_demo: --iters >= 1 and --warmup >= 0 please')
    if not Path(args.data_root, 'annotations', 'mpii_train.json').is_file():
        raise SystemExit(f'plan_demo: no MPII-format data under '
                         f'{args.data_root} (annotations/mpii_train.json)')
    device = get_device()
    native = has_native_bf16(torch.device(device))
    recipes = [Recipe.from_config(c) for c in args.recipes]
    try:
        cands, skipped = candidate_recipes(recipes, native,
                                           args.force_precision)
    except ValueError as e:
        raise SystemExit(f'plan_demo: {e}') from None
    print(f'[plan] device {device}, native bfloat16: '
          f'{"yes" if native else "no"}; measuring '
          f'{", ".join(r.name for r in cands)}', flush=True)
    for line in skipped:
        print(f'[plan] skipped {line}')
    measured = {}
    for r in cands:
        m = measured[r.name] = measure(r, args.data_root, args.warmup,
                                       args.iters, device)
        print(f'[plan] {r.name}: {1000 * m["s_per_iter"]:.0f} ms/iter '
              f'({m["timed_iters"]} timed after {m["warmup_iters"]}, '
              f'loading included), {m["iters_per_epoch"]} iters/epoch; '
              f'validation of {m["val_people"]} people in '
              f'{m["val_batches"]} batches (first, second: '
              f'{m["val_batch_s"]} s) -> {m["val_s"]:.1f} s; measured in '
              f'{m["measure_s"]} s', flush=True)
    plan, budget_line = plan_demo(
        recipes, {k: m['s_per_iter'] for k, m in measured.items()},
        {k: m['iters_per_epoch'] for k, m in measured.items()},
        {k: m['val_s'] for k, m in measured.items()},
        budget_s=60 * args.budget_min, native_bf16=native,
        deadline_left_s=(None if args.deadline is None
                         else args.deadline - time.time()),
        force_precision=args.force_precision)
    print(f'[plan] training time: {budget_line}')
    print('[plan] ' + plan.reason.replace('\n', '\n[plan] '))
    work = Path(args.work_dir)
    work.mkdir(parents=True, exist_ok=True)
    config = work / PLANNED_CONFIG
    config.write_text(planned_config_text(
        plan, data_root=str(Path(args.data_root).resolve())))
    summary = dict(plan.to_dict(), device=device, native_bf16=native,
                   force_precision=args.force_precision,
                   budget_min=args.budget_min, deadline=args.deadline,
                   training_budget_reason=budget_line,
                   data_root=args.data_root, planned_config=str(config),
                   measurements=measured)
    (work / 'plan.json').write_text(json.dumps(summary, indent=2) + '\n')
    print(f'[plan] wrote {work / "plan.json"} and {config}')
    return summary


if __name__ == '__main__':
    main()
