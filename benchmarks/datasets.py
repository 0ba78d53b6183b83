"""Real tables that pip packages ship, loaded offline, for the "any CSV" benchmark and tests.

Every loader returns a :class:`Dataset` (name, frame, target, id column or None, task) built
from files inside an installed package: nothing is downloaded and no data file is kept in this
repository. A loader whose package is missing raises ``ImportError`` (:func:`available` skips
it). Each table keeps its columns as shipped, except where the ``note`` says otherwise (rows
without a target are dropped; a target derived as the package's own examples derive it).

Licences and sources (the data stay in their packages):

* palmerpenguins (package MIT; data CC0, Horst, Hill and Gorman 2020, Palmer Station LTER);
* scikit-learn's diabetes (Efron et al. 2004, "Least Angle Regression"), breast_cancer
  (UCI Wisconsin Diagnostic Breast Cancer, CC BY 4.0), iris (Fisher 1936) and wine (UCI Wine,
  Forina et al., CC BY 4.0), shipped in scikit-learn (BSD-3);
* vega_datasets' local files (package MIT; vega-datasets BSD-3): cars (StatLib, CMU),
  seattle-weather (NOAA, public domain), barley (Immer et al. 1934, via Cleveland);
* statsmodels' datasets (statsmodels BSD-3; each dataset's ``COPYRIGHT`` is quoted in
  :data:`LICENCES`): fair, spector, star98, randhie, anes96, grunfeld.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import pandas as pd


class Dataset(NamedTuple):
    """One real table and what to predict from it.

    Attributes
    ----------
    name : str
        Short name used in reports.
    frame : pandas.DataFrame
        The table, target column included.
    target : str
        Column to predict.
    id : str or None
        Column naming each row (unique), or None.
    task : {"binary", "regression", "multiclass"}
        What titanic-lab should infer from the target.
    """

    name: str
    frame: pd.DataFrame
    target: str
    id: str | None
    task: str


#: Where each dataset comes from and under which terms (shown in benchmarks/any_csv.md).
LICENCES: dict[str, str] = {
    "penguins_mass": "palmerpenguins: data CC0 (Palmer Station LTER), package MIT",
    "penguins_sex": "palmerpenguins: data CC0 (Palmer Station LTER), package MIT",
    "diabetes": "scikit-learn (BSD-3): Efron et al. 2004",
    "breast_cancer": "scikit-learn (BSD-3): UCI WDBC, CC BY 4.0",
    "cars": "vega_datasets (MIT; vega-datasets BSD-3): StatLib, CMU",
    "seattle_weather": "vega_datasets (MIT; vega-datasets BSD-3): NOAA, public domain",
    "barley": "vega_datasets (MIT; vega-datasets BSD-3): Immer et al. 1934",
    "fair": "statsmodels (BSD-3): 'Included with permission of the author.'",
    "spector": "statsmodels (BSD-3): 'Used with express permission of the original author'",
    "star98": "statsmodels (BSD-3): 'Used with express permission from the original author'",
    "randhie": "statsmodels (BSD-3): 'This is in the public domain.'",
    "anes96": "statsmodels (BSD-3): 'This is public domain.'",
    "grunfeld": "statsmodels (BSD-3): 'This is public domain.'",
    "penguins_species": "palmerpenguins: data CC0 (Palmer Station LTER), package MIT",
    "iris": "scikit-learn (BSD-3): Fisher 1936",
    "wine": "scikit-learn (BSD-3): UCI Wine (Forina et al.), CC BY 4.0",
    "airports": "vega_datasets (MIT; vega-datasets BSD-3): FAA airports, public domain",
}

#: What each loader changes from the table as shipped.
NOTES: dict[str, str] = {
    "penguins_mass": "rows without body_mass_g dropped (2); sex keeps its blanks",
    "penguins_sex": "rows without sex dropped (11); sex is text (female/male)",
    "diabetes": "unscaled values (scaled=False); target renamed progression; sex is 1/2",
    "breast_cancer": "target 0 = malignant, 1 = benign, as shipped; headers with spaces",
    "cars": "rows without Miles_per_Gallon dropped; Name free text; Year a date",
    "seattle_weather": "date as the id column; weather a 5-level categorical",
    "barley": "variety (10) and site (6) categoricals, year two-level",
    "fair": "target affair = affairs > 0 (as statsmodels' logit example); affairs dropped",
    "spector": "32 rows: 7 held out, one row is 0.14 of accuracy",
    "star98": "target pct_above = NABOVE / (NABOVE + NBELOW) (statsmodels' binomial GLM example); counts dropped",
    "randhie": "mdvis (doctor visits, counts) as a regression target",
    "anes96": "vote (0 Clinton, 1 Dole) as a binary target",
    "grunfeld": "invest regression; firm a 10-level text categorical",
    "penguins_species": "species (Adelie, Chinstrap, Gentoo) as a multiclass target; every row kept",
    "iris": "target as the species' names (setosa, versicolor, virginica); headers with spaces",
    "wine": "target as class_0, class_1, class_2 (scikit-learn's target_names)",
    "airports": "US rows only; latitude from state (56 levels: a many-valued categorical), longitude and city (free text); iata the id",
}


def penguins_mass() -> Dataset:
    """Palmer penguins' body mass in grams (regression; species, island, sex categorical)."""
    from palmerpenguins import load_penguins

    frame = load_penguins().dropna(subset=["body_mass_g"]).reset_index(drop=True)
    return Dataset("penguins_mass", frame, "body_mass_g", None, "regression")


def penguins_sex() -> Dataset:
    """Palmer penguins' sex as a text binary target (rows without sex dropped)."""
    from palmerpenguins import load_penguins

    frame = load_penguins().dropna(subset=["sex"]).reset_index(drop=True)
    return Dataset("penguins_sex", frame, "sex", None, "binary")


def diabetes() -> Dataset:
    """scikit-learn's diabetes progression (regression), unscaled."""
    from sklearn.datasets import load_diabetes

    frame = load_diabetes(as_frame=True, scaled=False).frame.rename(columns={"target": "progression"})
    return Dataset("diabetes", frame, "progression", None, "regression")


def breast_cancer() -> Dataset:
    """scikit-learn's breast cancer diagnosis (binary 0/1)."""
    from sklearn.datasets import load_breast_cancer

    return Dataset("breast_cancer", load_breast_cancer(as_frame=True).frame, "target", None, "binary")


def cars() -> Dataset:
    """vega_datasets' cars: miles per gallon (regression; Origin categorical, Name free text)."""
    from vega_datasets import local_data

    frame = local_data.cars().dropna(subset=["Miles_per_Gallon"]).reset_index(drop=True)
    frame["Year"] = frame["Year"].dt.strftime("%Y-%m-%d")
    return Dataset("cars", frame, "Miles_per_Gallon", None, "regression")


def seattle_weather() -> Dataset:
    """vega_datasets' Seattle weather: the day's highest temperature (regression), date as id."""
    from vega_datasets import local_data

    frame = local_data.seattle_weather()
    frame["date"] = frame["date"].dt.strftime("%Y-%m-%d")
    return Dataset("seattle_weather", frame, "temp_max", "date", "regression")


def barley() -> Dataset:
    """vega_datasets' barley yields (regression; variety and site categorical)."""
    from vega_datasets import local_data

    return Dataset("barley", local_data.barley(), "yield", None, "regression")


def fair() -> Dataset:
    """statsmodels' fair: whether a woman reported an affair (binary)."""
    from statsmodels.datasets import fair as module

    frame = module.load_pandas().data
    frame["affair"] = (frame.pop("affairs") > 0).astype(int)
    return Dataset("fair", frame, "affair", None, "binary")


def spector() -> Dataset:
    """statsmodels' spector: grade improved after a teaching method (binary, 32 rows)."""
    from statsmodels.datasets import spector as module

    return Dataset("spector", module.load_pandas().data, "GRADE", None, "binary")


def star98() -> Dataset:
    """statsmodels' star98: share of a district's pupils above the national median (regression)."""
    from statsmodels.datasets import star98 as module

    frame = module.load_pandas().data
    above, below = frame.pop("NABOVE"), frame.pop("NBELOW")
    frame["pct_above"] = above / (above + below)
    return Dataset("star98", frame, "pct_above", None, "regression")


def randhie() -> Dataset:
    """statsmodels' RAND health insurance experiment: doctor visits (regression, 20,190 rows)."""
    from statsmodels.datasets import randhie as module

    return Dataset("randhie", module.load_pandas().data, "mdvis", None, "regression")


def anes96() -> Dataset:
    """statsmodels' 1996 American National Election Study: vote (binary)."""
    from statsmodels.datasets import anes96 as module

    return Dataset("anes96", module.load_pandas().data, "vote", None, "binary")


def grunfeld() -> Dataset:
    """statsmodels' Grunfeld investment data (regression; firm categorical)."""
    from statsmodels.datasets import grunfeld as module

    return Dataset("grunfeld", module.load_pandas().data, "invest", None, "regression")


def penguins_species() -> Dataset:
    """Palmer penguins' species (multiclass: Adelie, Chinstrap, Gentoo)."""
    from palmerpenguins import load_penguins

    return Dataset("penguins_species", load_penguins(), "species", None, "multiclass")


def _sklearn_classes(name: str) -> Dataset:
    """scikit-learn's ``load_<name>`` with its target as the class names (multiclass)."""
    from sklearn import datasets

    bunch = getattr(datasets, f"load_{name}")(as_frame=True)
    frame = bunch.frame.assign(target=[bunch.target_names[i] for i in bunch.target])
    return Dataset(name, frame, "target", None, "multiclass")


def iris() -> Dataset:
    """scikit-learn's iris: the species from four measurements (multiclass, 150 rows)."""
    return _sklearn_classes("iris")


def wine() -> Dataset:
    """scikit-learn's wine: the cultivar from 13 chemical measurements (multiclass, 178 rows)."""
    return _sklearn_classes("wine")


def airports() -> Dataset:
    """vega_datasets' airports in the US: latitude (regression) from state, a text column of 56 levels, and longitude."""
    from vega_datasets import local_data

    frame = local_data.airports()
    frame = frame[frame["country"] == "USA"].drop(columns=["name", "country"]).reset_index(drop=True)
    return Dataset("airports", frame, "latitude", "iata", "regression")


LOADERS: dict[str, Callable[[], Dataset]] = {
    f.__name__: f
    for f in (penguins_mass, penguins_sex, diabetes, breast_cancer, cars, seattle_weather, barley, fair, spector, star98,
              randhie, anes96, grunfeld, penguins_species, iris, wine, airports)
}


def available(names: list[str] | None = None) -> tuple[list[Dataset], dict[str, str]]:
    """The datasets whose packages are installed, and for the others why they were skipped."""
    loaded, skipped = [], {}
    for name in names or list(LOADERS):
        try:
            loaded.append(LOADERS[name]())
        except ImportError as exc:
            skipped[name] = f"{exc.name or exc} is not installed"
    return loaded, skipped
