"""Datasets: what a table is (:mod:`.spec`), reading any CSV (:mod:`.csv`), inferring a spec for it
(:mod:`.infer`), and the built-in datasets (:mod:`.titanic`) listed in :mod:`.registry`.

The folder also holds the bundled CSVs (``titanic3.csv``, ``penguins.csv``) as package data.
"""
