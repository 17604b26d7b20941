"""The API key never leaves the process: not in any file of the run directory (the SQLite journal
included), not in any output line, not in error messages, not in exceptions of chainer.ark —
even when the provider echoes the key back in its error messages."""
from __future__ import annotations

import traceback
from pathlib import Path

import pytest

from chainer.ark import ArkClient, ArkError
from chainer.emulator import Emulator, EmulatorConfig
from render_util import MODEL
from soak_util import RenderProcess, chained_storyboard, run_cli

KEY = "sk-TESTSECRET-1234567890"
NEEDLES = [KEY.encode(), KEY.encode("utf-16-le"), KEY[3:].encode()]   # also without the prefix


def _leaks(run_dir: Path) -> list[str]:
    out = []
    for p in sorted(run_dir.rglob("*")):
        if p.is_file():
            data = p.read_bytes()
            if any(n in data for n in NEEDLES):
                out.append(str(p.relative_to(run_dir)))
    return out


def _assert_clean_output(r: RenderProcess) -> None:
    text = r.stdout + "\n" + r.stderr
    assert KEY not in text and KEY[3:] not in text, [ln for ln in text.splitlines() if KEY[3:] in ln]
    assert "Traceback" not in text


@pytest.fixture(scope="module")
def storyboard(tmp_path_factory):
    d = tmp_path_factory.mktemp("secrets")
    return chained_storyboard(d / "sb.yaml", 3, 2)


def test_clean_render_leaves_no_key(storyboard, tmp_path):
    run_dir = tmp_path / "run"
    with Emulator(EmulatorConfig(latency=0.2)) as emu:
        r = RenderProcess(storyboard, run_dir, emu.base_url, KEY)
        assert r.finish() == 0, r.stderr
        assert emu.stats()["tasks_created"] == 3
    _assert_clean_output(r)
    assert (run_dir / "journal.sqlite").stat().st_size > 0
    assert _leaks(run_dir) == []
    st = run_cli("status", str(run_dir))
    assert st.returncode == 0 and KEY[3:] not in st.stdout + st.stderr


ECHO = f"request with Authorization: Bearer {KEY} for key {KEY}"


def _echo_run(storyboard, run_dir: Path, faults: dict) -> tuple[RenderProcess, int, dict]:
    with Emulator(EmulatorConfig(latency=0.2, faults=faults)) as emu:
        r = RenderProcess(storyboard, run_dir, emu.base_url, KEY)
        rc = r.finish()
        fired = emu.stats()["faults_injected"]
    return r, rc, fired


def _assert_status_clean(run_dir: Path) -> None:
    for args in ((), ("--json",)):
        st = run_cli("status", str(run_dir), *args)
        assert st.returncode == 0, st.stderr
        assert KEY[3:] not in st.stdout + st.stderr


def test_provider_echoing_the_key_in_http_errors(storyboard, tmp_path):
    """HTTP errors whose messages carry the key (a proxy or provider echoing the Authorization
    header): rate limits, 5xx on polls, a dropped connection, a truncated download. The run
    recovers; the messages shown and journaled on the way never hold the key."""
    faults = {"seed": 5,
              "create_429": {"schedule": [1, 2], "message": f"rate limit for {ECHO}"},
              "server_error": {"schedule": [2, 5], "endpoints": ["get"], "message": f"boom {ECHO}"},
              "drop_connection": {"schedule": [7]},
              "truncated_download": {"schedule": [1]}}
    run_dir = tmp_path / "run"
    r, rc, fired = _echo_run(storyboard, run_dir, faults)
    assert fired.get("create_429") == 2 and fired.get("server_error") == 2, fired
    assert rc == 0, r.stderr
    assert "rate limit for request with Authorization" in r.stderr     # the message is shown...
    _assert_clean_output(r)                                             # ...without the key
    assert _leaks(run_dir) == []
    _assert_status_clean(run_dir)


def test_provider_echoing_the_key_in_a_failed_task(storyboard, tmp_path):
    """A failed task whose error message carries the key: the run stops with the provider's
    reason, but not the key, on screen, in the journal, in summary.json and in `chainer status`."""
    run_dir = tmp_path / "run"
    r, rc, fired = _echo_run(storyboard, run_dir, {"task_failed": {"schedule": [2],
                                                                   "message": f"policy ({ECHO})"}})
    assert fired.get("task_failed") == 1
    assert rc == 1, r.stderr
    assert "policy (request with Authorization" in r.stderr
    assert _leaks(run_dir) == []
    _assert_clean_output(r)
    _assert_status_clean(run_dir)


def test_wrong_key_rejected_without_echo(storyboard, tmp_path):
    run_dir = tmp_path / "run"
    with Emulator(EmulatorConfig(latency=0.2, api_key="the-right-key")) as emu:
        r = RenderProcess(storyboard, run_dir, emu.base_url, KEY)
        rc = r.finish()
        assert emu.stats()["tasks_created"] == 0
    assert rc == 1 and "401" in r.stderr, r.stderr
    _assert_clean_output(r)
    assert _leaks(run_dir) == []


def _exception_text(exc: BaseException) -> str:
    parts = ["".join(traceback.format_exception(exc)), repr(exc), str(exc.args)]
    for name in ("provider_message", "message", "path", "method"):
        parts.append(str(getattr(exc, name, "")))
    parts.append(repr(vars(exc)))
    cause = exc.__cause__ or exc.__context__
    while cause is not None:
        parts.append(repr(cause) + repr(getattr(cause, "request", None)))
        cause = cause.__cause__ or cause.__context__
    return "\n".join(parts)


def test_ark_exceptions_never_carry_the_key():
    echo = f"Bearer {KEY}"
    faults = {"server_error": {"schedule": [1], "endpoints": ["get"], "message": f"bad {echo}"},
              "create_429": {"schedule": [1], "message": f"slow down {KEY}"}}
    seen: list[ArkError] = []
    with Emulator(EmulatorConfig(latency=0.1, faults=faults)) as emu:
        with ArkClient(emu.base_url, KEY) as client:
            assert KEY not in repr(client)
            for call in (lambda: client.get("cgt-20260101000000-abcde"),      # 5xx with echo
                         lambda: client.get("cgt-20260101000000-abcde"),      # 404
                         lambda: client.create({"model": "x"}),              # 429 with echo
                         lambda: client.create({"model": MODEL, "duration": 99,      # 400
                                                "content": [{"type": "text", "text": KEY}]})):
                with pytest.raises(ArkError) as info:
                    call()
                seen.append(info.value)
    with Emulator(EmulatorConfig(api_key="the-right-key")) as strict:
        with ArkClient(strict.base_url, KEY) as client:
            with pytest.raises(ArkError) as info:
                client.get("cgt-20260101000000-abcde")                     # 401
            seen.append(info.value)
        dead = strict.base_url
    with ArkClient(dead, KEY, connect_timeout=2.0) as client:              # nobody listens now
        with pytest.raises(ArkError) as info:
            client.get("cgt-20260101000000-abcde")
        seen.append(info.value)
    assert {type(e).__name__ for e in seen} >= {"ArkServerError", "ArkNotFoundError",
                                                 "ArkRateLimitError", "ArkBadRequestError",
                                                 "ArkAuthenticationError", "ArkConnectionError"}
    for exc in seen:
        text = _exception_text(exc)
        assert KEY not in text and KEY[3:] not in text, text
