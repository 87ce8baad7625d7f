"""The shape of the osvos_tf.evaluation package: its public names, no TensorFlow, short functions."""

import ast
import subprocess
import sys
from pathlib import Path

import osvos_tf.evaluation as ev

PACKAGE = Path(ev.__file__).resolve().parent

# Every public name of the former single module osvos_tf/evaluation.py: callers keep importing them from here.
PUBLIC = [
    "BOUND_TH",
    "T_SCALE",
    "ERROR_NEAR_PX",
    "default_davis_root",
    "load_db_info",
    "annotated_frame_names",
    "read_mask",
    "jaccard",
    "boundary_map",
    "f_measure",
    "mask_contours",
    "upsample_contour",
    "shape_context",
    "chi2_cost_matrix",
    "shape_matching_cost",
    "t_stability",
    "recall",
    "decay",
    "sequence_statistics",
    "evaluate_sequence",
    "evaluate_results",
    "format_table",
    "error_split",
    "error_split_results",
    "format_error_table",
    "evaluate_and_report",
    "evaluate_objects",
    "evaluate_results_2017",
    "format_objects_table",
]


def test_public_names_are_re_exported():
    assert sorted(ev.__all__) == sorted(PUBLIC)
    missing = [name for name in PUBLIC if not hasattr(ev, name)]
    assert not missing
    assert all(callable(getattr(ev, n)) for n in PUBLIC if not n.isupper())
    from osvos_tf.masks import read_davis_mask

    assert ev.read_mask is read_davis_mask  # one DAVIS reading rule


def test_importable_without_tensorflow():
    code = (
        "import sys, importlib, pkgutil, osvos_tf.evaluation as ev\n"
        "for m in pkgutil.iter_modules(ev.__path__): importlib.import_module('osvos_tf.evaluation.' + m.name)\n"
        "bad = sorted(n for n in sys.modules if n.split('.')[0] in ('tensorflow', 'keras'))\n"
        "assert not bad, bad\n"
    )
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr


def test_no_function_longer_than_80_lines():
    long = []
    for path in sorted(PACKAGE.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                n = node.end_lineno - node.lineno + 1
                if n > 80:
                    long.append(f"{path.name}:{node.lineno} {node.name} ({n} lines)")
    assert not long, "split these into named steps: " + ", ".join(long)
