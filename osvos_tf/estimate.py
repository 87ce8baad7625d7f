"""How long a job will take, estimated before the long work starts from one timed forward pass.

An update costs about as much as its pixels: at scale s of the working frame, ``s**2`` times a full-size update,
which costs :data:`UPDATE_COST_IN_FORWARDS` forward passes (measured on the 2-core EPYC here, 854x480: float32
2.46 s per update at scale 1 against a 0.58 s forward, 4.2x; bfloat16 1.26 s against 0.28 s, 4.5x; at scales
0.5 / 0.8 the measured costs are 0.25 / 0.65 of scale 1 in float32, close to 0.25 / 0.64). Segmenting a frame
costs one forward pass plus reading and writing (not counted). The estimate is rough (+-30 %): it tells a
minute from an hour before a 1080p video fine-tunes for hours.
"""

from __future__ import annotations

import dataclasses

from osvos_tf.config import FineTuneConfig, schedule_counts

#: A fine-tuning update at scale 1 of the working frame, in forward passes of that frame (see the docstring).
UPDATE_COST_IN_FORWARDS = 4.3


def update_units(config: FineTuneConfig) -> float:
    """The fine-tuning of ``config`` in full-size updates: each update counts the mean squared scale of the
    pool it draws from (``coarse_scales`` for the first ``coarse_updates``, then ``scales``). 200 updates of
    the original schedule (0.5, 0.8, 1.0) are 126 units; the 'default' preset (100 of them at 0.5) 88."""
    coarse, rest = schedule_counts(config)

    def mean_square(scales) -> float:
        return sum(float(s) ** 2 for s in scales) / len(scales)

    return coarse * mean_square(config.coarse_scales) + rest * mean_square(config.scales)


@dataclasses.dataclass(frozen=True)
class JobEstimate:
    """The estimated time of fine-tuning and segmenting one video.

    Attributes:
        input_shape, working_shape: (H, W) of the frames and of the resolution the network runs at.
        forward_seconds: one timed forward pass at the working shape.
        fit_seconds: every object's fine-tuning; segment_seconds: every frame, every object.
    """

    input_shape: tuple[int, int]
    working_shape: tuple[int, int]
    forward_seconds: float
    fit_seconds: float
    segment_seconds: float

    @property
    def seconds(self) -> float:
        return self.fit_seconds + self.segment_seconds

    def describe(self, n_frames: int) -> str:
        """One line for the console, e.g. ``working resolution 853x480 (input 1920x1080); estimated ...``."""
        (h, w), (H, W) = self.working_shape, self.input_shape
        where = f"working resolution {w}x{h}" + (f" (input {W}x{H})" if (h, w) != (H, W) else " (native)")
        return (
            f"{where}; estimated {_minutes(self.fit_seconds)} fine-tuning + {_minutes(self.segment_seconds)} "
            f"segmenting {n_frames} frames, about {_minutes(self.seconds)} in all "
            f"(from a {self.forward_seconds:.2f} s forward pass; rough)"
        )


def estimate_job(
    forward_seconds: float,
    config: FineTuneConfig,
    input_shape: tuple[int, int],
    working_shape: tuple[int, int],
    n_frames: int,
    n_objects: int = 1,
) -> JobEstimate:
    """The estimate of fine-tuning ``n_objects`` networks with ``config`` and segmenting ``n_frames`` frames
    with each, given one forward pass at ``working_shape`` took ``forward_seconds``."""
    fit = n_objects * update_units(config) * UPDATE_COST_IN_FORWARDS * forward_seconds
    segment = n_objects * n_frames * forward_seconds
    shapes = (int(input_shape[0]), int(input_shape[1])), (int(working_shape[0]), int(working_shape[1]))
    return JobEstimate(*shapes, float(forward_seconds), fit, segment)


def _minutes(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"
