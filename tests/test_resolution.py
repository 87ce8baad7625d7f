"""The working resolution (frames larger than it are fine-tuned and segmented at it) and the time estimate."""

import dataclasses

import numpy as np
import pytest

from osvos_tf import OSVOS
from osvos_tf.config import PRESETS, FineTuneConfig
from osvos_tf.estimate import UPDATE_COST_IN_FORWARDS, estimate_job, update_units
from osvos_tf.resolution import resize_frame, resize_mask, resize_probs, working_shape


def test_working_shape_by_hand():
    assert working_shape(1080, 1920, 480) == (480, 853)  # 1920 * 480 / 1080 = 853.3
    assert working_shape(1920, 1080, 480) == (853, 480)  # portrait phone video
    assert working_shape(2160, 3840, 480) == (480, 853)
    assert working_shape(480, 854, 480) == (480, 854)  # DAVIS 480p: as it is
    assert working_shape(360, 640, 480) == (360, 640)  # never upscaled
    assert working_shape(1080, 1920, None) == (1080, 1920)  # native
    assert working_shape(100, 101, 50) == (50, 50)  # 101 * 0.5 = 50.5 rounds to even 50


def test_resize_probs_is_tensorflows_bilinear():
    import tensorflow as tf

    probs = np.random.default_rng(0).random((24, 43)).astype(np.float32)
    ours = resize_probs(probs, (54, 97))
    reference = tf.image.resize(probs[..., None], (54, 97), method="bilinear").numpy()[..., 0]
    assert ours.dtype == np.float32 and ours.shape == (54, 97)
    np.testing.assert_allclose(ours, reference, atol=1e-5)
    assert resize_probs(probs, probs.shape) is probs


def test_resize_mask_keeps_pixels_more_than_half_covered():
    mask = np.zeros((8, 12), bool)
    mask[:4, :6] = True  # exactly the top-left 2x3 blocks of 2x2
    mask[5, 9] = True  # one pixel of four: dropped
    mask[6:8, 10] = mask[7, 11] = True  # three of four: kept
    ours = resize_mask(mask, (4, 6))
    blocks = mask.reshape(4, 2, 6, 2).mean(axis=(1, 3))  # numpy reference: the covered fraction per block
    np.testing.assert_array_equal(ours, blocks > 0.5)
    assert ours[:2, :3].all() and not ours[2, 4] and ours[3, 5]


def test_resize_frame_keeps_uint8_and_flat_colours():
    frame = np.full((90, 160, 3), (10, 200, 30), np.uint8)
    small = resize_frame(frame, (45, 80))
    assert small.dtype == np.uint8 and small.shape == (45, 80, 3)
    assert (small == (10, 200, 30)).all()
    assert resize_frame(frame, (90, 160)) is frame


def test_working_short_side_is_validated():
    for bad in (0, 16, 480.0, "480", True):
        with pytest.raises(ValueError, match="working_short_side"):
            FineTuneConfig(working_short_side=bad)
    assert FineTuneConfig().working_short_side == 480 and FineTuneConfig(working_short_side=None)


@pytest.fixture(scope="module")
def small_net():
    return OSVOS.from_base_weights("hed", FineTuneConfig(iterations=4, working_short_side=32, compute_dtype="float32"))


def test_fit_and_segment_run_at_the_working_resolution(small_net, clip):
    """A 64x96 clip with working short side 32 equals, weight for weight and probability for probability, the
    same recipe run by hand on the downscaled frames, with the probabilities upsampled."""
    frames, masks = clip
    state = small_net.fit([frames[0]], [masks[0]], progress=False)
    assert state.annotated_shapes == ((32, 48),)
    native = [p for _, p in small_net.segment(frames[1:3])]
    assert all(p.shape == (64, 96) and p.dtype == np.float32 for p in native)

    native_config = dataclasses.replace(small_net.config, working_short_side=None)
    small_frame, small_mask = resize_frame(frames[0], (32, 48)), resize_mask(masks[0], (32, 48))
    by_hand = small_net.fit([small_frame], [small_mask], config=native_config, progress=False)
    for name in ("fuse", "block1_conv1", "block5_conv3"):
        for ours, theirs in zip(state.weights[name], by_hand.weights[name]):
            np.testing.assert_array_equal(ours, theirs)
    small = [p for _, p in small_net.segment([resize_frame(f, (32, 48)) for f in frames[1:3]], by_hand)]
    for ours, theirs in zip(native, small):
        np.testing.assert_allclose(ours, resize_probs(theirs, (64, 96)), atol=1e-6)


def test_frames_within_the_working_resolution_are_untouched(small_net, clip):
    frames, masks = clip
    native = small_net.fit(
        [frames[0]], [masks[0]], config=dataclasses.replace(small_net.config, working_short_side=None), progress=False
    )
    default = small_net.fit(
        [frames[0]], [masks[0]], config=dataclasses.replace(small_net.config, working_short_side=480), progress=False
    )
    assert default.annotated_shapes == ((64, 96),)
    for (_, a), (_, b) in zip(small_net.segment(frames[:2], native), small_net.segment(frames[:2], default)):
        np.testing.assert_array_equal(a, b)


def test_update_units_by_hand():
    # the original schedule draws 0.5, 0.8, 1.0 evenly: mean square (0.25 + 0.64 + 1) / 3 = 0.63 per update
    assert update_units(FineTuneConfig(iterations=200)) == pytest.approx(126.0)
    default = dataclasses.replace(FineTuneConfig(), **PRESETS["default"])
    assert update_units(default) == pytest.approx(100 * 0.25 + 100 * 0.63)
    assert update_units(FineTuneConfig(iterations=50, coarse_updates=100)) == pytest.approx(50 * 0.25)
    assert update_units(FineTuneConfig(iterations=0)) == 0.0


def test_estimate_job_arithmetic():
    config = FineTuneConfig(iterations=100)
    estimate = estimate_job(0.5, config, (1080, 1920), (480, 853), n_frames=70, n_objects=2)
    assert estimate.fit_seconds == pytest.approx(2 * 63 * UPDATE_COST_IN_FORWARDS * 0.5)
    assert estimate.segment_seconds == pytest.approx(2 * 70 * 0.5)
    assert estimate.seconds == pytest.approx(estimate.fit_seconds + estimate.segment_seconds)
    line = estimate.describe(70)
    assert "working resolution 853x480 (input 1920x1080)" in line and "70 frames" in line


def test_osvos_estimate_times_a_forward_pass(small_net):
    estimate = small_net.estimate((64, 96), n_frames=10)
    assert estimate.working_shape == (32, 48) and estimate.input_shape == (64, 96)
    assert 0 < estimate.forward_seconds < 5
    assert estimate.segment_seconds == pytest.approx(10 * estimate.forward_seconds)
