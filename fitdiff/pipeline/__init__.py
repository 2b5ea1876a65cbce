"""One command from an analysis file to a report: the staged, content-hashed pipeline.

``run(ANALYSIS.toml, RUN/)`` strings the layers together in one direction::

    load -> extract -> transient -> fit -> sample (if [sample]) -> report

Each stage writes its outputs into ``RUN/`` (atomically, through the layer that owns them) and
then a stage record ``RUN/stages/<stage>.json`` holding the stage's *key* and the SHA-256 of
every output it wrote. The key hashes the part of the run inputs the stage reads
(:mod:`fitdiff.inputs`: the resolved configuration, the content of every file it names, the
fitdiff version), so a rerun reuses exactly the stages whose inputs did not change. The
standalone ``fitdiff fit`` and ``fitdiff sample`` leave the same records.

Modules
-------
``engine``      the stage cache: run or reuse a stage, stage records, :class:`StageError`
``stages``      the six stages and what each reads and writes
``provenance``  ``RUN/provenance.json``: input hashes, versions, seed, times
``progress``    progress lines or a tqdm bar on stderr
``runner``      :func:`run`, :class:`RunSummary`, :func:`run_recorded`
"""

from ..analysis import read_analysis
from ..common import sha256_file
from .engine import RECORDS_DIR, StageError, StageResult, StageRunner, hash_settings, stage_key
from .provenance import DEPENDENCIES, dependency_versions
from .runner import RunSummary, run, run_recorded
from .stages import MEASUREMENTS_FILE, STAGES

__all__ = [
    "DEPENDENCIES",
    "MEASUREMENTS_FILE",
    "RECORDS_DIR",
    "STAGES",
    "RunSummary",
    "StageError",
    "StageResult",
    "StageRunner",
    "dependency_versions",
    "hash_settings",
    "read_analysis",
    "run",
    "run_recorded",
    "sha256_file",
    "stage_key",
]
