#!/usr/bin/env bash
# The README's main command (make demo). On a fresh clone:
#   0. set up .venv (tools/setup_env.sh; seconds when it is already there),
#   1. generate the synthetic MPII data if missing (data/synth_mpii),
#   2. plan the run for this machine (tools/misc/plan_demo.py, under a minute): time a few
#      training iterations and validation batches of each candidate recipe (the configs
#      with a demo_recipe; a bfloat16 one only where bfloat16 is native), choose the
#      recipe and size its epochs, validations and cosine decay so that training ends
#      within the budget and the whole run within the deadline (unless the deadline
#      leaves too little to reach the target: the target comes first); print the
#      choice and why; write $WORK/plan.json and $WORK/demo_planned.py,
#   3. train demo_planned.py (progress, loss and ETA every 100 iterations),
#   4. evaluate the last checkpoint with flip test and print the PCKh table,
#   5. save pictures under the work dir: predicted skeletons on validation images,
#      every stack's heatmaps for one person, and the training curves; the summary names
#      the recipe and precision that produced the table and the time of each step.
# Environment: DEMO_BUDGET_MIN (training budget, validations included, default 12),
# DEMO_TOTAL_MIN (deadline for the whole run from this script's start, set-up included,
# default 20; 0: none), DEMO_PRECISION=fp32 (or bf16: plan among the recipes of that
# precision only), DEMO_CONFIG (train this config as it is, no planning), WORK_DIR
# (default work_dirs/demo_hg2_synth_mpii), DATA_ROOT (default data/synth_mpii),
# DEMO_PROCS (training processes, default 1; N > 1 runs tools/dist_train.sh with N
# single-threaded processes (gloo on a CPU) and the batch split between them; the plan
# assumes 1), EXTRA_ARGS (passed to tools/train.py, e.g. --cfg-options ...).
set -euo pipefail
T0=$(date +%s)
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
TOTAL_MIN=${DEMO_TOTAL_MIN:-20}
PY="$ROOT/.venv/bin/python"
WORK=${WORK_DIR:-work_dirs/demo_hg2_synth_mpii}
DATA=${DATA_ROOT:-data/synth_mpii}
PICS="$WORK/pictures"
DATA_OPTS=()
if [[ "$DATA" != data/synth_mpii ]]; then
    DATA_OPTS=(--cfg-options "train_dataloader.dataset.data_root=$DATA"
        "val_dataloader.dataset.data_root=$DATA"
        "val_dataloader.dataset.headbox_file=$DATA/annotations/mpii_gt_val.mat"
        "test_dataloader.dataset.data_root=$DATA"
        "test_dataloader.dataset.headbox_file=$DATA/annotations/mpii_gt_val.mat")
fi

say() { printf '\n[demo %(%H:%M:%S)T] %s\n' -1 "$*"; }
# LAP: seconds since the previous call (the step just finished)
t_mark=$T0
lap() { local now; now=$(date +%s); LAP=$((now - t_mark)); t_mark=$now; }

bash tools/setup_env.sh
lap; setup_s=$LAP

# After the set-up, not beside it: the generator imports the plugin (mmpose, mmcv), and the
# mmcv compile keeps both cores busy anyway (docs/results.md, "Set-up timings").
if [[ ! -f "$DATA/annotations/mpii_val.json" ]]; then
    say "generating synthetic MPII into $DATA"
    "$PY" tools/dataset_converters/make_synthetic_mpii.py --out "$DATA" \
        --train 4000 --val 500 --seed 0
fi
lap; data_s=$LAP

if [[ -n "${DEMO_CONFIG:-}" ]]; then
    CONFIG=$DEMO_CONFIG
    rm -f "$WORK/plan.json"
    say "DEMO_CONFIG: training $CONFIG as it is (no plan)"
else
    BUDGET_MIN=${DEMO_BUDGET_MIN:-12}
    PLAN_OPTS=(--budget-min "$BUDGET_MIN" --data-root "$DATA" --work-dir "$WORK")
    if [[ "$TOTAL_MIN" != 0 ]]; then
        PLAN_OPTS+=(--deadline "$((T0 + TOTAL_MIN * 60))")
    fi
    if [[ -n "${DEMO_PRECISION:-}" ]]; then
        PLAN_OPTS+=(--force-precision "$DEMO_PRECISION")
    fi
    say "planning the demo for this machine: $BUDGET_MIN min of training, all done within $TOTAL_MIN min of the start (0: no deadline)"
    "$PY" tools/misc/plan_demo.py "${PLAN_OPTS[@]}"
    CONFIG="$WORK/demo_planned.py"
fi

lap; plan_s=$LAP

CORES=$(nproc)
DEMO_PROCS=${DEMO_PROCS:-1}
BATCH=$("$PY" -c "from mmengine.config import Config; print(Config.fromfile('$CONFIG').train_dataloader.batch_size)")
if [[ "$DEMO_PROCS" -gt 1 ]]; then
    say "training $CONFIG -> $WORK ($DEMO_PROCS processes x $((BATCH / DEMO_PROCS)) images)"
    # shellcheck disable=SC2086
    OMP_NUM_THREADS=$((CORES / DEMO_PROCS > 0 ? CORES / DEMO_PROCS : 1)) \
        bash tools/dist_train.sh "$CONFIG" "$DEMO_PROCS" --work-dir "$WORK" \
        "${DATA_OPTS[@]}" ${EXTRA_ARGS:-} \
        --cfg-options "train_dataloader.batch_size=$((BATCH / DEMO_PROCS))"
else
    say "training $CONFIG -> $WORK"
    # shellcheck disable=SC2086
    "$PY" tools/train.py "$CONFIG" --work-dir "$WORK" "${DATA_OPTS[@]}" ${EXTRA_ARGS:-}
fi
lap; train_s=$LAP

CKPT="$WORK/$(basename "$(cat "$WORK/last_checkpoint")")"
say "evaluating $CKPT with flip test"
"$PY" tools/test.py "$CONFIG" "$CKPT" --work-dir "$WORK/test" \
    --out "$WORK/test/pckh.json" --show-dir "$(realpath -m "$PICS/predictions")" \
    --interval 50 "${DATA_OPTS[@]}" 2>&1 | grep -v -E '^\s*$' | sed -n '/MPII PCKh@/,/PCKh curve/p'
lap; test_s=$LAP

say "pictures"
mkdir -p "$PICS"
# the first val person's box (unpadded: the test pipeline pads it)
read -r IMG BBOX < <("$PY" - "$DATA" <<'EOF'
import sys
from mmhg_plugin.datasets.mpii_conventions import mpii_crop_box
from mmhg_plugin.datasets.mpii_io import read_annotations
ann = read_annotations(f'{sys.argv[1]}/annotations/mpii_val.json')[0]
(cx, cy), side = mpii_crop_box(ann['center'], ann['scale'], padding=1.)
s = side / 2
print(f"{sys.argv[1]}/images/{ann['image']} {cx - s} {cy - s} {cx + s} {cy + s}")
EOF
)
# shellcheck disable=SC2086
"$PY" tools/analysis_tools/vis_stack_heatmaps.py "$CONFIG" "$CKPT" "$IMG" \
    --bbox $BBOX --joints per-joint --out "$PICS/stack_heatmaps.png" >/dev/null
"$PY" tools/analysis_tools/plot_curves.py "$WORK" --out "$PICS/curves.png" | tail -n 20
# shellcheck disable=SC2086
"$PY" demo/image_demo.py "$IMG" "$CONFIG" "$CKPT" --bbox $BBOX \
    --out-file "$PICS/image_demo.png" >/dev/null

lap; pics_s=$LAP
total_s=$(($(date +%s) - T0))
say "done in ${total_s}s: set-up ${setup_s}s, data ${data_s}s, plan ${plan_s}s, training ${train_s}s, evaluation ${test_s}s, pictures ${pics_s}s$([[ $TOTAL_MIN != 0 ]] && echo " (deadline ${TOTAL_MIN} min: $([[ $total_s -le $((TOTAL_MIN * 60)) ]] && echo met || echo MISSED))")"
"$PY" - "$WORK/test/pckh.json" "$WORK/plan.json" "$CONFIG" <<'EOF'
import json, os, sys
m = json.load(open(sys.argv[1]))
print('PCKh@0.5 (flip test) ' + '  '.join(f"{k.split('/')[-1]} {v:.2f}" for k, v in m.items()))
if os.path.isfile(sys.argv[2]):
    p = json.load(open(sys.argv[2]))
    print(f"produced by recipe {p['recipe']} ({os.path.relpath(p['config'])}), precision "
          f"{p['precision']}, {p['epochs']} epochs planned to train in {p['predicted_s']:.0f} s "
          f"of a {p['budget_s']:.0f} s budget"
          + ('' if p['reaches_target'] else f" (planned below its target PCKh {p['target_pckh']:g})"))
else:
    import torch
    from mmengine.config import Config
    from mmhg_plugin.models.utils.autocast import autocast_dtype
    dtype = autocast_dtype(Config.fromfile(sys.argv[3]).model.get('autocast'),
                           torch.device('cuda' if torch.cuda.is_available() else 'cpu'))
    precision = {None: 'fp32', torch.bfloat16: 'bf16', torch.float16: 'fp16'}[dtype]
    print(f'produced by {sys.argv[3]} (DEMO_CONFIG, not planned), precision {precision}')
EOF
echo "pictures: $PICS/predictions/*.jpg $PICS/stack_heatmaps.png $PICS/curves.png $PICS/image_demo.png"
