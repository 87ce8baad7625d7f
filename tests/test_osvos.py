"""The one-shot API: fine-tuning a copy, segmenting lazily, multi-frame fit, bad input."""

import dataclasses

import numpy as np
import pytest

from osvos_tf import OSVOS
from osvos_tf.config import FineTuneConfig


def iou(pred, gt):
    union = (pred | gt).sum()
    return (pred & gt).sum() / union if union else 1.0


@pytest.fixture(scope="module")
def base():
    return OSVOS.from_base_weights("hed", FineTuneConfig(iterations=60))


def test_finetuning_lifts_iou_far_above_the_unfinetuned_model(base, clip):
    frames, masks = clip
    before = [iou(p > 0.5, m) for p, m in zip((p for _, p in base.segment(frames[1:])), masks[1:])]
    parent_fuse = np.asarray(base._model.get_layer("fuse").kernel).copy()
    state = base.fit_one_shot(frames[0], masks[0], progress=False)
    after = [iou(p > 0.5, m) for p, m in zip((p for _, p in base.segment(frames[1:])), masks[1:])]
    assert state.iterations == 60 and len(state.losses) == 60
    assert np.mean(state.losses[-10:]) < np.mean(state.losses[:10])
    assert np.mean(after) > 0.75, (np.mean(before), np.mean(after))
    assert np.mean(after) > np.mean(before) + 0.3
    # the parent is untouched: reset() gives back the unfine-tuned predictions
    np.testing.assert_array_equal(base.parent_weights["fuse"][0], parent_fuse)
    base.reset()
    again = [iou(p > 0.5, m) for p, m in zip((p for _, p in base.segment(frames[1:3])), masks[1:3])]
    np.testing.assert_allclose(again, before[:2])


def test_segment_yields_lazily_float32_probabilities(base, clip):
    frames, _ = clip
    consumed = []

    def gen():
        for i, f in enumerate(frames[:4]):
            consumed.append(i)
            yield f

    it = base.segment(gen())
    index, first = next(it)
    assert index == 0 and first.dtype == np.float32 and first.shape == frames[0].shape[:2]
    assert 0.0 <= first.min() and first.max() <= 1.0
    assert len(consumed) <= 2  # one frame in flight, one being decoded ahead
    assert len(list(it)) == 3


def test_mixed_frame_sizes_raise(base, clip):
    frames, _ = clip
    with pytest.raises(ValueError, match="same size"):
        list(base.segment([frames[0], frames[1][:-2]]))


def test_fit_rejects_bad_masks(base, clip):
    frames, masks = clip
    with pytest.raises(ValueError, match="differs"):
        base.fit_one_shot(frames[0], masks[0][:, :-1], progress=False)
    with pytest.raises(ValueError, match="nothing to fine-tune"):
        base.fit_one_shot(frames[0], np.zeros_like(masks[0]), progress=False)
    with pytest.raises(ValueError, match="nothing to fine-tune"):
        base.fit_one_shot(frames[0], np.ones_like(masks[0]), progress=False)
    with pytest.raises(ValueError, match="as many masks"):
        base.fit(frames[:2], masks[:1])


def test_fit_several_frames_and_budget_and_save(base, clip, tmp_path):
    frames, masks = clip
    state = base.fit([frames[0], frames[5]], [masks[0], masks[5]], iterations=200, time_budget_s=1.0, progress=False)
    assert state.stopped_by_budget and 0 < state.iterations < 200
    assert state.annotated_shapes == (masks[0].shape, masks[5].shape)
    path = base.save(tmp_path / "video.h5")
    reloaded = OSVOS.from_checkpoint(path)
    a = next(base.segment(frames[2:3]))[1]
    b = next(reloaded.segment(frames[2:3]))[1]
    np.testing.assert_array_equal(a, b)


def test_tensorboard_logging(base, clip, tmp_path):
    frames, masks = clip
    base.fit_one_shot(frames[0], masks[0], iterations=3, log_dir=tmp_path / "tb", progress=False)
    assert list((tmp_path / "tb").glob("events.out.tfevents.*"))
    import json

    record = json.loads((tmp_path / "tb" / "config.json").read_text())
    assert record["type"] == "FineTuneConfig" and record["iterations"] == 3
    assert record["_extra"]["parent"] == {"id": "base:hed", "kind": "base", "sha256": None}  # no machine path


def test_iterations_zero_keeps_the_parent(base, clip):
    frames, masks = clip
    base.reset()
    before = next(base.segment(frames[1:2]))[1]
    base.fit_one_shot(frames[0], masks[0], iterations=0, progress=False)
    np.testing.assert_array_equal(next(base.segment(frames[1:2]))[1], before)


def test_config_json_round_trip(tmp_path):
    from osvos_tf.config import ParentTrainConfig, load_config, save_config

    for cfg in (FineTuneConfig(iterations=7, scales=(1.0,)), ParentTrainConfig(crop=(64, 96), micro_batch=2)):
        save_config(cfg, tmp_path / "c.json")
        assert load_config(tmp_path / "c.json") == cfg
    with pytest.raises(ValueError, match="Unknown"):
        from osvos_tf.config import config_from_dict

        config_from_dict({"type": "FineTuneConfig", "bogus": 1})
    assert dataclasses.is_dataclass(FineTuneConfig())


def test_freeze_blocks_keeps_early_layers_and_still_learns(clip):
    frames, masks = clip
    osvos = OSVOS.from_base_weights("hed", FineTuneConfig(iterations=60, freeze_blocks=2))
    before = np.asarray(osvos._model.get_layer("block2_conv2").kernel).copy()
    before3 = np.asarray(osvos._model.get_layer("block3_conv1").kernel).copy()
    osvos.fit_one_shot(frames[0], masks[0], progress=False)
    np.testing.assert_array_equal(osvos._model.get_layer("block2_conv2").kernel, before)
    assert not np.array_equal(np.asarray(osvos._model.get_layer("block3_conv1").kernel), before3)
    after = [iou(p > 0.5, m) for p, m in zip((p for _, p in osvos.segment(frames[1:])), masks[1:])]
    assert np.mean(after) > 0.75


def test_adam_option_takes_adam_steps(clip):
    """Adam's first update moves each weight by learning_rate * |g| / (|g| + 1e-7) (m/sqrt(v) = g/|g|): at most
    the learning rate, and the learning rate itself wherever the gradient is well above Adam's epsilon."""
    from osvos_tf.config import LrMultipliers

    frames, masks = clip
    config = FineTuneConfig(
        iterations=1,
        optimizer="adam",
        learning_rate=1e-3,
        weight_decay=0.0,
        scales=(1.0,),
        flip=False,
        lr_multipliers=LrMultipliers(1, 1, 1, 1, 1, 1),
    )
    osvos = OSVOS.from_base_weights("hed", config)
    before = np.asarray(osvos._model.get_layer("fuse").kernel).copy()
    osvos.fit_one_shot(frames[0], masks[0], progress=False)
    step = np.abs(np.asarray(osvos._model.get_layer("fuse").kernel) - before)
    assert step.max() <= 1e-3 * (1 + 1e-4), step.max()
    np.testing.assert_allclose(np.median(step), 1e-3, rtol=1e-3)
    assert (step > 0.9e-3).mean() > 0.9, np.sort(step.ravel())[:8]
    with pytest.raises(ValueError, match="one of \\('sgd', 'adam'\\), got 'rmsprop'"):
        FineTuneConfig(optimizer="rmsprop")


@pytest.mark.slow
def test_bfloat16_fine_tuning_learns_and_matches_float32(clip, tmp_path):
    """The bfloat16 option trains the same float32 weights: from the same parent, after the same 40 updates,
    its masks agree with the float32 run's on almost every pixel and fit the object as well."""
    frames, masks = clip
    parent = OSVOS.from_base_weights("hed").save(tmp_path / "parent.h5")  # one draw of the new layers for both
    runs = {}
    for dtype in ("float32", "bfloat16"):
        osvos = OSVOS(checkpoint=parent, config=FineTuneConfig(iterations=40, compute_dtype=dtype))
        osvos.fit_one_shot(frames[0], masks[0], progress=False)
        runs[dtype] = [p > 0.5 for _, p in osvos.segment(frames[1:])]
        assert osvos._model.get_layer("fuse").kernel.dtype == "float32"
    ious = {d: np.mean([iou(p, m) for p, m in zip(r, masks[1:])]) for d, r in runs.items()}
    assert ious["bfloat16"] > 0.75 and abs(ious["bfloat16"] - ious["float32"]) < 0.02, ious
    agree = np.mean([np.mean(a == b) for a, b in zip(runs["float32"], runs["bfloat16"])])
    assert agree > 0.99, agree  # measured 0.9999 and 0.99998
    with pytest.raises(ValueError, match="compute_dtype must be one of"):
        FineTuneConfig(compute_dtype="float16")


def test_fit_callback_sees_the_network_after_each_update(clip, tmp_path):
    """callback(n, probs) runs after update n with the weights of that point: the probabilities it gives at
    n = 3 are those of a separate 3-update run from the same parent and seed, and n goes 1..iterations."""
    frames, masks = clip
    parent = OSVOS.from_base_weights("hed").save(tmp_path / "parent.h5")  # one draw of the new layers for both
    seen, at3 = [], {}

    def callback(n, probs):
        seen.append(n)
        if n == 3:
            at3["probs"] = probs(frames[1])

    osvos = OSVOS(checkpoint=parent, config=FineTuneConfig(iterations=5))
    osvos.fit_one_shot(frames[0], masks[0], progress=False, callback=callback)
    assert seen == [1, 2, 3, 4, 5]
    after5 = next(iter(osvos.segment(frames[1:2])))[1]
    separate = OSVOS(checkpoint=parent, config=FineTuneConfig(iterations=3))
    separate.fit_one_shot(frames[0], masks[0], progress=False)
    reference = next(iter(separate.segment(frames[1:2])))[1]
    assert at3["probs"].dtype == np.float32 and at3["probs"].shape == masks[1].shape
    np.testing.assert_allclose(at3["probs"], reference, atol=1e-4)
    assert np.abs(after5 - reference).max() > 1e-3  # later updates changed it: the callback saw update 3


def test_fit_keeps_earlier_states_equal_to_shorter_runs(clip, tmp_path):
    """fit(keep_at=[2]) keeps the network after update 2 in state.earlier[2]: the same weights, losses and
    predictions as a separate 2-update fit from the same parent and seed, with its own config and time."""
    frames, masks = clip
    parent = OSVOS.from_base_weights("hed").save(tmp_path / "parent.h5")
    osvos = OSVOS(checkpoint=parent, config=FineTuneConfig(iterations=4))
    state = osvos.fit_one_shot(frames[0], masks[0], progress=False, keep_at=[2, 4, 9])
    assert set(state.earlier) == {2}  # 4 is the state itself, 9 was never reached
    early = state.earlier[2]
    assert early.iterations == 2 and early.config == dataclasses.replace(state.config, iterations=2)
    assert early.losses == state.losses[:2] and early.step_seconds == state.step_seconds[:2]
    assert 0 < early.seconds < state.seconds and early.earlier == {}
    separate = OSVOS(checkpoint=parent, config=FineTuneConfig(iterations=2))
    reference = separate.fit_one_shot(frames[0], masks[0], progress=False)
    assert reference.losses == pytest.approx(early.losses, rel=1e-5)
    for name, arrays in reference.weights.items():
        for got, want in zip(early.weights[name], arrays):
            np.testing.assert_allclose(got, want, atol=1e-6, err_msg=name)
    probs_early = next(iter(osvos.segment(frames[1:2], state=early)))[1]
    probs_final = next(iter(osvos.segment(frames[1:2])))[1]  # the final state is still the current one
    np.testing.assert_allclose(probs_early, next(iter(separate.segment(frames[1:2])))[1], atol=1e-5)
    assert np.abs(probs_final - probs_early).max() > 1e-3
    for bad in (0, -1, 2.5, True):
        with pytest.raises(ValueError, match="keep_at takes positive update counts"):
            osvos.fit_one_shot(frames[0], masks[0], progress=False, keep_at=[bad])


# -- re-entrancy, subsets, configs, typed state --------------------------------------------------------------
@pytest.fixture(scope="module")
def two_states(base, clip):
    frames, masks = clip
    a = base.fit_one_shot(frames[0], masks[0], iterations=4, progress=False)
    b = base.fit_one_shot(frames[5], masks[5], iterations=4, seed=7, progress=False)
    return a, b


def test_interleaved_generators_each_keep_their_state(base, clip, two_states):
    """g1 (state a) and g2 (state b) consumed alternately, with a fit in between, give exactly what each
    gives when run alone: a generator keeps the weights it was started with."""
    frames, masks = clip
    a, b = two_states
    alone_a = [p for _, p in base.segment(frames, state=a)]
    alone_b = [p for _, p in base.segment(frames, state=b)]
    assert max(np.abs(x - y).max() for x, y in zip(alone_a, alone_b)) > 1e-3  # the two states differ
    g1, g2 = base.segment(frames, state=a), base.segment(frames, state=b)
    g_latest = base.segment(frames)  # started now: the latest fit (b), whatever fit runs later
    got1, got2, got_latest = [], [], []
    for step in range(len(frames)):
        got1.append(next(g1)[1])
        got2.append(next(g2)[1])
        if step == 2:
            base.fit_one_shot(frames[1], masks[1], iterations=2, progress=False)  # a fit while all are alive
        got_latest.append(next(g_latest)[1])
    for i in range(len(frames)):
        np.testing.assert_array_equal(got1[i], alone_a[i])
        np.testing.assert_array_equal(got2[i], alone_b[i])
        np.testing.assert_array_equal(got_latest[i], alone_b[i])


def test_segment_yields_indices_and_segments_a_subset(base, clip, two_states):
    frames, _ = clip
    a, _ = two_states
    full = dict(base.segment(frames, state=a))
    assert sorted(full) == list(range(len(frames)))
    subset = list(base.segment(frames, state=a, indices=[7, 2, 2, 4]))
    assert [i for i, _ in subset] == [2, 4, 7]
    for i, probs in subset:
        np.testing.assert_array_equal(probs, full[i])
    assert [i for i, _ in base.segment(iter(frames), state=a, indices={1})] == [1]  # also from a generator
    with pytest.raises(ValueError, match="Frame index 99 is out of range: there are 10 frames"):
        base.segment(frames, indices=[99])
    with pytest.raises(ValueError, match="non-negative"):
        base.segment(frames, indices=[-1])
    masks = list(base.segment_masks(frames, state=a, indices=[3]))
    assert [i for i, _ in masks] == [3] and masks[0][1].dtype == bool


def test_fit_takes_a_config_and_refuses_one_the_network_cannot_run(base, clip):
    frames, masks = clip
    before = base.config
    state = base.fit_one_shot(frames[0], masks[0], config=FineTuneConfig(iterations=2, scales=(1.0,)), progress=False)
    assert state.iterations == 2 and state.config.scales == (1.0,) and base.config == before  # not mutated
    other = "bfloat16" if base.config.compute_dtype == "float32" else "float32"
    with pytest.raises(ValueError, match=f"computes in {base.config.compute_dtype}, the config asks for {other}"):
        base.fit_one_shot(frames[0], masks[0], config=FineTuneConfig(iterations=1, compute_dtype=other))
    with pytest.raises(ValueError, match="side outputs"):
        base.fit_one_shot(frames[0], masks[0], config=FineTuneConfig(iterations=1, side_loss_weight=1.0))
    with pytest.raises(TypeError, match="FineTuneConfig"):
        base.fit_one_shot(frames[0], masks[0], config={"iterations": 1})


def test_video_state_is_typed_and_immutable(two_states):
    from osvos_tf.osvos import NetworkWeights, VideoState

    a, _ = two_states
    assert isinstance(a, VideoState) and isinstance(a.weights, NetworkWeights)
    assert isinstance(a.losses, tuple) and a.parent == "base:hed"
    with pytest.raises(dataclasses.FrozenInstanceError):
        a.iterations = 3  # type: ignore[misc]
    with pytest.raises(ValueError, match="read-only"):
        a.weights["fuse"][0][...] = 0


def test_a_mask_with_several_objects_is_refused_not_merged(base, clip, tmp_path):
    from PIL import Image

    frames, masks = clip
    labels = np.zeros(masks[0].shape, np.uint8)
    labels[masks[0]] = 1
    labels[:4, :4] = 2
    palette = Image.fromarray(labels, mode="P")
    palette.putpalette([0, 0, 0, 128, 0, 0, 0, 128, 0] + [0] * 759)
    palette.save(tmp_path / "two.png")
    with pytest.raises(ValueError, match=r"holds 2 objects \(ids 1, 2\).*OSVOS.fit_objects"):
        base.fit_one_shot(frames[0], tmp_path / "two.png", iterations=1, progress=False)
    with pytest.raises(ValueError, match="holds 2 objects"):
        base.fit_one_shot(frames[0], labels, iterations=1, progress=False)  # a 0..N label map array


# -- parents -------------------------------------------------------------------------------------------------
def test_resolve_parent_names_parents_by_preset_or_sha256(tmp_path, monkeypatch):
    import shutil

    from osvos_tf.parents import DEFAULT_PARENT_PRESET, file_sha256, preset_path, resolve_parent

    assert resolve_parent("base").id == "base:hed" and resolve_parent("base", "imagenet").id == "base:imagenet"
    assert resolve_parent("base:imagenet", "hed").id == "base:imagenet"
    shipped = resolve_parent()
    assert shipped.kind == "preset" and shipped.id == DEFAULT_PARENT_PRESET
    assert shipped.path == preset_path(DEFAULT_PARENT_PRESET) and "osvos_tf/parents" in shipped.path.as_posix()
    copy = tmp_path / "moved.h5"
    shutil.copy(shipped.path, copy)
    assert resolve_parent(copy).id == DEFAULT_PARENT_PRESET  # recognised by its sha256, wherever it lies
    other = tmp_path / "other.h5"
    other.write_bytes(b"not the shipped parent")
    assert resolve_parent(other).id == f"sha256:{file_sha256(other)}" and "/" not in resolve_parent(other).id
    assert resolve_parent(other).describe() == {
        "id": resolve_parent(other).id,
        "kind": "file",
        "sha256": file_sha256(other),
    }
    monkeypatch.chdir(tmp_path)
    with pytest.raises(FileNotFoundError, match="Checkpoint not found: q.h5"):
        resolve_parent("q.h5")
    monkeypatch.setenv("OSVOS_PARENT", str(other))
    assert resolve_parent().kind == "file"
    monkeypatch.setenv("OSVOS_PARENT", str(tmp_path / "gone.h5"))
    with pytest.raises(FileNotFoundError, match=r"gone.h5 \(from \$OSVOS_PARENT\)"):
        resolve_parent()
    with pytest.raises(ValueError, match="base_weights must be 'hed' .* got 'vgg'"):
        resolve_parent("base", "vgg")


def test_presets_are_checked_and_never_fall_back_silently(monkeypatch):
    from osvos_tf import parents

    real = parents.PARENT_PRESETS[parents.DEFAULT_PARENT_PRESET]
    tampered = dataclasses.replace(real, sha256="0" * 64)
    monkeypatch.setitem(parents.PARENT_PRESETS, real.name, tampered)
    with pytest.raises(ValueError, match=f"has sha256 {real.sha256}, but the registry expects 0000"):
        OSVOS.from_preset(real.name)
    missing = dataclasses.replace(real, file="not_installed.h5")
    monkeypatch.setitem(parents.PARENT_PRESETS, real.name, missing)
    with pytest.raises(FileNotFoundError, match="missing from the installed package.*Reinstall osvos_tf"):
        OSVOS()  # no silent fallback to the bare VGG16
    with pytest.raises(ValueError, match="Unknown parent preset 'nope'; known presets: osvos_davis2016_cpu"):
        OSVOS.from_preset("nope")
    with pytest.raises(ValueError, match="registered but not shipped.*git show c673947"):
        OSVOS.from_preset("osvos_davis2016_cpu_stage1")


def test_from_preset_loads_the_shipped_parent():
    from osvos_tf.parents import preset_training_config

    osvos = OSVOS.from_preset("osvos_davis2016_cpu", FineTuneConfig(iterations=0))
    assert osvos.source == "osvos_davis2016_cpu" and osvos.parent.kind == "preset"
    default = OSVOS(config=FineTuneConfig(iterations=0))
    for name in ("fuse", "block1_conv1", "side5_prep"):
        np.testing.assert_array_equal(default.parent_weights[name][0], osvos.parent_weights[name][0])
    assert preset_training_config("osvos_davis2016_cpu")["total_updates"] == 2700
