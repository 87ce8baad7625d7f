"""The JAX parent trainer (issue #14): its schedule fitting, data stream and recipe checks here, and the
prepared GPU command (tools/gpu_train_parent.sh) run end to end on JAX's CPU backend on a tiny packed set,
its checkpoint joined and loaded by the TensorFlow side."""

import json
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest

from osvos_tf.config import ParentTrainConfig, save_config

REPO = Path(__file__).resolve().parent.parent


def test_scaled_schedule_keeps_the_original_proportions():
    original = ParentTrainConfig()  # 15k / 30k / 50k phases, lr drops at 10k, 15k, 25k, 30k, 40k
    scaled = original.scaled_to(6000)
    assert scaled.phase_steps == (1800, 3600, 6000)
    assert scaled.lr_boundaries == (1200, 1800, 3000, 3600, 4800)
    assert scaled.lr_values == original.lr_values and scaled.side_weights == original.side_weights
    assert scaled.lr_at(1199) == original.lr_values[0] and scaled.lr_at(1200) == original.lr_values[1]
    assert scaled.side_weight_at(3599) == 0.5 and scaled.side_weight_at(3600) == 0.0
    with pytest.raises(ValueError, match="number of phases"):
        original.scaled_to(2)


def _stream(seed=0, n=7, **kw):
    from osvos_tf.jax_parent import DataStream

    return DataStream(n, ParentTrainConfig(crop=None, accumulate=3, seed=seed, **kw))


def test_data_stream_is_a_function_of_seed_and_position():
    a, b = _stream(), _stream()
    draws = [d for u in range(7) for d in a.update(u)]  # 21 images = 3 epochs of 7
    assert [b.draw(p) for p in reversed(range(21))][::-1] == draws  # any order of asking: the same draws
    for epoch in range(3):
        assert sorted(d.index for d in draws[epoch * 7 : (epoch + 1) * 7]) == list(range(7))  # permutations
    assert {d.scale for d in draws} == {0, 1, 2} and {d.flip for d in draws} == {False, True}
    assert [d.index for d in _stream(seed=1).update(0)] != [d.index for d in draws[:3]] or [
        d.flip for d in _stream(seed=1).update(0)
    ] != [d.flip for d in draws[:3]]
    assert not any(d.flip for u in range(5) for d in _stream(flip=False).update(u))


def test_the_trainer_refuses_tensorflow_and_crops(tmp_path):
    from osvos_tf.jax_parent import check_jax_recipe, train_parent_jax

    with pytest.raises(RuntimeError, match="KERAS_BACKEND=jax"):
        train_parent_jax(tmp_path / "pack", tmp_path / "run", ParentTrainConfig(crop=None))
    with pytest.raises(ValueError, match="whole frames"):
        check_jax_recipe(ParentTrainConfig(crop=(224, 288), micro_batch=1))
    with pytest.raises(ValueError, match="compute_dtype"):
        ParentTrainConfig(compute_dtype="auto").validate()


@pytest.mark.slow
def test_the_prepared_gpu_command_runs_on_cpu_and_its_checkpoint_loads_in_tensorflow(tmp_path):
    pytest.importorskip("jax", reason="jax is not installed (pip install -e '.[test]' installs it)")
    pytest.importorskip("av", reason="PyAV is needed to pack (pip install -e '.[pack]')")
    from osvos_tf.file_parts import join_parts
    from osvos_tf.packed_davis import pack_davis
    from osvos_tf.parents import preset_path
    from osvos_tf.synthetic import write_davis_tree
    from osvos_tf.weights import read_checkpoint

    root = write_davis_tree(tmp_path / "davis", ("a", "b"), 4, 48, 64, image_set="train", db_info=False, seed=0)
    pack_davis(root, tmp_path / "pack", progress=False)
    recipe = ParentTrainConfig(
        phase_steps=(2, 4),
        side_weights=(1.0, 0.0),
        lr_boundaries=(3,),
        lr_values=(4e-3, 4e-4),
        accumulate=2,
        crop=None,
        scales=(0.5, 1.0),
        compute_dtype="bfloat16",  # as the GPU recipe
        init_checkpoint="osvos_davis2016_cpu",
    )
    save_config(recipe, tmp_path / "recipe.json")
    env = {
        **os.environ,
        "JAX_PLATFORMS": "cpu",
        "OSVOS_JAX_RUN_DIR": str(tmp_path / "run"),
        "OSVOS_JAX_EXTRA_ARGS": "--log-every-s 0 --probe-s 0",
        "TF_CPP_MIN_LOG_LEVEL": "3",
    }
    command = ["bash", "tools/gpu_train_parent.sh", str(tmp_path / "pack"), str(tmp_path / "recipe.json")]
    proc = subprocess.run([*command, str(tmp_path / "export"), "60"], cwd=REPO, env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    assert "images/s" in proc.stdout and "TFLOP/s achieved" in proc.stdout  # the throughput line
    assert "compiled the 24x32 step" in proc.stdout and "compiled the 48x64 step" in proc.stdout

    export = tmp_path / "export"
    record = json.loads((export / "parent.json").read_text())
    assert record["step"] == 4 and record["finished"] and record["backend"] == "jax"
    assert record["config"]["init_checkpoint"] == "osvos_davis2016_cpu"  # recorded by name, not by path
    assert record["data"]["pairs"] == 8 and record["data"]["sequences"] == 2
    log = json.loads((export / "train_log.json").read_text())
    assert [h["step"] for h in log["history"] if "loss" in h] == [0, 1, 2, 3]
    assert len(list(export.iterdir())) <= 8  # what the GPU machine sends back

    joined = join_parts(export / "parent.h5.parts.json")
    weights, _ = read_checkpoint(joined)
    start, _ = read_checkpoint(preset_path("osvos_davis2016_cpu"))
    moved = [name for name in weights if not np.array_equal(weights[name][0], start[name][0])]
    assert "block1_conv1" in moved and "fuse" in moved
    assert all(np.all(np.isfinite(a)) for arrays in weights.values() for a in arrays)

    from osvos_tf import OSVOS
    from osvos_tf.synthetic import synthetic_clip

    frames, _ = synthetic_clip(n_frames=1, height=48, width=64, seed=0)
    osvos = OSVOS.from_checkpoint(joined)
    (_, probs), *_ = list(osvos.segment(frames))
    assert probs.shape == (48, 64) and np.all((probs >= 0) & (probs <= 1))
