"""Feature steps and kinds: the vocabulary (:mod:`.steps`: ``Feature``, ``Preset``), the kind record
(:mod:`.kind`: ``FeatureKind``), the families of kinds (:mod:`.numeric`, :mod:`.categorical`,
:mod:`.bias`, and Titanic's :mod:`.titanic`) and the registry of kinds by name (:mod:`.registry`).

Adding a feature kind is one record in a family and its name in the registry. Importing this
package imports neither torch, scikit-learn nor a workbook writer.
"""

from __future__ import annotations

from .kind import Cell, FeatureKind, HelperColumn, as_floats, as_read, kind_of, named
from .registry import FEATURE_KINDS, feature_kind
from .preset import Preset
from .steps import Feature, binary, dummies, log1p, number, ones

__all__ = [
    "FEATURE_KINDS", "Cell", "Feature", "FeatureKind", "HelperColumn", "Preset", "as_floats", "as_read", "binary", "dummies",
    "feature_kind", "kind_of", "log1p", "named", "number", "ones",
]
