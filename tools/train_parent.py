#!/usr/bin/env python3
"""Train the OSVOS parent network on DAVIS (same as `osvos train-parent`).

python tools/train_parent.py --davis ../shared/DAVIS --out runs/parent [--config JSON] [--resume]
"""

import sys
from pathlib import Path

try:
    import osvos_tf  # noqa: F401
except ImportError:  # a plain checkout without `pip install -e .`
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from osvos_tf.cli import main

if __name__ == "__main__":
    sys.exit(main(["train-parent", *sys.argv[1:]]))
