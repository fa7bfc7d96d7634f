"""``pmsim sweep GRID.toml``: many one-book points of a base config, batched in lockstep, run on Dask.

An axis is a dotted key path into the config; a sleeve of a ``[[sleeves]]`` book is entered by its name
(``"sleeves.trend.budget.stages"``, ``"sleeves.core.params.leverage"``; an unknown name is an error
listing the sleeves). Which points share a batch: ``batches``.

The sweep folder (``--out``) is the data the scalable report reads:

- ``.pmsim-sweep.json``: the marker: ``kind = "sweep"``, the grid's hash, its axes, ``top``/``by``/``keep``,
  the point and batch counts and ``complete`` (false while batches are missing);
- ``results/batch=<key>/part.parquet``: a Hive-partitioned dataset, ONE ROW PER POINT: ``point`` (its id),
  one column per axis (named by its dotted key path; lists and tables as JSON text) and every metric of
  ``simulator.metrics.METRICS`` (``pd.read_parquet(OUT / "results")`` reads it all, adding ``batch``);
- ``results/batch=<key>/_series.parquet``: full series (``series.parquet``'s columns, ``config`` replaced
  by ``point``) of that batch's own top-k points and the named ones (ignored by dataset readers: ``_``);
- ``top.parquet``: the same series for the sweep's top-k points by ``--by`` plus the named points.

Bounds: the rows take points x (axes + 21 metrics) cells; full series take at most
(batches + 1) x (k + named) x bars x 15 columns on disk (a ``[[sleeves]]`` book of G sleeves adds
G x (5 + instruments) ``column@sleeve`` columns). A worker holds one batch at a time: S (at most
50) books x bars x 15 series columns plus the engine's state (bench/bench_sweep.py: a peak of 0.9 GB
resident for S = 50 over 8,760 bars, imports included); the client holds the rows and one batch's result.
A batch's key is the hash of its points' ids and resolved configs, and its partition is committed whole by
an atomic folder rename, so a killed sweep re-run with the same grid skips what is committed.
"""
