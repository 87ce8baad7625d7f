#!/usr/bin/env bash
# The installed package, not the checkout: build the wheel and the sdist, check both carry the shipped parent,
# install the wheel into a fresh virtual environment outside the checkout, and from another folder run OSVOS(),
# `osvos segment` on a tiny clip and `osvos demo`, asserting that the shipped parent (from the venv) was used.
# The venv sees the already-installed dependencies (--system-site-packages, so TensorFlow is not downloaded
# again); osvos_tf itself must come from the wheel, which the checks below assert.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
python3 -m build --outdir "$work/dist" "$repo" > "$work/build.log" 2>&1 || { tail -30 "$work/build.log"; exit 1; }
wheel=$(ls "$work"/dist/*.whl)
sdist=$(ls "$work"/dist/*.tar.gz)
python3 -m zipfile -l "$wheel" > "$work/wheel.txt"
tar tzf "$sdist" > "$work/sdist.txt"
grep -q "osvos_tf/parents/osvos_parent.h5" "$work/wheel.txt" || { echo "wheel lacks the parent"; exit 1; }
grep -q "osvos_tf/parents/osvos_parent.h5" "$work/sdist.txt" || { echo "sdist lacks the parent"; exit 1; }
echo "wheel: $(basename "$wheel") $(du -h "$wheel" | cut -f1); sdist: $(du -h "$sdist" | cut -f1)"
python3 -m venv --system-site-packages "$work/venv"
"$work/venv/bin/python" -m pip install -q --no-deps "$wheel"
mkdir "$work/elsewhere"
cd "$work/elsewhere"
export TF_CPP_MIN_LOG_LEVEL=2
"$work/venv/bin/python" - "$work/venv" <<'PY'
import sys
from pathlib import Path

import osvos_tf
from osvos_tf import OSVOS
from osvos_tf.config import FineTuneConfig
from osvos_tf.synthetic import write_clip

venv = Path(sys.argv[1]).resolve()
assert venv in Path(osvos_tf.__file__).resolve().parents, f"osvos_tf imported from {osvos_tf.__file__}, not the venv"
osvos = OSVOS(config=FineTuneConfig(iterations=0))
assert osvos.source == "osvos_davis2016_cpu", osvos.source
assert venv in osvos.parent.path.resolve().parents, osvos.parent.path
write_clip("clip", n_frames=3, height=48, width=64)
print("OSVOS() loaded the shipped parent from", osvos.parent.path)
PY
out=$("$work/venv/bin/osvos" segment --frames clip/frames --mask clip/masks/00000.png --out masks --iterations 2)
echo "$out"
grep -q "network: osvos_davis2016_cpu" <<< "$out" || { echo "osvos segment did not use the shipped parent"; exit 1; }
[ "$(ls masks/*.png | wc -l)" -eq 3 ] || { echo "expected 3 masks"; exit 1; }
demo=$("$work/venv/bin/osvos" demo --out demo --iterations 5)  # the README's main job, from the wheel
echo "$demo"
grep -q "network: osvos_davis2016_cpu" <<< "$demo" || { echo "osvos demo did not use the shipped parent"; exit 1; }
echo "wheel check passed"
