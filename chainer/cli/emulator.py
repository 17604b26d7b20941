"""``chainer emulator``: run the local Ark-compatible server in the foreground."""
from __future__ import annotations

import signal
import sys
import threading

import click


@click.command("emulator")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=0, type=click.IntRange(0, 65535), show_default=True,
              help="Port (0 = a free one; the base URL is printed).")
@click.option("--latency", default=1.0, type=click.FloatRange(0), show_default=True,
              help="Minimum seconds a task spends running (rendering counts toward it).")
@click.option("--queue-delay", default=0.0, type=click.FloatRange(0), show_default=True,
              help="Minimum seconds a task spends queued.")
@click.option("--concurrency", default=None, type=click.IntRange(1),
              help="Running tasks per model; more wait in 'queued' (default: each model's Ark "
                   "limit, 10; 1.0 lite 5).")
@click.option("--rpm", default=None, type=click.IntRange(1), help="Creates per minute per "
              "model; more are refused with 429 (default: unlimited).")
@click.option("--queued-cap", default=None, type=click.IntRange(0), help="Queued tasks per "
              "account; a create past it is refused with 429 (BytePlus: 120; default: none).")
@click.option("--faults", "faults", type=click.Path(exists=True, dir_okay=False), default=None,
              help="Faults file (JSON or YAML): probabilities/schedules of injected failures.")
@click.option("--drift", default=0.0, type=click.FloatRange(0, 1), show_default=True,
              help="Colour/contrast drift added across every clip (0.05 subtle, 0.2 strong).")
@click.option("--url-ttl", default=86400.0, type=click.FloatRange(0, min_open=True), show_default=True,
              help="Seconds result URLs stay valid (then 403).")
@click.option("--data-dir", type=click.Path(file_okay=False), default=None,
              help="Keep rendered clips here (default: a temp dir removed on exit).")
@click.option("--api", "api", type=click.Choice(["ark", "byteplus", "fal", "replicate"]), default="ark",
              show_default=True, help="Which host's wire shape to serve (same clips, faults and stats).")
@click.option("--api-key-env", default=None, metavar="VAR",
              help="Require the Bearer token to equal the value of this environment variable "
                   "(default: any non-empty token).")
def command(host, port, latency, queue_delay, concurrency, rpm, queued_cap, faults, drift, url_ttl,
            data_dir, api, api_key_env):
    """Run the local video-task emulator until Ctrl-C or SIGTERM.

    Speaks Volcengine Ark by default; --api byteplus|fal|replicate serves that host's wire shape.
    Prints its base URL (for --base-url) on one line, then serves.
    """
    import os

    from ..emulator import Emulator, EmulatorConfig
    from ..errors import InputError

    api_key = None
    if api_key_env:
        api_key = os.environ.get(api_key_env)
        if not api_key:
            raise InputError(f"--api-key-env: environment variable {api_key_env} is not set")
    cfg = EmulatorConfig(host=host, port=port, latency=latency, queue_delay=queue_delay,
                         concurrency=concurrency, rpm=rpm, queued_cap=queued_cap, faults=faults,
                         drift=drift, url_ttl=url_ttl, api_key=api_key, data_dir=data_dir, api=api)
    emu = Emulator(cfg)
    try:
        emu.start()
    except OSError as exc:
        raise InputError(f"--port {port}: cannot listen on {host}:{port} ({exc.strerror})") from None
    stop = threading.Event()

    def _on_signal(signum, frame):
        stop.set()

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _on_signal)
    click.echo(emu.base_url)
    sys.stdout.flush()
    try:
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        emu.stop()
    click.echo("emulator stopped", err=True)
