"""The bench I/O controller as the core sees it: an Indicator (stack light + buzzer), a Scale, and a pedal.

Feedback patterns map to lamp and buzzer patterns so that each outcome sounds and looks different: a wrong item
is three short beeps on a blinking red, a blocked order a continuous alarm until the next good scan, and so
on. A device that is down has a pattern of its own (fast-blinking amber and the protocol's `fault` buzzer), unlike
both "needs supervisor" and the controller's safe state (slow-blinking amber, silent); while it stays down, a
good scan's green gives way to the fault light again after a few seconds. `signal` may be called from
any thread (the workflow signals from the database thread); the commands are sent on the event loop. A pedal press
becomes a command scan (COMPLETE by default).
"""

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass

from firmware_bridge import BenchController, BenchEvent, ConnectionChanged, DeviceFault, PedalPressed
from station.orders.model import Feedback

logger = logging.getLogger(__name__)

# Device faults that report something that happened rather than a state: `event_overflow` means the controller's
# event backlog was full while the host was away and its oldest event (a pedal press, a weight) was lost.
NOTICE_FAULTS = frozenset({"event_overflow"})


@dataclass(frozen=True, slots=True)
class Output:
    """What the light and buzzer do for one feedback pattern."""

    red: str = "off"
    amber: str = "off"
    green: str = "off"
    buzzer: str | None = None  # None: leave the buzzer as it is


FEEDBACK_OUTPUT: dict[Feedback, Output] = {
    Feedback.OK: Output(green="steady", buzzer="ok"),
    Feedback.WRONG_ITEM: Output(red="blink", buzzer="wrong_item"),
    Feedback.OVER_QUANTITY: Output(red="blink", amber="blink", buzzer="over_quantity"),
    Feedback.BLOCKED: Output(red="fast_blink", buzzer="blocked"),
    Feedback.NEEDS_SUPERVISOR: Output(amber="blink", buzzer="needs_supervisor"),
    Feedback.ERROR: Output(amber="steady", buzzer="error"),
    # Red and amber together are no scan answer: the order itself changed. The alarm runs until a good scan.
    Feedback.ORDER_CHANGED: Output(red="blink", amber="blink", green="blink", buzzer="blocked"),
    Feedback.ATTENTION: Output(amber="blink"),
    Feedback.DEVICE_FAULT: Output(amber="fast_blink", buzzer="fault"),
    Feedback.DEVICE_OK: Output(buzzer="off"),
}
# The device-fault light without its sound: shown again after a good scan while a device is still down.
FAULT_LIGHT_ONLY = Output(amber="fast_blink")
RESTORE_FAULT_AFTER_S = 3.0


class BenchIo:
    """Indicator and Scale for one bench over its I/O controller."""

    def __init__(
        self,
        controller: BenchController,
        bench_id: str,
        *,
        pedal_command: str,
        on_pedal: Callable[[str, str], None],
        on_device_state: Callable[[str, bool, str], None],
    ) -> None:
        self.controller = controller
        self.bench_id = bench_id
        self.pedal_command = pedal_command
        self._on_pedal = on_pedal
        self._on_device_state = on_device_state
        self._loop: asyncio.AbstractEventLoop | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._stopping = False
        self._showing: Feedback | None = None
        self._signals = 0  # counts signals, so that a delayed restore knows whether another came since
        self._device_fault = False  # a device is down (between DEVICE_FAULT and DEVICE_OK)
        # A good scan shows green for this long, then the device-fault light comes back while a device is down.
        self.restore_fault_after_s = RESTORE_FAULT_AFTER_S
        controller.on_event(self._handle_event)

    async def start(self) -> None:
        """Start the controller link (returns at once; the bench works without its controller)."""
        self._loop = asyncio.get_running_loop()
        await self.controller.start()

    async def stop(self) -> None:
        """Stop the link; pending output commands are dropped (a deliberate stop is not a device failure)."""
        self._stopping = True
        for task in list(self._tasks):
            task.cancel()
        await self.controller.stop()

    # -- Indicator --------------------------------------------------------------------------------------------------
    def signal(self, bench_id: str, feedback: Feedback, message: str) -> None:
        """Show the feedback on this bench's light and buzzer (any thread; never blocks)."""
        output = FEEDBACK_OUTPUT.get(feedback)
        loop = self._loop
        if bench_id != self.bench_id or output is None or loop is None or loop.is_closed():
            return
        if feedback is Feedback.DEVICE_FAULT and not self.controller.connected:
            # The controller shows its own safe state; a fault pattern kept for it would be restored on replug and
            # sound on after the controller's own alert has cleared.
            return
        if feedback is Feedback.DEVICE_FAULT:
            self._device_fault = True
        elif feedback is Feedback.DEVICE_OK:
            self._device_fault = False
            if self._showing is not Feedback.DEVICE_FAULT:
                return  # a scan has replaced the fault pattern since: leave its feedback alone
        self._showing = feedback
        self._signals += 1
        loop.call_soon_threadsafe(self._spawn, output)
        if feedback is Feedback.OK and self._device_fault:
            # A device is still down: after the green, the fault light comes back (silently), so that the packer
            # is not left with "all good" while, say, the printer is off. Refusals keep their pattern until the
            # next scan: they ask the packer to act.
            loop.call_soon_threadsafe(loop.call_later, self.restore_fault_after_s, self._restore_fault, self._signals)

    def _restore_fault(self, signals_then: int) -> None:
        if self._stopping or not self._device_fault or self._signals != signals_then:
            return
        self._showing = Feedback.DEVICE_FAULT
        self._spawn(FAULT_LIGHT_ONLY)

    def _spawn(self, output: Output) -> None:
        task = asyncio.get_running_loop().create_task(self._show(output))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _show(self, output: Output) -> None:
        try:
            await self.controller.set_lamps(red=output.red, amber=output.amber, green=output.green)
            if output.buzzer is not None:
                await self.controller.set_buzzer(output.buzzer)
        except Exception:
            logger.exception("could not show feedback on the bench controller")

    # -- Scale ------------------------------------------------------------------------------------------------------
    def stable_weight_g(self, bench_id: str) -> int | None:
        """The scale's last stable weight, or None when the controller is not connected."""
        if bench_id != self.bench_id or not self.controller.connected:
            return None
        return self.controller.latest_stable_weight_g

    # -- device events ----------------------------------------------------------------------------------------------
    def _handle_event(self, event: BenchEvent) -> None:
        if self._stopping:
            return
        if isinstance(event, PedalPressed):
            logger.info("pedal pressed at bench %s: %s", self.bench_id, self.pedal_command)
            self._on_pedal(self.bench_id, self.pedal_command)
        elif isinstance(event, ConnectionChanged):
            self._on_device_state("controller", event.connected, event.reason)
        elif isinstance(event, DeviceFault) and event.code in NOTICE_FAULTS:
            # Not a state: the controller says it once per session and never clears it. Record it as an alert
            # raised and cleared at once, so that it is on the timeline without standing forever.
            logger.warning("bench controller at %s: %s", self.bench_id, event.code)
            self._on_device_state(f"controller:{event.code}", False, event.code)
            self._on_device_state(f"controller:{event.code}", True, "")
        elif isinstance(event, DeviceFault):
            self._on_device_state(f"controller:{event.code}", not event.active, event.code)
