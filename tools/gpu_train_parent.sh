#!/usr/bin/env bash
# The prepared GPU command of parent training (issue #14): JAX, no TensorFlow.
#
#   bash tools/gpu_train_parent.sh PACK RECIPE EXPORT SECONDS
#
# PACK     a packed train set (tools/pack_davis.py; default .pack/davis_train, carried to the GPU machine)
# RECIPE   a ParentTrainConfig JSON (default checkpoints/parent_gpu_recipe.json)
# EXPORT   where the checkpoint parts, parent.json and train_log.json go (default $OUT, the folder that comes
#          back from the GPU machine)
# SECONDS  the schedule is compressed to end within this many seconds (default 420); training stops at
#          SECONDS + 30 whatever happens, then saves
#
# On the GPU machine Keras, namex and optree are missing: carried as wheels in .whl/ (see checkpoints/README.md)
# and installed into /tmp/site. The same command runs on a CPU with JAX (the smoke test in
# tests/test_jax_parent.py), where Keras is already installed.
set -euo pipefail
pack=${1:-.pack/davis_train}
recipe=${2:-checkpoints/parent_gpu_recipe.json}
export_dir=${3:-${OUT:?set OUT or pass EXPORT}}
seconds=${4:-420}
run_dir=${OSVOS_JAX_RUN_DIR:-$(mktemp -d /tmp/osvos_parent_run.XXXXXX)}
export KERAS_BACKEND=jax PYTHONUNBUFFERED=1
if ! python3 -c "import keras" 2>/dev/null; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
    export PYTHONPATH="/tmp/site${PYTHONPATH:+:$PYTHONPATH}"
fi
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
# fail in seconds, not minutes: JAX falls back to the CPU silently when it finds no GPU
python3 -c "
import os, sys, jax, keras
print('jax', jax.__version__, jax.devices(), '| keras', keras.__version__, keras.backend.backend())
if jax.default_backend() == 'cpu' and os.environ.get('JAX_PLATFORMS') != 'cpu':
    sys.exit('error: JAX found no GPU (set JAX_PLATFORMS=cpu to train on the CPU on purpose)')
"
exec python3 tools/train_parent_jax.py --pack "$pack" --config "$recipe" --out "$run_dir" --export "$export_dir" \
    --fit-schedule-s "$seconds" --max-seconds "$((seconds + 30))" ${OSVOS_JAX_EXTRA_ARGS:-}
