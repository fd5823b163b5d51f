"""The `[workflow]` section: bench rules and timings."""

from pydantic import BaseModel, ConfigDict, Field


class WorkflowSettings(BaseModel):
    """Bench rules and timings."""

    model_config = ConfigDict(extra="forbid")

    default_bench: str = Field("B01", description="Bench id used by scanners attached to this station.")
    idle_lock_s: int = Field(
        900, ge=0, description="Log the packer out after this many seconds without a scan (0 = never)."
    )
    bounce_window_ms: int = Field(
        800,
        ge=0,
        le=10_000,
        description="The same code from the same scanner within this window is a double read: logged, not counted.",
    )
    auto_complete: bool = Field(True, description="Mark the order packed as soon as its last line is verified.")
    reopen_authorisation_s: int = Field(
        60, ge=5, description="After CMD:REOPEN, how long the bench waits for a supervisor badge."
    )
    default_weight_tolerance_g: int = Field(
        50, ge=0, description="Weight tolerance for orders that carry a weight but no tolerance of their own."
    )
    max_qty_multiplier: int = Field(99, ge=1, le=999, description="Largest n accepted in CMD:QTY:n.")
    api_supervisor_badges: bool = Field(
        False,
        description=(
            "Accept a supervisor's badge posted through the HTTP API (POST /benches/{bench}/scans). Off: a "
            "supervisor's authority comes from a badge read by a scanner at the bench, which a bench token alone "
            "cannot fake."
        ),
    )
