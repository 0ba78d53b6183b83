"""Sheet names, and the checks, made before any work, that a run's sheets fit in Excel."""

from __future__ import annotations

from ..errors import OptionError
from ..files import OutputError
from ..model_spec import ModelSpec, hidden_sizes
from ..sheet_layout import FIRST_ROW

EXCEL_MAX_ROWS = 1_048_576
EXCEL_MAX_COLUMNS = 16_384


def sheet_name(base: str, spec: ModelSpec) -> str:
    """``linear``, ``nnet``, ``mmult``...; sizes other than the default give ``nnet-3``, ``deep-16-8``."""
    suffix = spec.name[len(spec.kind):].replace(":", "-").replace(",", "-")
    return f"{base}{suffix}"[:31]


def check_fits(n_rows: int) -> None:
    """Refuse, before any work, a table longer than one Excel sheet."""
    if FIRST_ROW + n_rows > EXCEL_MAX_ROWS:
        raise OutputError(
            f"{n_rows} rows do not fit in one Excel sheet (at most {EXCEL_MAX_ROWS - FIRST_ROW}); "
            "use --sample N to export a random sample, or --out run.json to save the parameters only"
        )


def check_models_fit(specs: list[ModelSpec], n_features: int, n_raw: int = 0) -> None:
    """Refuse, before any work, models whose sheets would be wider than Excel's or share a name.

    A sheet holds the ``n_raw`` data columns, the features, a params row or block as wide as
    the features, two or three columns per hidden unit; beyond column XFD a cell would be
    dropped, not written.
    """
    names: dict[str, str] = {}
    for spec in specs:
        widths = hidden_sizes(spec)
        needed = 40 + n_raw + 2 * n_features + 3 * sum(widths) + max(widths, default=0)
        if needed > EXCEL_MAX_COLUMNS:
            raise OptionError(f"--model {spec.name}: its sheet would need about {needed:,} columns ({n_raw:,} data columns, "
                              f"{n_features:,} features and their params), more than Excel's {EXCEL_MAX_COLUMNS:,}; use "
                              "fewer units or columns (a --spec without some), or --out run.json to save the parameters only")
        for sheet in spec.model_kind.sheets:
            name = sheet_name(sheet.base, spec)
            if name in names:
                raise OptionError(f"--model {names[name]} and --model {spec.name} would both be written to sheet {name!r} "
                                  "(sheet names are cut at 31 characters); give one of them other sizes")
            names[name] = spec.name
