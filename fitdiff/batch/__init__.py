"""Campaigns: run the pipeline over many measurements on any ``concurrent.futures`` executor.

A campaign file (TOML) names an analysis template and the measurements (paths or globs); each
measurement becomes one call of :func:`fitdiff.pipeline.run` into its own run directory
``OUT/runs/<name>/``, with the measurement's file and values merged into the template as
overrides. :func:`run_campaign` maps these calls over an executor and collects one summary row
per measurement into ``OUT/summary.csv``; an optional ``[global]`` section then fits the
per-measurement results together (e.g. D(T) from the per-temperature D values).

Reliability, in the order it matters:

* a task never raises for bad input: any exception inside a measurement becomes a ``failed``
  row with its message, so one corrupt file never stops the campaign;
* a worker that dies (killed, out of memory, segfault) breaks a process pool: the pool is
  rebuilt and the tasks that had *started* are charged one attempt and resubmitted, those that
  had not are resubmitted free; after ``retries`` extra attempts a task is ``failed``;
* a rerun redoes exactly what changed: every measurement goes through
  :func:`fitdiff.pipeline.run`, whose stage keys derive from the run's inputs
  (:func:`fitdiff.inputs.run_inputs`: the resolved configuration with the overrides, the
  content of every file it references — measurement, covariance, ``pl``, ``table``, the
  valley MODEL.toml — and the fitdiff version) and whose stage records check every output;
  a measurement of which no stage ran is ``reused``. The campaign keeps no completion
  marker of its own; ``batch.json`` beside the outputs only records the row and the digest
  of the run inputs.

Campaign schema (relative paths resolve against the campaign file's folder)::

    [campaign]
    analysis = "base.toml"                  # required: the per-measurement analysis template
    measurements = ["data/T*K.tif"]         # required: paths or globs (``**`` recurses)
    name_pattern = 'T(?P<T_K>[0-9.]+)K'     # optional: named groups of a regex searched in the
                                            #   file name become the measurement's values
    table = "conditions.csv"                # optional: CSV with a ``measurement`` column (file
                                            #   name or relative path); other columns are values
    retries = 1                             # optional: extra attempts after a worker crash (0-5)

    [campaign.values]                       # optional: where values go in the analysis config
    T_K = "dataset.T_K"                     #   (dotted key path); unmapped values only label rows

    [override."T300K.tif"]                  # optional per-measurement overrides (any analysis
    extract = { t_range_ps = [0, 200] }     #   section), keyed by file name or relative path

    [global]                                # optional fit across all successful measurements
    analysis = "dT.toml"                    #   analysis whose [data] table is the campaign table
    x = "T_K"                               #   value column (default T_K)
    y = "D_cm2_s"                           #   summary column fitted (default D_cm2_s); its
                                            #   error is the matching ``_err_`` column

Executors: ``"local"`` (in this process), ``"processes:N"`` (a process pool of N workers),
``"dask://HOST:PORT"`` (a ``distributed.Client`` connected to an existing scheduler), any
``concurrent.futures.Executor`` instance, or a zero-argument factory returning one (which lets a
broken pool be rebuilt).

Run directories are ``OUT/runs/<name>/`` with unique names (:func:`run_names`).

Modules: :mod:`~fitdiff.batch.schema` (the campaign file), :mod:`~fitdiff.batch.executors`,
:mod:`~fitdiff.batch.measurement` (one task, on a worker), :mod:`~fitdiff.batch.runner` (the
campaign over an executor, retries, log) and :mod:`~fitdiff.batch.summary` (summary table,
global fit). This package is orchestration: it may log and show a progress bar
(``progress=True``), and the log goes to ``OUT/batch.log``.
"""

from .executors import DaskExecutor, InlineExecutor, parse_executor
from .measurement import RECORD, STARTED, Task, column_names, fit_columns, run_measurement
from .runner import LOG, RUNS_DIR, CampaignResult, run_campaign
from .schema import MAX_RETRIES, Campaign, MeasurementSpec, load_campaign, run_names
from .summary import GLOBAL_DIR, SUMMARY

#: Former name of :data:`RECORD` (it was a completion marker; it is now only a record).
MARKER = RECORD

__all__ = [
    "GLOBAL_DIR",
    "LOG",
    "MARKER",
    "MAX_RETRIES",
    "RECORD",
    "RUNS_DIR",
    "STARTED",
    "SUMMARY",
    "Campaign",
    "CampaignResult",
    "DaskExecutor",
    "InlineExecutor",
    "MeasurementSpec",
    "Task",
    "column_names",
    "fit_columns",
    "load_campaign",
    "parse_executor",
    "run_campaign",
    "run_measurement",
    "run_names",
]
