"""Input conditioning shared by the firmware and the emulator: pedal debounce and the scale's settle detector."""


class Debouncer:
    """Debounces a contact: the level must hold for `debounce_ms` before it counts.

    `update` returns True exactly once per press (the debounced released -> pressed edge), however much the
    contact chatters on the way.
    """

    def __init__(self, debounce_ms: int = 20) -> None:
        self.debounce_ms = debounce_ms
        self.pressed = False
        self._candidate = False
        self._since_ms = 0

    def update(self, raw_pressed: bool, now_ms: int) -> bool:
        """Feed one raw sample; True when this sample completes a debounced press."""
        if raw_pressed != self._candidate:
            self._candidate = raw_pressed
            self._since_ms = now_ms
            return False
        if raw_pressed != self.pressed and now_ms - self._since_ms >= self.debounce_ms:
            self.pressed = raw_pressed
            return raw_pressed
        return False


class SettleDetector:
    """Finds a stable weight: every sample of the last `settle_ms` within `band` of their mean.

    A sample outside the band of the window's mean starts a new run, so placing a box restarts the settle time, and
    slow drift (well inside the band over one window) does not.
    """

    def __init__(self, settle_ms: int = 600, band: float = 3.0) -> None:
        self.settle_ms = settle_ms
        self.band = band
        self._samples: list[tuple[int, float]] = []
        self._run_start_ms = 0

    def clear(self) -> None:
        """Forget all samples (after a tare or a reconfiguration)."""
        self._samples = []

    def add(self, now_ms: int, value: float) -> None:
        """Add one reading."""
        samples = self._samples
        samples.append((now_ms, value))
        if len(samples) == 1:
            self._run_start_ms = now_ms
            return
        mean = self._mean()
        for _t, v in samples:
            if abs(v - mean) > self.band:
                self._samples = [(now_ms, value)]
                self._run_start_ms = now_ms
                return
        cutoff = now_ms - self.settle_ms
        while len(samples) > 1 and samples[0][0] < cutoff:
            samples.pop(0)

    def _mean(self) -> float:
        total = 0.0
        for _t, v in self._samples:
            total += v
        return total / len(self._samples)

    def stable_value(self, now_ms: int) -> float | None:
        """The mean of the window if the reading has been steady for `settle_ms`, else None."""
        if not self._samples or now_ms - self._run_start_ms < self.settle_ms:
            return None
        return self._mean()
