"""The bench workflow: scans in, guarded status changes and feedback out."""

from station.workflow.bench import BenchWorkflow
from station.workflow.context import BenchDevices
from station.workflow.outcome import ScanOutcome, message
from station.workflow.settings import WorkflowSettings

__all__ = ["BenchDevices", "BenchWorkflow", "ScanOutcome", "WorkflowSettings", "message"]
