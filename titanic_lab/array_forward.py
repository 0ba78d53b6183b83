"""A model's predictions in numpy: what ``predict`` runs on a workbook's parameters, without importing torch.

Importing torch costs about 1.5 s, most of ``titanic-lab predict``'s time on a table of a few
thousand rows. Training, the workbook's columns and ``compare`` run :func:`titanic_lab.models.forward`
in torch; this is the same chain of layers at evaluation (no dropout, batch norm from its running
statistics), each activation and head by its record's numpy side (``array_function`` in
:mod:`titanic_lab.ops`). tests/test_array_forward.py holds the two equal for every model kind,
activation and head.
"""

from __future__ import annotations

import numpy as np

from .model_spec import BN_EPS, ModelSpec
from .ops import ACTIVATIONS


def predict_array(spec: ModelSpec, params: dict[str, np.ndarray], X: np.ndarray) -> np.ndarray:
    """Predictions for every row of ``X``, as :func:`titanic_lab.models.forward` gives them at evaluation.

    Parameters
    ----------
    spec : ModelSpec
    params : dict of numpy.ndarray
        As :func:`titanic_lab.models.init_params` names and shapes them, without restarts
        (a workbook's, :attr:`titanic_lab.workbook.layout.ModelSheet.params`).
    X : numpy.ndarray, shape (n_rows, n_features)

    Returns
    -------
    numpy.ndarray, shape (n_rows,), or (n_rows, n_classes) for a multiclass model

    Notes
    -----
    A model with an activation or a head registered without its numpy side (``array_function``
    None) runs in torch, imported then: registering one stays one entry.
    """
    activation = ACTIVATIONS[spec.activation]
    if (spec.has_hidden and activation.array_function is None) or spec.head.array_function is None:
        import torch

        from .models import forward, tensors

        with torch.no_grad():
            return forward(spec, tensors(params), torch.as_tensor(X, dtype=torch.float64)).numpy()
    out = np.asarray(X, dtype=np.float64)
    for i, layer in enumerate(spec.chain, start=1):  # out: (n_rows, width)
        weight = params[layer.weight]
        out = out @ (weight[:, None] if layer.vector else weight)
        if layer.const:
            out = out + params[layer.const]
        if layer.activation:
            if spec.batchnorm:
                normalized = (out - params[f"bn{i}_mean"]) / np.sqrt(params[f"bn{i}_var"] + BN_EPS)
                out = normalized * params[f"bn{i}_gamma"] + params[f"bn{i}_beta"]
            out = activation.array_function(out)
    out = spec.head.array_function(out)
    return out if spec.outputs > 1 else out[:, 0]
