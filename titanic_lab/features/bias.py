"""The bias: the constant 1 column whose weight is the model's constant."""

from __future__ import annotations

import numpy as np

from .kind import FeatureKind

KINDS = (
    # Written as values, not formulas; reads no column, never filled nor scaled.
    FeatureKind("ones", lambda f, source: f"{f.output_name} = 1 (the bias)", None,
                values=lambda f, filled, df, fitted: np.ones(len(df)), source=None, scalable=False, reads=False),
)
