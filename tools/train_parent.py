#!/usr/bin/env python3
"""Train the OSVOS parent network on DAVIS: the same as `osvos train-parent` (needs `pip install -e .`).

python tools/train_parent.py --davis ../shared/DAVIS --out runs/parent [--config JSON] [--resume] [--max-updates N]
"""

import sys

from osvos_tf.cli import main

if __name__ == "__main__":
    sys.exit(main(["train-parent", *sys.argv[1:]]))
