#!/usr/bin/env bash
# refineseg's CUDA paths, checked end to end on one GPU in a few minutes, with no network.
#
#   tools/gpu_check.sh [CAMVID_DIR]
#
# One line per check, "PASS name (detail)" or "FAIL name (reason)" (a failing step's last log
# lines follow it, indented), then "N passed, M failed"; the exit status is 1 if any failed.
# Without a CUDA device it stops at the "cuda" check. The checks:
#   install          the interpreter imports torch and refineseg (and says which extras are missing)
#   cuda             a CUDA device is visible: its name
#   dataset          a CamVid subset (symbolic links to GPU_CHECK_TRAIN_IMAGES train and
#                    GPU_CHECK_VAL_IMAGES val images of CAMVID_DIR, spread over the split)
#   train_killed     `refineseg train` (the shipped recipe's arch, crop and optimiser, 2 epochs,
#                    --accelerator gpu --devices 1 --precision bf16-mixed), SIGKILLed as soon
#                    as the first checkpoint (end of epoch 1) appears
#   train_resumed    the same command with --resume runs epoch 2 to the end from that checkpoint
#   evaluate_gpu     `refineseg evaluate --accelerator gpu --devices 1` of the shipped model on the val subset
#   evaluate_ddp     the distributed evaluate: --accelerator gpu --devices 1 --strategy ddp (Lightning
#                    Fabric, NCCL, all-reduce of the confusion matrix), the same mIoU as evaluate_gpu
#   miou_gpu_vs_cpu  evaluate --device cpu on the same images; the GPU's mIoU within 0.05 points of it
#   predict_gpu      `refineseg predict --accelerator gpu` on docs/images/street.jpg and 3 val images;
#                    street.png agrees with docs/images/street.png (made on a CPU) on >= 99.5% of pixels
#   serve_gpu        `refineseg serve --device cuda --port 0` answers /healthz and one POST of
#                    street.jpg (curl, or Python where curl is missing) with predict's labels; stopped with SIGINT
#   export_onnx      refineseg.inference.export.export_onnx of the shipped model on CUDA (the
#   export_pt2       CLI has no --device: `refineseg export` exports from the CPU), checked by the
#                    exporter, model left on CUDA, the file's labels against the CUDA model's
#   benchmark        benchmarks/gpu.py: training images/s, inference latency, peak memory (the
#                    table is printed before the summary; GPU_CHECK_BENCH=0 leaves it out)
#
# Environment (all optional):
#   REFINESEG_PYTHON        an interpreter with torch (CUDA) and refineseg's dependencies. Without it: the
#                           checkout's .venv if it imports torch, else python3 if it does (and no
#                           REFINESEG_WHEELS is given), else a new venv (below). The checkout's src/ goes
#                           first on the interpreter's PYTHONPATH: it is what gets checked.
#   REFINESEG_WHEELS        a folder of wheels: for an existing interpreter, installed with --no-deps into a
#                           folder on PYTHONPATH (e.g. fastapi, uvicorn and their needs, for serve); for
#                           the venv, '.[train,serve,onnx]' is installed from it (pip --no-index --find-links)
#   REFINESEG_VENV          where that venv goes, made as the README says but offline and with
#                           --system-site-packages, so a preinstalled torch serves (default: in the work dir)
#   REFINESEG_CAMVID        the dataset when no argument is given (default ../shared/datasets/camvid)
#   REFINESEG_REFINENET_PYTORCH  a checkout of DrSleep/refinenet-pytorch for the benchmark's reference rf101
#   GPU_CHECK_TRAIN_IMAGES  (64), GPU_CHECK_VAL_IMAGES (40): the subset's sizes
#   GPU_CHECK_ARCH (refinenet_efficientnet_lite0), GPU_CHECK_CROP (256), GPU_CHECK_BATCH (8),
#   GPU_CHECK_PRECISION (bf16-mixed): the training run
#   GPU_CHECK_BENCH         0 leaves the benchmark out; GPU_BENCH_ARGS adds arguments to it
#   GPU_CHECK_OUT           a folder to copy the logs and the benchmark's table and JSON to
#   GPU_CHECK_KEEP          1 keeps the work directory (its path is printed first)
#   GPU_CHECK_DRY_RUN=cpu   runs every check on the CPU instead (the cuda check is skipped): to test
#                           this script where no GPU is; nothing it prints then is a GPU result

set -u

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DATA=${1:-${REFINESEG_CAMVID:-$REPO/../shared/datasets/camvid}}
N_TRAIN=${GPU_CHECK_TRAIN_IMAGES:-64}
N_VAL=${GPU_CHECK_VAL_IMAGES:-40}
ARCH=${GPU_CHECK_ARCH:-refinenet_efficientnet_lite0}
CROP=${GPU_CHECK_CROP:-256}
BATCH=${GPU_CHECK_BATCH:-8}
PRECISION=${GPU_CHECK_PRECISION:-bf16-mixed}
BENCH=${GPU_CHECK_BENCH:-1}
DRY=${GPU_CHECK_DRY_RUN:-}
if [ -n "$DRY" ] && [ "$DRY" != cpu ]; then
    echo "GPU_CHECK_DRY_RUN must be 'cpu' or unset, not '$DRY'" >&2
    exit 2
fi
if [ "$DRY" = cpu ]; then ACCEL=cpu DEVICE=cpu; else ACCEL=gpu DEVICE=cuda; fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/gpu_check.XXXXXX") || exit 2
LOGS=$WORK/logs
mkdir -p "$LOGS"
BACKGROUND=()
PASSED=0
FAILED=0

# shellcheck disable=SC2317  # run by the EXIT trap
cleanup() {
    local pid
    for pid in "${BACKGROUND[@]}"; do
        kill -KILL "$pid" 2>/dev/null
    done
    if [ -n "${GPU_CHECK_OUT:-}" ]; then
        mkdir -p "$GPU_CHECK_OUT"
        for log in "$LOGS"/*.log; do
            [ -f "$log" ] && { echo "===== $(basename "$log")"; cat "$log"; }
        done >"$GPU_CHECK_OUT/gpu_check_logs.txt" 2>/dev/null
        cp "$WORK"/gpu_benchmark.* "$GPU_CHECK_OUT"/ 2>/dev/null
    fi
    if [ "${GPU_CHECK_KEEP:-0}" != 1 ]; then rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

LAST=$SECONDS # each line gives the seconds since the last one: the checks run one after another

pass() {
    PASSED=$((PASSED + 1))
    echo "PASS $1 ($2; $((SECONDS - LAST)) s)"
    LAST=$SECONDS
}

# fail NAME REASON [LOG]: the reason, then the log's last lines
fail() {
    FAILED=$((FAILED + 1))
    echo "FAIL $1 ($2; $((SECONDS - LAST)) s)"
    LAST=$SECONDS
    if [ -n "${3:-}" ] && [ -s "$3" ]; then tail -n 12 "$3" | sed 's/^/    | /'; fi
}

finish() {
    echo "note: $SECONDS s in all"
    echo "$PASSED passed, $FAILED failed"
    [ "$FAILED" -eq 0 ] && exit 0
    exit 1
}

# step SECONDS LOG COMMAND...: runs it under timeout, output to LOG; its exit status (124: timed out)
step() {
    local seconds=$1 log=$2
    shift 2
    timeout -k 10 "$seconds" "$@" >"$log" 2>&1
}

# why STATUS LOG: a short reason for a failed step
why() {
    if [ "$1" -eq 124 ] || [ "$1" -eq 137 ]; then
        echo "timed out"
    else
        local last
        last=$(grep -v '^\s*$' "$2" 2>/dev/null | tail -n 1 | cut -c1-200)
        echo "exit status $1${last:+: $last}"
    fi
}

# py SECONDS LOG [ARGS...] <<'EOF' ... EOF: a Python snippet on stdin, with refineseg's interpreter
py() {
    local seconds=$1 log=$2
    shift 2
    timeout -k 10 "$seconds" "$PY" - "$@" >"$log" 2>&1
}

echo "gpu_check: checkout $REPO, work directory $WORK${DRY:+, DRY RUN on the CPU (no GPU result)}"
export PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 REFINESEG_HOME=$WORK/home
cd "$REPO" || exit 2

# -- install ----------------------------------------------------------------------------------
log=$LOGS/install.log
extra_path=""
if [ -n "${REFINESEG_PYTHON:-}" ]; then
    PY=$REFINESEG_PYTHON
    how="REFINESEG_PYTHON=$PY"
elif [ -x "$REPO/.venv/bin/python" ] && "$REPO/.venv/bin/python" -c 'import torch' >/dev/null 2>&1; then
    PY=$REPO/.venv/bin/python
    how="the checkout's .venv"
elif [ -z "${REFINESEG_WHEELS:-}" ] && python3 -c 'import torch' >/dev/null 2>&1; then
    PY=python3
    how="python3 with its own torch"
else
    venv=${REFINESEG_VENV:-$WORK/venv}
    how="a venv at $venv"
    wheels=()
    if [ -n "${REFINESEG_WHEELS:-}" ]; then wheels=(--find-links "$REFINESEG_WHEELS"); fi
    {
        python3 -m venv --system-site-packages "$venv" &&
            "$venv/bin/python" -m pip install --no-index "${wheels[@]}" --no-build-isolation "${REPO}[train,serve,onnx]"
    } >"$log" 2>&1
    PY=$venv/bin/python
fi
if [ -n "${REFINESEG_WHEELS:-}" ] && [[ $how != "a venv"* ]]; then
    "$PY" -m pip install -q --no-index --no-deps --no-compile --target "$WORK/site" "$REFINESEG_WHEELS"/*.whl \
        >>"$log" 2>&1 && extra_path=$WORK/site
fi
export PYTHONPATH="$REPO/src${extra_path:+:$extra_path}${PYTHONPATH:+:$PYTHONPATH}"
if out=$(timeout 120 "$PY" - 2>>"$log" <<'EOF'
import importlib.util, platform, sys
import torch, refineseg
missing = [m for m in ("lightning", "onnx", "onnxscript", "onnxruntime", "fastapi", "uvicorn", "multipart")
           if importlib.util.find_spec(m) is None]
where = refineseg.__file__.rsplit("/src/refineseg/", 1)[0] if "/src/refineseg/" in refineseg.__file__ else refineseg.__file__
print(f"Python {platform.python_version()}, torch {torch.__version__}, refineseg {refineseg.__version__} from {where}"
      + (f"; missing: {', '.join(missing)}" if missing else ""))
EOF
); then
    pass install "$how: $out"
else
    fail install "$how: torch or refineseg does not import" "$log"
    finish
fi

# -- cuda -------------------------------------------------------------------------------------
log=$LOGS/cuda.log
if [ "$DRY" = cpu ]; then
    echo "note: cuda not checked (GPU_CHECK_DRY_RUN=cpu): every check below runs on the CPU"
elif py 60 "$log" <<'EOF'
import torch
if not torch.cuda.is_available():
    raise SystemExit(f"no CUDA device is visible to torch {torch.__version__} (built for CUDA {torch.version.cuda or 'none'})")
p = torch.cuda.get_device_properties(0)
bf16 = "native bf16" if p.major >= 8 else "no native bf16"
print(f"{p.name}, sm_{p.major}{p.minor}, {p.total_memory / 2**30:.0f} GiB, {bf16}; "
      f"torch {torch.__version__}, CUDA {torch.version.cuda}, {torch.cuda.device_count()} device(s)")
EOF
then
    pass cuda "$(tail -n 1 "$log")"
else
    fail cuda "$(tail -n 1 "$log" | cut -c1-200)"
    finish
fi

# -- dataset ----------------------------------------------------------------------------------
SUB=$WORK/camvid
make_subset() {
    local split=$1 n=$2 total step
    [ -d "$DATA/$split" ] && [ -d "$DATA/${split}annot" ] || return 1
    mkdir -p "$SUB/$split" "$SUB/${split}annot"
    total=$(find "$DATA/$split" -maxdepth 1 -name '*.png' | wc -l)
    [ "$total" -gt 0 ] || return 1
    step=$((total / n))
    [ "$step" -ge 1 ] || step=1
    find "$DATA/$split" -maxdepth 1 -name '*.png' -printf '%f\n' | sort | awk -v s="$step" 'NR % s == 1 || s == 1' |
        head -n "$n" | while read -r name; do
            [ -f "$DATA/${split}annot/$name" ] || continue
            ln -s "$DATA/$split/$name" "$SUB/$split/$name"
            ln -s "$DATA/${split}annot/$name" "$SUB/${split}annot/$name"
        done
}
HAVE_DATA=0
if [ -d "$DATA" ] && DATA=$(cd "$DATA" && pwd) && make_subset train "$N_TRAIN" && make_subset val "$N_VAL"; then
    n_train=$(find "$SUB/train" -name '*.png' | wc -l)
    n_val=$(find "$SUB/val" -name '*.png' | wc -l)
    if [ "$n_train" -ge "$BATCH" ] && [ "$n_val" -ge 1 ]; then
        HAVE_DATA=1
        pass dataset "$n_train train and $n_val val images of $DATA"
    else
        fail dataset "$DATA: $n_train train / $n_val val images with labels, fewer than a batch of $BATCH"
    fi
else
    fail dataset "$DATA: no CamVid layout (train/, trainannot/, val/, valannot/) there; give its path as the argument"
fi

# -- train, killed after the first checkpoint, resumed ------------------------------------------
RUN=$WORK/run
CKPT=$RUN/checkpoints/last.ckpt
TRAIN=("$PY" -m refineseg train --dataset camvid --root "$SUB" --arch "$ARCH" --crop-size "$CROP"
    --batch-size "$BATCH" --optimizer sgd --lr 0.005 --encoder-lr-ratio 0.1 --weight-decay 0.0001 --schedule poly
    --class-weights sqrt_median_frequency --gradient-clip-val 5.0 --seed 42 --epochs 2 --val-every 1
    --accelerator "$ACCEL" --devices 1 --precision "$PRECISION" --no-progress --output "$RUN")

# checkpoint_state: "EPOCH STEP" of last.ckpt (epoch counted from 0)
checkpoint_state() {
    timeout 120 "$PY" -c 'import sys, torch; c = torch.load(sys.argv[1], map_location="cpu", weights_only=False); print(c["epoch"], c["global_step"])' "$CKPT" 2>>"$LOGS/train_killed.log"
}

TRAIN_OK=0
if [ "$HAVE_DATA" = 1 ]; then
    log=$LOGS/train_killed.log
    start=$SECONDS
    "${TRAIN[@]}" >"$log" 2>&1 &
    pid=$!
    BACKGROUND+=("$pid")
    while kill -0 "$pid" 2>/dev/null && [ ! -f "$CKPT" ] && [ $((SECONDS - start)) -lt 300 ]; do sleep 0.05; done
    killed=0
    if [ -f "$CKPT" ] && kill -0 "$pid" 2>/dev/null; then
        kill -KILL "$pid" && killed=1
    elif kill -0 "$pid" 2>/dev/null; then
        kill -KILL "$pid"  # no checkpoint in 300 s
    fi
    wait "$pid" 2>/dev/null
    status=$?
    state=$(checkpoint_state)
    if [ "$killed" = 1 ] && [ "${state%% *}" = 0 ]; then
        first_step=${state##* }
        pass train_killed "SIGKILL $((SECONDS - start)) s in, after the epoch-1 checkpoint (step $first_step)"
        log=$LOGS/train_resumed.log
        start=$SECONDS
        step 300 "$log" "${TRAIN[@]}" --resume
        status=$?
        state=$(checkpoint_state)
        if [ "$status" -ne 0 ]; then
            fail train_resumed "$(why "$status" "$log")" "$log"
        elif [ "$state" != "1 $((2 * first_step))" ]; then
            fail train_resumed "last.ckpt holds epoch/step '$state', expected '1 $((2 * first_step))'" "$log"
        elif ! py 120 "$LOGS/train_weights.log" "$RUN/best.safetensors" <<'EOF'
import sys, torch, refineseg
model = refineseg.load_model(sys.argv[1])
assert all(torch.isfinite(p).all() for p in model.state_dict().values() if p.is_floating_point()), "non-finite weights"
p = model.meta.provenance
print(f"val mIoU {100 * p['val_miou']:.1f}% after epoch {p['epoch'] + 1}")
EOF
        then
            fail train_resumed "best.safetensors: $(tail -n 1 "$LOGS/train_weights.log")"
        else
            TRAIN_OK=1
            pass train_resumed "epoch 2 of 2 from the checkpoint in $((SECONDS - start)) s, step $((2 * first_step)); $ARCH, $PRECISION, $(tail -n 1 "$LOGS/train_weights.log")"
        fi
    elif [ "$killed" = 1 ]; then
        fail train_killed "killed, but last.ckpt holds epoch/step '$state', not epoch 1's" "$log"
    elif [ "$status" -eq 0 ]; then
        fail train_killed "the run finished before it could be killed: raise GPU_CHECK_TRAIN_IMAGES" "$log"
    else
        fail train_killed "no checkpoint: $(why "$status" "$log")" "$log"
    fi
else
    fail train_killed "no dataset"
fi
[ "$TRAIN_OK" = 1 ] || [ "$HAVE_DATA" = 0 ] || echo "note: train_resumed not run"

# -- evaluate on the GPU, distributed, and against the CPU ------------------------------------
EVAL=("$PY" -m refineseg evaluate --dataset camvid --root "$SUB" --split val --no-progress)
miou() {
    "$PY" - "$1" 2>/dev/null <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
print(f"{100 * r['miou']:.2f}% mIoU on {r['num_images']} images")
EOF
}
GPU_JSON=$WORK/eval_gpu.json
DDP_JSON=$WORK/eval_ddp.json
CPU_JSON=$WORK/eval_cpu.json
if [ "$HAVE_DATA" = 1 ]; then
    log=$LOGS/evaluate_gpu.log
    step 300 "$log" "${EVAL[@]}" --output "$GPU_JSON" --accelerator "$ACCEL" --devices 1
    status=$?
    if [ "$status" -eq 0 ]; then pass evaluate_gpu "$(miou "$GPU_JSON")"; else fail evaluate_gpu "$(why "$status" "$log")" "$log"; fi

    log=$LOGS/evaluate_ddp.log
    step 300 "$log" "${EVAL[@]}" --output "$DDP_JSON" --accelerator "$ACCEL" --devices 1 --strategy ddp
    status=$?
    if [ "$status" -ne 0 ]; then
        fail evaluate_ddp "$(why "$status" "$log")" "$log"
    elif [ -f "$GPU_JSON" ] && ! out=$("$PY" - "$GPU_JSON" "$DDP_JSON" 2>&1 <<'EOF'
import json, sys
single, ddp = (json.load(open(p))["miou"] for p in sys.argv[1:3])
if abs(single - ddp) * 100 > 0.05:
    raise SystemExit(f"ddp mIoU {100 * ddp:.3f}% against {100 * single:.3f}% on one process")
EOF
    ); then
        fail evaluate_ddp "$out"
    else
        pass evaluate_ddp "strategy ddp on 1 device: $(miou "$DDP_JSON"), as on one process"
    fi

    log=$LOGS/evaluate_cpu.log
    step 400 "$log" "${EVAL[@]}" --output "$CPU_JSON" --device cpu
    status=$?
    if [ "$status" -ne 0 ]; then
        fail miou_gpu_vs_cpu "evaluate --device cpu: $(why "$status" "$log")" "$log"
    elif [ ! -f "$GPU_JSON" ]; then
        fail miou_gpu_vs_cpu "no GPU evaluation to compare"
    elif out=$("$PY" - "$CPU_JSON" "$GPU_JSON" 2>&1 <<'EOF'
import json, sys
cpu, gpu = (json.load(open(p)) for p in sys.argv[1:3])
diff = abs(gpu["miou"] - cpu["miou"]) * 100
worst = max(abs((g or 0) - (c or 0)) * 100 for c, g in zip(cpu["per_class_iou"].values(), gpu["per_class_iou"].values()))
print(f"GPU {100 * gpu['miou']:.3f}%, CPU {100 * cpu['miou']:.3f}%: {diff:.3f} points apart (largest class: "
      f"{worst:.3f}), {gpu['num_images']} val images")
raise SystemExit(0 if diff <= 0.05 and gpu["num_images"] == cpu["num_images"] else 1)
EOF
    ); then
        pass miou_gpu_vs_cpu "$out"
    else
        fail miou_gpu_vs_cpu "$out"
    fi
else
    fail evaluate_gpu "no dataset"
fi

# -- predict ----------------------------------------------------------------------------------
PRED=$WORK/predict
# agreement A.png B.png MIN: the share of equal pixels, exit 1 below MIN
agreement() {
    "$PY" - "$@" 2>&1 <<'EOF'
import sys
import numpy as np
from PIL import Image
a, b = (np.asarray(Image.open(p)) for p in sys.argv[1:3])
if a.shape != b.shape:
    raise SystemExit(f"sizes differ: {a.shape} and {b.shape}")
share = float((a == b).mean())
print(f"{100 * share:.3f}% of pixels as {sys.argv[2].rsplit('/', 2)[-2]}/{sys.argv[2].rsplit('/', 1)[-1]}")
raise SystemExit(0 if share >= float(sys.argv[3]) else 1)
EOF
}
log=$LOGS/predict_gpu.log
inputs=("$REPO/docs/images/street.jpg")
if [ "$HAVE_DATA" = 1 ]; then
    while read -r image; do inputs+=("$image"); done < <(find "$SUB/val" -name '*.png' | sort | head -n 3)
fi
step 300 "$log" "$PY" -m refineseg predict "${inputs[@]}" --output "$PRED" --accelerator "$ACCEL" --precision fp32 --no-progress
status=$?
written=$(find "$PRED" -name '*.png' 2>/dev/null | wc -l)
if [ "$status" -ne 0 ]; then
    fail predict_gpu "$(why "$status" "$log")" "$log"
elif [ "$written" -ne "${#inputs[@]}" ]; then
    fail predict_gpu "$written label PNGs for ${#inputs[@]} inputs" "$log"
elif out=$(agreement "$PRED/street.png" "$REPO/docs/images/street.png" 0.995); then
    pass predict_gpu "${#inputs[@]} images; street.png: $out"
else
    fail predict_gpu "street.png: $out"
fi

# -- serve ------------------------------------------------------------------------------------
log=$LOGS/serve_gpu.log
# post URL FILE OUT: the file as the request body; prints the HTTP status
post() {
    if command -v curl >/dev/null; then
        curl -s --max-time 120 --data-binary @"$2" -o "$3" -w '%{http_code}' "$1"
    else
        "$PY" -c 'import sys, urllib.request as u
r = u.urlopen(u.Request(sys.argv[1], data=open(sys.argv[2], "rb").read(), method="POST"), timeout=120)
open(sys.argv[3], "wb").write(r.read()); print(r.status)' "$@" 2>/dev/null
    fi
}
get() {
    if command -v curl >/dev/null; then
        curl -sf --max-time 5 "$1"
    else
        "$PY" -c 'import sys, urllib.request as u; print(u.urlopen(sys.argv[1], timeout=5).read().decode())' "$1" 2>/dev/null
    fi
}
"$PY" -m refineseg serve --device "$DEVICE" --precision fp32 --port 0 --quiet >"$log" 2>&1 &
spid=$!
BACKGROUND+=("$spid")
url=""
start=$SECONDS
while [ $((SECONDS - start)) -lt 180 ] && kill -0 "$spid" 2>/dev/null; do
    url=$(grep -o 'http://127\.0\.0\.1:[0-9]*' "$log" | head -n 1)
    if [ -n "$url" ] && get "$url/healthz" 2>/dev/null | grep -q ok; then break; fi
    url=""
    sleep 0.2
done
if [ -z "$url" ]; then
    fail serve_gpu "no answer from /healthz in $((SECONDS - start)) s" "$log"
else
    code=$(post "$url/api/segment?format=png" "$REPO/docs/images/street.jpg" "$WORK/serve.png")
    if [ "$code" != 200 ]; then
        fail serve_gpu "POST /api/segment answered HTTP ${code:-nothing}" "$log"
    elif [ ! -f "$PRED/street.png" ]; then
        fail serve_gpu "answered, but predict wrote no street.png to compare with"
    elif out=$(agreement "$WORK/serve.png" "$PRED/street.png" 0.999); then
        pass serve_gpu "--device $DEVICE at $url: /healthz ok, the POSTed street.jpg's labels: $out"
    else
        fail serve_gpu "labels: $out"
    fi
fi
kill -INT "$spid" 2>/dev/null
for _ in $(seq 50); do kill -0 "$spid" 2>/dev/null || break; sleep 0.2; done
kill -KILL "$spid" 2>/dev/null
wait "$spid" 2>/dev/null

# -- export from a CUDA model -----------------------------------------------------------------
EXPORT=$WORK/export
mkdir -p "$EXPORT"
for format in onnx pt2; do
    log=$LOGS/export_$format.log
    py 300 "$log" "$format" "$EXPORT" "$DEVICE" "$REPO/docs/images/street.jpg" <<'EOF'
import sys
from pathlib import Path

import torch

import refineseg
from refineseg.inference import load_image
from refineseg.inference.export import export_onnx, export_torch_export
from refineseg.inference.runtime import load_exported

fmt, out, device, image = sys.argv[1], Path(sys.argv[2]), torch.device(sys.argv[3]), sys.argv[4]
model = refineseg.load_model("camvid").to(device).eval()
export = export_onnx if fmt == "onnx" else export_torch_export
report = export(model, out / f"camvid.{fmt}", example_size=(360, 480))
moved = [n for n, p in model.named_parameters() if p.device.type != device.type]
assert not moved, f"the export moved the model off {device}: {moved[:3]}"
rgb = torch.from_numpy(load_image(image).copy()).permute(2, 0, 1)[None].float() / 255
mean, std = (torch.tensor(v).view(1, 3, 1, 1) for v in (model.meta.mean, model.meta.std))
x = (rgb - mean) / std
exported = load_exported(report.path)
with torch.inference_mode():
    on_device = model(x.to(device)).cpu()
    from_file = exported(x)
agree = (on_device.argmax(1) == from_file.argmax(1)).float().mean().item()
assert agree >= 0.995, f"the file's labels agree with the {device} model's on {100 * agree:.2f}% of pixels"
extra = ""
if fmt == "pt2" and device.type == "cuda":
    try:  # informative: the program moved to the GPU
        exported.module.to(device)(x.to(device))
        extra = "; the program also runs on cuda"
    except Exception as exc:
        extra = f"; the program does not run on cuda ({type(exc).__name__})"
print(f"{report.path.stat().st_size / 2**20:.0f} MB, max|diff| {report.max_diff:.1e} of the largest logit "
      f"against PyTorch, labels as the {device} model's on {100 * agree:.2f}% of street.jpg{extra}")
EOF
    status=$?
    if [ "$status" -eq 0 ]; then pass "export_$format" "$(tail -n 1 "$log")"; else fail "export_$format" "$(why "$status" "$log")" "$log"; fi
done

# -- benchmark --------------------------------------------------------------------------------
if [ "$BENCH" != 0 ]; then
    log=$LOGS/benchmark.log
    bench=(--device "$DEVICE" --json "$WORK/gpu_benchmark.json" --markdown "$WORK/gpu_benchmark.md")
    if [ -n "${REFINESEG_REFINENET_PYTORCH:-}" ]; then bench+=(--refinenet-pytorch "$REFINESEG_REFINENET_PYTORCH"); fi
    if [ "$DRY" = cpu ]; then
        bench+=(--steps 1 --warmup 0 --repeats 1 --no-compile --size 32 32 --crop 32 32 --image-size 32 48 --batch-size 2)
    fi
    # shellcheck disable=SC2086  # GPU_BENCH_ARGS: several arguments
    step 420 "$log" "$PY" "$REPO/benchmarks/gpu.py" "${bench[@]}" ${GPU_BENCH_ARGS:-}
    status=$?
    if [ "$status" -eq 0 ]; then
        pass benchmark "$(head -n 1 "$log" | cut -c1-160)"
    else
        fail benchmark "$(why "$status" "$log")" "$log"
    fi
    if [ -f "$WORK/gpu_benchmark.md" ]; then
        echo
        cat "$WORK/gpu_benchmark.md"
        echo
    fi
fi

finish
