"""mgpr from Python: the command, and ``predict`` for a script or a notebook.

The wheel holds mgpr's native binary (``mgpr/bin/mgpr``) with the libraries it needs
(``mgpr/lib``) and GDAL's and PROJ's data (``mgpr/share``). ``mgpr`` and
``mgpr-test-image`` on PATH, and ``python -m mgpr``, run that binary; ``predict`` runs
it as a subprocess, streams its log and returns its results.
"""

import os
import re
import subprocess
import sys

__all__ = ["MGPRError", "binary", "predict", "main", "test_image_main"]

_HERE = os.path.dirname(os.path.abspath(__file__))


def binary():
    """The path of the mgpr executable inside this package."""
    return os.path.join(_HERE, "bin", "mgpr")


class MGPRError(RuntimeError):
    """mgpr exited with a nonzero code; ``error`` is its error line (or its last line)."""

    def __init__(self, returncode, error, command):
        self.returncode = returncode
        self.error = error
        self.command = command
        super().__init__(f"mgpr exited with code {returncode}: {error}")


def _setting(key, value):
    """One key=value argument, written as mgpr's YAML-like command line reads it."""
    if value is None:
        text = "null"
    elif isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, (list, tuple)):
        text = "[" + ",".join(str(v) for v in value) + "]"
    else:
        text = os.fspath(value) if isinstance(value, os.PathLike) else str(value)
    return f"{key}={text}"


# mgpr's own log line naming the results file (Sources/MGPRCommands/PredictCommand.swift).
_RESULTS_LINE = re.compile(r"Results will be written to (.+?)(?: \(set output=PATH.*\))?$")


def predict(image_path, *, log=sys.stderr, geodataframe=None, **settings):
    """Runs mgpr over every tile of ``image_path`` and returns its results.

    ``settings`` are mgpr's keys (``model="retinanet"``, ``tile_size=400``,
    ``preset="deepforest"``, ``output="trees.gpkg"``, ``accelerator="gpu"`` ...; see
    ``mgpr --help``). mgpr's log is written to ``log`` line by line as the run goes
    (``None``: kept quiet). Returns the results file's path; or, when geopandas is
    installed and the file is a GeoPackage or GeoJSON (``geodataframe=None``, the
    default) or ``geodataframe=True``, a GeoDataFrame read from it. Raises
    ``MGPRError`` (with mgpr's exit code and error line) when the run fails, and
    ``ValueError`` when the run kept no results (``output="none"``).
    """
    command = [binary(), _setting("image_path", image_path)]
    command += [_setting(key, value) for key, value in settings.items()]
    results, error, last = None, None, ""
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace") as run:
        for line in run.stdout:
            if log is not None:
                log.write(line)
                log.flush()
            line = line.rstrip("\n")
            if line.strip():
                last = line
            if line.startswith("mgpr: error: "):
                error = line[len("mgpr: error: "):]
            found = _RESULTS_LINE.search(line)
            if found:
                results = found.group(1)
    if run.returncode != 0:
        raise MGPRError(run.returncode, error or last, command)
    if results is None:
        raise ValueError("mgpr kept no results file (output=none, or model=none)")
    if geodataframe is False or (geodataframe is None and not results.endswith((".gpkg", ".geojson", ".json"))):
        return results
    try:
        import geopandas
    except ImportError:
        if geodataframe:
            raise
        return results
    return geopandas.read_file(results)


def _exec(name, arguments):
    path = binary()
    if not os.access(path, os.X_OK):
        sys.exit(f"mgpr: the native binary {path} is missing or not executable; reinstall the wheel")
    # The binary answers to the name it is called by (mgpr or mgpr-test-image).
    os.execv(path, [os.path.join(os.path.dirname(path), name)] + arguments)


def main():
    """The ``mgpr`` command (and ``python -m mgpr``)."""
    _exec("mgpr", sys.argv[1:])


def test_image_main():
    """The ``mgpr-test-image`` command."""
    _exec("mgpr-test-image", sys.argv[1:])
