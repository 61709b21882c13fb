"""MLflow tracking of table builds: one experiment per table, one parent run per build, one child per run.

    start_parent(table, dataset, profile, out_json)   ``ganrepro track start``: the build's parent run
    log_run(run_dir, parent_json, table, row, seed, out_json)
                                                      ``ganrepro track log``: one trained, evaluated run
    log_report(parent_json, files)                    ``ganrepro report --mlflow-parent``: the rendered table

The store is ``$MLFLOW_TRACKING_URI`` or ``sqlite:///<cwd>/mlflow.db`` (see :mod:`ganrepro.tracking.store`).
mlflow itself is imported only inside these functions, so importing this package stays cheap.
"""

from __future__ import annotations

from ganrepro.tracking.artifacts import log_report
from ganrepro.tracking.child import log_run
from ganrepro.tracking.parent import start_parent
from ganrepro.tracking.records import ChildRecord, ParentRecord, read_parent
from ganrepro.tracking.store import tracking_uri

__all__ = ["ChildRecord", "ParentRecord", "log_report", "log_run", "read_parent", "start_parent", "tracking_uri"]
