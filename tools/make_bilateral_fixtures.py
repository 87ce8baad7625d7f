#!/usr/bin/python3
"""Generate the OpenCV reference fixtures of the fast bilateral solver (tests/fixtures/bilateral/*.npz).

Run with Debian's system Python and its OpenCV (4.6, built with Eigen; the PyPI wheels lack Eigen and
raise on ``fastBilateralSolverFilter``):

    apt-get install -y python3-opencv
    /usr/bin/python3 tools/make_bilateral_fixtures.py [--out tests/fixtures/bilateral]

Each case stores: ``image`` (uint8 RGB, 48x64x3; 8x300x3 for the hash-aliasing case), ``ycrcb`` (OpenCV's
YCrCb of it), ``target`` and ``confidence`` (float32, the image's size), ``output`` (float32, OpenCV's result), the parameters (``sigma_spatial``,
``sigma_luma``, ``sigma_chroma``, ``lam``, ``num_iter``, ``max_tol``), ``cg_iterations`` (the number of CG
iterations OpenCV reports on stdout, -1 if it could not be read) and ``opencv_version``. Deterministic
(fixed seeds). Does not import osvos_tf: it only needs numpy and cv2.

tests/test_snapping.py checks ``osvos_tf.snapping.bilateral_solve`` against every fixture: the same YCrCb,
the same CG iteration count and ``output`` to 3e-5 (the largest difference, 2.9e-5, is on hash_aliasing).
"""

import argparse
import os
import re
import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np

H, W = 48, 64


def smooth(rng, shape, passes=3):
    """Smooth noise in [0, 1] (box blurs of white noise), without scipy."""
    x = rng.random(shape)
    for _ in range(passes):
        x = cv2.blur(x, (7, 7), borderType=cv2.BORDER_REFLECT)
    x -= x.min()
    return x / max(x.max(), 1e-9)


def shapes_image(rng):
    """Piecewise-constant colour regions (a background, a rectangle, an ellipse) plus mild noise."""
    img = np.zeros((H, W, 3), np.float64)
    img[:] = (60, 110, 70)
    yy, xx = np.mgrid[0:H, 0:W]
    img[(yy > 8) & (yy < 30) & (xx > 6) & (xx < 28)] = (200, 60, 40)
    img[((yy - 30) / 12.0) ** 2 + ((xx - 44) / 15.0) ** 2 <= 1] = (40, 70, 210)
    img += rng.normal(0, 6, img.shape)
    return np.clip(img, 0, 255).round().astype(np.uint8), (((yy - 30) / 12.0) ** 2 + ((xx - 44) / 15.0) ** 2 <= 1)


def textured_image(rng):
    """Smooth colour noise spanning most of the colour cube."""
    chans = [smooth(rng, (H, W)) for _ in range(3)]
    return np.clip(np.stack(chans, -1) * 255, 0, 255).round().astype(np.uint8)


def run_opencv(image_rgb, target, confidence, p):
    """cv2.ximgproc.fastBilateralSolverFilter on a BGR guide, capturing the '#iterations' it prints."""
    sys.stdout.flush()
    saved = os.dup(1)
    with tempfile.TemporaryFile(mode="w+b") as tmp:
        os.dup2(tmp.fileno(), 1)
        try:
            out = cv2.ximgproc.fastBilateralSolverFilter(
                np.ascontiguousarray(image_rgb[..., ::-1]),
                target,
                confidence,
                None,
                p["sigma_spatial"],
                p["sigma_luma"],
                p["sigma_chroma"],
                p["lam"],
                p["num_iter"],
                p["max_tol"],
            )
        finally:
            os.dup2(saved, 1)
            os.close(saved)
        tmp.seek(0)
        text = tmp.read().decode("ascii", "replace")
    found = re.search(r"#iterations:\s*(\d+)", text)
    return np.asarray(out, np.float32), int(found.group(1)) if found else -1


def cases():
    rng = np.random.default_rng(20160911)
    # 1. segmentation-like: a blurred, shifted mask as target, |2p - 1| confidence, OpenCV's defaults
    img, obj = shapes_image(rng)
    prob = cv2.GaussianBlur(np.roll(obj, 2, axis=1).astype(np.float32), (0, 0), 2.0)
    prob = np.clip(prob + rng.normal(0, 0.05, prob.shape), 0, 1).astype(np.float32)
    yield (
        "segmentation_defaults",
        img,
        prob,
        np.abs(2 * prob - 1).astype(np.float32),
        dict(sigma_spatial=8.0, sigma_luma=8.0, sigma_chroma=8.0, lam=128.0, num_iter=25, max_tol=1e-5),
    )
    # 2. textured guide, smooth target, random confidence, small non-integer sigmas, more iterations
    img = textured_image(rng)
    target = smooth(rng, (H, W)).astype(np.float32)
    conf = rng.random((H, W)).astype(np.float32)
    yield (
        "textured_small_sigmas",
        img,
        target,
        conf,
        dict(sigma_spatial=4.0, sigma_luma=6.0, sigma_chroma=5.5, lam=16.0, num_iter=60, max_tol=1e-6),
    )
    # 3. early stop on the tolerance, weak smoothness, noisy target
    img, _ = shapes_image(rng)
    target = rng.random((H, W)).astype(np.float32)
    conf = (0.2 + 0.8 * rng.random((H, W))).astype(np.float32)
    yield (
        "early_stop",
        img,
        target,
        conf,
        dict(sigma_spatial=3.7, sigma_luma=12.0, sigma_chroma=10.0, lam=1.0, num_iter=25, max_tol=1e-3),
    )
    # 4. grid coordinates >= 255 (300 px wide at sigma_spatial 1): OpenCV's hash sum_i coord_i * 255**i then
    #    aliases x = 255 + k on row y with x = k on row y + 1 (vertices and neighbours); coarse colour bins
    #    make the aliased cells collide. A re-implementation must alias the same way.
    wide = np.clip(np.stack([smooth(rng, (8, 300), 1) for _ in range(3)], -1) * 255, 0, 255)
    wide = wide.round().astype(np.uint8)
    target = rng.random((8, 300)).astype(np.float32)
    conf = (0.05 + 0.2 * rng.random((8, 300))).astype(np.float32)
    yield (
        "hash_aliasing",
        wide,
        target,
        conf,
        dict(sigma_spatial=1.0, sigma_luma=64.0, sigma_chroma=128.0, lam=64.0, num_iter=40, max_tol=1e-6),
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    default = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "bilateral"
    parser.add_argument("--out", default=str(default))
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for name, img, target, conf, p in cases():
        result, iterations = run_opencv(img, target, conf, p)
        ycrcb = cv2.cvtColor(np.ascontiguousarray(img[..., ::-1]), cv2.COLOR_BGR2YCrCb)
        np.savez_compressed(
            out / f"{name}.npz",
            image=img,
            ycrcb=ycrcb,
            target=target,
            confidence=conf,
            output=result,
            cg_iterations=iterations,
            opencv_version=cv2.__version__,
            **{k: np.float64(v) if k != "num_iter" else np.int64(v) for k, v in p.items()},
        )
        print(
            f"{name}: OpenCV {cv2.__version__}, {iterations} CG iterations, output range "
            f"{result.min():.4f}..{result.max():.4f} -> {out / (name + '.npz')}"
        )


if __name__ == "__main__":
    main()
