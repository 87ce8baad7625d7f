#!/usr/bin/env python3
"""Join a file split into parts (osvos_tf.file_parts; e.g. a parent checkpoint back from the GPU machine).

python tools/join_parts.py DIR/parent.h5.parts.json [--out FILE]

Writes DIR/parent.h5 (or FILE); every part and the whole are checked against the manifest's sha256. A
checkpoint's sidecar (DIR/parent.json: config, provenance) comes back beside the parts.
"""

import argparse
import sys

from osvos_tf.file_parts import join_parts


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("manifest", help="the <name>.parts.json written with the parts")
    parser.add_argument("--out", help="output file (default: <name> beside the manifest)")
    args = parser.parse_args(argv)
    try:
        path = join_parts(args.manifest, args.out)
    except (ValueError, FileNotFoundError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
