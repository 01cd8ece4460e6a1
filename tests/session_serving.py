"""Serve exported SavedModels as TensorFlow Serving would, in a process without automl_rec.

Two ways of loading a SavedModel can disagree: ``tf.saved_model.load`` rebuilds the variables
from the saved object graph and binds them to the functions, while the session loader of
``saved_model_cli`` and the C++ servers (TensorFlow Serving) runs the saved graph as it is: its
restore op fills the variables it names and the signatures read the variables they name. A
model only serves when those agree, so both loaders answer every request here.

:func:`serve_in_fresh_process` runs this file as a script (one interpreter for many requests,
which keeps the tests fast); :func:`saved_model_cli` runs the real command line tool once.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

TIMEOUT_S = 600


def serve_in_fresh_process(requests: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Answer each request with both loaders in a fresh interpreter that cannot import
    automl_rec.

    Args:
        requests: Each has ``model`` (a SavedModel folder), ``signature`` (a signature name) and
            ``inputs`` (input name -> nested list of strings).

    Returns:
        One report per request: ``signatures`` (the model's signature names), ``inputs`` and
        ``outputs`` (name -> ``[dtype, shape]`` of the signature), and the outputs given by
        ``python`` (``tf.saved_model.load``) and by ``session`` (the session loader), each as
        name -> nested lists (strings decoded).
    """
    with tempfile.TemporaryDirectory() as scratch:
        spec = Path(scratch) / "requests.json"
        spec.write_text(json.dumps(requests))
        done = subprocess.run([sys.executable, __file__, str(spec)], capture_output=True,
                              text=True, timeout=TIMEOUT_S, env=_quiet_environment())
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def saved_model_cli(model: Path, signature: str, name: str, values: list[Any],
                    outdir: Path) -> dict[str, np.ndarray]:
    """Run ``saved_model_cli run`` on one input and read back the arrays it saves.

    Args:
        model: The SavedModel folder.
        signature: The signature to run.
        name: Its input's name.
        values: The input, as a (nested) list of strings.
        outdir: Where the tool writes one ``.npy`` file per output.

    Returns:
        Output name -> array (strings decoded).
    """
    command = [sys.executable, "-m", "tensorflow.python.tools.saved_model_cli", "run",
               "--dir", str(model), "--tag_set", "serve", "--signature_def", signature,
               "--input_exprs", f"{name}={values!r}", "--outdir", str(outdir), "--overwrite"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT_S,
                          env=_quiet_environment())
    assert done.returncode == 0, done.stderr[-3000:]
    return {path.stem: _decoded(np.load(path, allow_pickle=True))
            for path in sorted(outdir.glob("*.npy"))}


def _quiet_environment() -> dict[str, str]:
    return {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": ""}


def _decoded(array: np.ndarray) -> np.ndarray:
    if array.dtype == object:
        return np.vectorize(lambda v: v.decode() if isinstance(v, bytes) else v,
                            otypes=[object])(array)
    return array


def _as_lists(outputs: dict[str, Any]) -> dict[str, Any]:
    return {name: _decoded(np.asarray(value)).tolist() for name, value in outputs.items()}


def _with_session(session: Any, meta_graph: Any, signature: str, inputs: dict[str, Any]
                  ) -> dict[str, Any]:
    """What ``saved_model_cli run`` does once the graph is loaded: feed, fetch."""
    definition = meta_graph.signature_def[signature]
    feed = {definition.inputs[name].name: np.array(value, dtype=object)
            for name, value in inputs.items()}
    names = sorted(definition.outputs)
    fetched = session.run([definition.outputs[name].name for name in names], feed)
    return _as_lists(dict(zip(names, fetched)))


def _with_python(loaded: Any, signature: str, inputs: dict[str, Any]) -> dict[str, Any]:
    import tensorflow as tf

    function = loaded.signatures[signature]
    return _as_lists(function(**{name: tf.constant(v) for name, v in inputs.items()}))


def _spec(specs: dict[str, Any]) -> dict[str, list[Any]]:
    return {name: [s.dtype.name, s.shape.as_list()] for name, s in specs.items()}


class _NoPackage:
    """An import hook that refuses automl_rec: a served model must not need it."""

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> None:
        if name == "automl_rec" or name.startswith("automl_rec."):
            raise ImportError("automl_rec must not be needed to serve")


def main(spec: str) -> None:
    """Answer the requests of a JSON file (see :func:`serve_in_fresh_process`)."""
    sys.meta_path.insert(0, _NoPackage())
    import tensorflow as tf

    reports, loaded, sessions = [], {}, {}
    for request in json.loads(Path(spec).read_text()):
        model, signature, inputs = request["model"], request["signature"], request["inputs"]
        if model not in loaded:
            loaded[model] = tf.saved_model.load(model)
            # A graph of its own per model, loaded as saved_model_cli and the C++ servers do.
            session = tf.compat.v1.Session(graph=tf.Graph())
            sessions[model] = session, tf.compat.v1.saved_model.loader.load(
                session, [tf.saved_model.SERVING], model)
        function = loaded[model].signatures[signature]
        reports.append({
            "signatures": sorted(loaded[model].signatures),
            "inputs": _spec(function.structured_input_signature[1]),
            "outputs": _spec(function.structured_outputs),
            "python": _with_python(loaded[model], signature, inputs),
            "session": _with_session(*sessions[model], signature, inputs),
        })
    for session, _ in sessions.values():
        session.close()
    print(json.dumps(reports))


if __name__ == "__main__":
    main(sys.argv[1])
