"""chainer.emulator: a local Ark-compatible video-task server that renders real clips.

    from chainer.emulator import Emulator, EmulatorConfig
    with Emulator(EmulatorConfig(latency=0.5)) as emu:
        emu.base_url      # "http://127.0.0.1:PORT/api/v3" (the Ark base URL)
        emu.stats()       # same JSON as GET /_emulator/stats

Stats keys: tasks_created, tasks_by_model, tasks_by_status (current), tasks_active,
creates_rejected, creates_rejected_by_code, requests, creates, gets, lists, deletes, downloads,
bytes_served, renders, render_seconds, callbacks_sent (attempts), callbacks_acked,
callbacks_failed, unauthorized, client_disconnects, faults_injected, limits (the account's
limits and peak tasks in flight: see chainer/emulator/limits.py).

Wire shape: ``EmulatorConfig(api="ark"|"byteplus"|"fal"|"replicate")`` (see ``profiles/``);
``base_url`` is then that host's base URL on loopback.

Test knobs: ``EmulatorConfig(clock=OffsetClock())`` then ``clock.advance(3600)`` expires tasks and
result URLs without sleeping; ``faults=`` a dict, a JSON/YAML path or a :class:`FaultConfig`.
"""
from .config import EmulatorConfig, OffsetClock
from .faults import FaultConfig
from .server import Emulator

__all__ = ["Emulator", "EmulatorConfig", "FaultConfig", "OffsetClock"]
