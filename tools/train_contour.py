#!/usr/bin/env python3
"""Train (fine-tune) the HED contour network used for contour snapping on image / edge-map pairs.

    python tools/train_contour.py --images DIR --edges DIR --out contours.h5 [--iterations N]

Images and edge maps pair up by file stem (``images/12.jpg`` with ``edges/12.png``); edge maps are binarised
at half range. Writes an osvos_tf checkpoint and its config (``contours.json``); load it with
``osvos_tf.contours.build_contour_model(weights="contours.h5")``. Needs osvos_tf installed (``pip install -e .``).
"""

import argparse
import sys

from osvos_tf.contours import CONTOUR_INITS, ContourTrainConfig, train_contour_from_dirs


def main(argv=None) -> int:
    defaults = ContourTrainConfig()
    parser = argparse.ArgumentParser(description="Train the HED contour network (osvos_tf.contours).")
    parser.add_argument("--images", required=True, help="folder of training images")
    parser.add_argument("--edges", required=True, help="folder of edge maps, named as the images")
    parser.add_argument("--out", required=True, help="checkpoint to write (.h5); the config goes next to it")
    parser.add_argument("--iterations", type=int, default=defaults.iterations)
    parser.add_argument("--lr", type=float, default=defaults.learning_rate, help="learning rate")
    parser.add_argument("--optimizer", choices=("adam", "sgd"), default=defaults.optimizer)
    parser.add_argument("--accumulate", type=int, default=defaults.accumulate, help="images per update")
    parser.add_argument("--crop", type=int, nargs=2, metavar=("H", "W"), default=None, help="random crop size")
    parser.add_argument("--init", choices=CONTOUR_INITS, default=defaults.init)
    parser.add_argument("--seed", type=int, default=defaults.seed)
    args = parser.parse_args(argv)
    config = ContourTrainConfig(
        iterations=args.iterations,
        learning_rate=args.lr,
        optimizer=args.optimizer,
        accumulate=args.accumulate,
        crop=tuple(args.crop) if args.crop else None,
        init=args.init,
        seed=args.seed,
    )
    try:
        history = train_contour_from_dirs(args.images, args.edges, args.out, config)
    except (ValueError, FileNotFoundError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(history.summary())
    return 0


if __name__ == "__main__":
    sys.exit(main())
