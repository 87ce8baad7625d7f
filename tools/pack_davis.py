#!/usr/bin/env python
"""Pack a DAVIS-2016 set for a training machine: one H.264 video per sequence, bit-packed masks, index.json.

    python tools/pack_davis.py --out DIR [--davis ROOT] [--set train] [--crf 22] [--quiet]

DIR must be new or empty. Prints one line: sequences, frames, MB and the mean / min PSNR of the decoded frames
against the source JPEGs. Load the pack with osvos_tf.packed_davis.load_packed(DIR) (needs only numpy and
OpenCV). All the work is done by osvos_tf.packed_davis.pack_davis (needs PyAV: pip install -e ".[pack]");
a bad input exits with status 2 and one "error: ..." line.
"""

import argparse
import sys

from osvos_tf.davis import default_davis_root
from osvos_tf.packed_davis import pack_davis


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--davis", default=None, help="DAVIS-2016 root (default: $OSVOS_DAVIS_ROOT or <repo>/../shared/DAVIS)"
    )
    parser.add_argument("--set", default="train", dest="image_set", help="ImageSets list to pack (default train)")
    parser.add_argument("--out", required=True, help="pack folder (new or empty; nothing is overwritten)")
    parser.add_argument(
        "--crf", type=int, default=22, help="x264 constant rate factor, 0 (near lossless) .. 51 (default 22)"
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    args = parser.parse_args(argv)
    try:
        index = pack_davis(
            args.davis or default_davis_root(),
            args.out,
            image_set=args.image_set,
            crf=args.crf,
            progress=not args.quiet,
        )
    except (FileNotFoundError, FileExistsError, ValueError, ImportError) as exc:
        parser.exit(2, f"error: {exc}\n")
    t = index["totals"]
    print(
        f"{args.out}: {t['sequences']} sequences, {t['frames']} frames, {t['bytes'] / 1e6:.1f} MB "
        f"(videos {t['video_bytes'] / 1e6:.1f} MB, masks {t['mask_bytes'] / 1e6:.1f} MB), "
        f"PSNR mean {t['psnr_mean_db']:.2f} dB, min {t['psnr_min_db']:.2f} dB (CRF {index['crf']})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
