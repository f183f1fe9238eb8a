"""Scores a predictions CSV against a ground-truth CSV with DeepForest 2.1.0's own code:
its utilities.read_file reads both, its evaluate.evaluate_boxes matches them (IoU.py,
Hungarian matching at IoU 0.4 by default). Prints {"box_recall": ..., "box_precision":
..., "predictions": n, "ground_truth": n} as JSON.

usage: deepforest_evaluate.py EVAL_DIR PREDICTIONS.csv GROUND_TRUTH.csv

EVAL_DIR is scripts/fixtures.sh's .fixtures/deepforest-eval: DeepForest's utilities.py,
evaluate.py, IoU.py and conf/ from its wheel, and site/ with what they import that
Debian 12 lacks or has too old (shapely 2, geopandas 0.14, omegaconf, tqdm). The
package's own __init__ only imports pytorch_lightning to silence its warnings and
defines _ROOT; the one written there keeps _ROOT and leaves Lightning out.
"""
import json
import os
import sys
import warnings

eval_dir, predictions_csv, ground_csv = sys.argv[1:4]
sys.path[:0] = [os.path.join(eval_dir, "site"), eval_dir]
warnings.simplefilter("ignore")

from deepforest import evaluate, utilities  # noqa: E402

predictions = utilities.read_file(predictions_csv)
ground = utilities.read_file(ground_csv)
results = evaluate.evaluate_boxes(predictions, ground)
print(json.dumps({"box_recall": float(results["box_recall"]), "box_precision": float(results["box_precision"]),
                  "predictions": len(predictions), "ground_truth": len(ground)}))
