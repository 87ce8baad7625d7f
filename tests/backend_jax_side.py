"""The JAX side of tests/test_backends.py, run in a subprocess with KERAS_BACKEND=jax (the backend is fixed
when Keras is first imported). Reads DIR/inputs.npz and DIR/weights.h5, writes DIR/jax.npz with what the
JAX parent trainer's own pieces compute: the five logits and the losses of the image at each size, then
the weights after two updates."""

import sys
from pathlib import Path

import numpy as np


def main(folder: str) -> None:
    from osvos_tf.config import ParentTrainConfig
    from osvos_tf.jax_parent import JaxParentTrainer, augment, check_backend

    check_backend()
    d = Path(folder)
    inputs = np.load(d / "inputs.npz")
    image, mask = inputs["image"], inputs["mask"]
    lr, side_weight = float(inputs["lr"]), float(inputs["side_weight"])
    config = ParentTrainConfig(
        phase_steps=(10,),
        side_weights=(side_weight,),
        lr_boundaries=(),
        lr_values=(lr,),
        accumulate=1,
        scales=(1.0,),
        flip=False,
        init_checkpoint=str(d / "weights.h5"),
    )
    trainer = JaxParentTrainer(config, image[None], mask[None])
    out = {}
    for k, size in enumerate([tuple(int(v) for v in s) for s in inputs["sizes"]]):
        x, label = augment(trainer.images, trainer.masks, np.int32(0), np.bool_(False), size)
        for i, logits in enumerate(trainer.model(x, training=False)):
            out[f"logits_{k}_{i}"] = np.asarray(logits)
        (_, metrics), _ = trainer.grads_fn(size)(
            trainer.values, trainer.fixed, trainer.images, trainer.masks, np.int32(0), np.bool_(False), side_weight
        )
        out[f"losses_{k}"] = np.asarray(metrics)
        out[f"label_{k}"] = np.asarray(label)
    for _ in range(2):
        trainer.update(lr, side_weight)
    for var, value in zip(trainer.optimizer.variables, trainer.values):
        out[f"weight:{var.path}"] = np.asarray(value)
    np.savez(d / "jax.npz", **out)


if __name__ == "__main__":
    main(sys.argv[1])
