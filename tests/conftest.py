"""Shared test fixtures. Fast synthetic tests run by default; DAVIS-backed ones (marker ``davis``) need
../shared/DAVIS (or $OSVOS_DAVIS_ROOT) and are skipped with a reason when it is absent."""

import os
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

REPO = Path(__file__).resolve().parent.parent


def davis_root() -> Path:
    env = os.environ.get("OSVOS_DAVIS_ROOT")
    return Path(env) if env else REPO.parent / "shared" / "DAVIS"


@pytest.fixture(scope="session")
def davis():
    root = davis_root()
    if not (root / "JPEGImages" / "480p").is_dir():
        pytest.skip(f"DAVIS data not found at {root} (set OSVOS_DAVIS_ROOT to run the DAVIS tier)")
    return root


@pytest.fixture(scope="session")
def clip():
    from osvos_tf.synthetic import synthetic_clip

    return synthetic_clip(n_frames=10, height=64, width=96, seed=3)


def pytest_collection_modifyitems(config, items):
    """Tests that use the ``davis`` fixture belong to the DAVIS tier (``-m davis`` / ``-m "not davis"``)."""
    for item in items:
        if "davis" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.davis)
