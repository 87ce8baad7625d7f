#!/usr/bin/env python3
"""Train the OSVOS parent network under JAX (the GPU machine: JAX, no TensorFlow) on a packed DAVIS train set.

KERAS_BACKEND=jax python tools/train_parent_jax.py --pack PACK --config checkpoints/parent_gpu_recipe.json \\
    --out RUN [--export DIR] [--fit-schedule-s S] [--max-seconds S] [--max-updates N]

PACK comes from tools/pack_davis.py; DIR receives the checkpoint in parts under 16 MiB (tools/join_parts.py
joins them). tools/gpu_train_parent.sh is the prepared command for the GPU machine.
"""

import argparse
import sys

from osvos_tf.config import load_config
from osvos_tf.jax_parent import train_parent_jax


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pack", required=True, help="packed training set (tools/pack_davis.py)")
    parser.add_argument("--config", required=True, help="the recipe: a ParentTrainConfig JSON")
    parser.add_argument("--out", required=True, help="new run folder (config.json, parent.h5 + .json, train_log.json)")
    parser.add_argument("--export", help="also write the checkpoint as parts under 16 MiB (and its records) here")
    parser.add_argument("--fit-schedule-s", type=float, help="compress the schedule to end within S seconds")
    parser.add_argument("--max-seconds", type=float, help="stop training after S seconds (then save)")
    parser.add_argument("--max-updates", type=int, help="stop after N updates")
    parser.add_argument("--save-every-s", type=float, default=120.0, help="save this often (default 120)")
    parser.add_argument("--log-every-s", type=float, default=15.0, help="print progress this often (default 15)")
    parser.add_argument("--probe-s", type=float, default=20.0, help="seconds of timed updates before fitting")
    args = parser.parse_args(argv)
    try:
        train_parent_jax(
            args.pack,
            args.out,
            load_config(args.config),
            max_updates=args.max_updates,
            max_seconds=args.max_seconds,
            save_every_s=args.save_every_s,
            export_dir=args.export,
            fit_schedule_s=args.fit_schedule_s,
            probe_s=args.probe_s,
            log_every_s=args.log_every_s,
        )
    except (ValueError, FileExistsError, FileNotFoundError, RuntimeError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
