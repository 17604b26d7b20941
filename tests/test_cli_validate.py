"""The validate / plan / schema commands, through the real click group."""
from __future__ import annotations

import json
import subprocess
import sys

from storyboard_util import EXAMPLES, FIXTURES, REPO, cli, write

V2 = "doubao-seedance-2-0-260128"


def test_validate_ok_files():
    res = cli("validate", str(EXAMPLES / "demo.yaml"), str(EXAMPLES / "long-form.yaml"))
    assert res.exit_code == 0, res.output
    assert res.stdout.splitlines() == [f"{EXAMPLES / 'demo.yaml'}: ok (4 shots, 2 sequences)",
                                       f"{EXAMPLES / 'long-form.yaml'}: ok (13 shots, 3 sequences)"]
    assert res.stderr == ""


def test_validate_reports_every_problem_once_per_line():
    broken, syntax = FIXTURES / "broken.yaml", FIXTURES / "bad-syntax.yaml"
    res = cli("validate", str(broken), str(EXAMPLES / "demo.yaml"), str(syntax))
    assert res.exit_code == 2
    assert res.stdout == f"{EXAMPLES / 'demo.yaml'}: ok (4 shots, 2 sequences)\n"
    b = str(broken)
    assert res.stderr.splitlines() == [
        f'{b}:6:10: defaults.ratio: YAML read the unquoted 16:9 as the number 969: write it in quotes, ratio: "16:9"',
        f"{b}:7:17: defaults.camera_fixed: camera_fixed is not supported by {V2}: remove it (applies to every shot)",
        f"{b}:9:9: output.file: '../../etc/passwd' leaves the run directory ('..'): give a file name inside it, e.g. video.mp4",
        f"{b}:12:5: shots[0].promt: unknown field 'promt' (did you mean 'prompt'?)",
        f"{b}:14:15: shots[1].duration: 20 is out of range 4..15 for {V2} (or -1: the model chooses)",
        f"{b}:16:17: shots[2].references: a shot with references cannot chain from shots[1]'s last frame (Ark forbids mixing reference and first-frame modes): use cut: true to start a new sequence with references, or drop the references",
        f"{b}:16:27: shots[2].references.images[0]: file not found: missing.jpg (relative to {FIXTURES})",
        f"{syntax}:4:4: YAML syntax error: while parsing a block collection expected <block end>, but found '<block sequence start>'",
    ]
    assert "Traceback" not in res.output


def test_validate_missing_file(tmp_path):
    res = cli("validate", str(tmp_path / "nope.yaml"))
    assert res.exit_code == 2
    assert res.stderr == f"error: {tmp_path / 'nope.yaml'}: file not found\n"


def test_plan_table_and_totals():
    res = cli("plan", str(EXAMPLES / "demo.yaml"))
    assert res.exit_code == 0, res.output
    out = res.stdout
    assert "864×496" in out and "40,594" in out and "1.87" in out
    assert "Total: 4 paid tasks, 16 s of video, 162,376 est tokens, est cost 7.47 CNY" in out
    assert "Critical path: sequence 1 (3 shots, 12 s of video" in out


def test_plan_unknown_price_and_flag(tmp_path):
    lite = "doubao-seedance-1-0-lite-t2v-250428"
    path = write(tmp_path, f"""
        model: {lite}
        shots:
          - prompt: a
            resolution: 720p
        """)
    res = cli("plan", "--provider", "replicate", str(path))     # no Replicate prices known
    assert res.exit_code == 0
    assert f"est cost unknown (price unknown for {lite})" in res.stdout
    res = cli("plan", "--json", "--provider", "replicate", "--price", f"{lite}=20", str(path))
    data = json.loads(res.stdout)
    assert data["totals"]["est_tokens"] == 103_818 and data["totals"]["currency"] == "USD"
    assert data["totals"]["est_cost"] == round(103_818 / 1e6 * 20, 4)
    assert data["totals"]["cost_complete"] is True


def test_plan_bad_price_flag():
    res = cli("plan", "--price", "nonsense", str(EXAMPLES / "demo.yaml"))
    assert res.exit_code == 2
    assert res.stderr == ("error: --price 'nonsense': expected MODEL=CNY_PER_MILLION_TOKENS, "
                          "e.g. --price doubao-seedance-2-0-260128=46\n")


def test_plan_json_draft():
    res = cli("plan", "--json", "--draft", str(EXAMPLES / "long-form.yaml"))
    data = json.loads(res.stdout)
    assert data["draft"] is True
    assert {s["model"] for s in data["shots"]} == {"doubao-seedance-2-0-fast-260128"}
    assert {s["resolution"] for s in data["shots"]} == {"480p"}
    assert data["totals"]["cost_complete"] is True       # 2.0 fast: 37 CNY (issue 12)


def test_plan_invalid_storyboard_exits_2():
    res = cli("plan", str(FIXTURES / "broken.yaml"))
    assert res.exit_code == 2 and len(res.stderr.splitlines()) == 7


def test_schema_matches_shipped_file():
    res = cli("schema")
    assert res.exit_code == 0
    schema = json.loads(res.stdout)
    assert schema == json.loads((EXAMPLES / "storyboard.schema.json").read_text())
    shot = schema["$defs"]["Shot"]
    assert shot["additionalProperties"] is False and "description" in shot["properties"]["cut"]
    assert set(schema["required"]) == {"shots"}


def test_python_m_chainer_validate_smoke():
    proc = subprocess.run([sys.executable, "-m", "chainer", "validate",
                           str(EXAMPLES / "demo.yaml"), str(FIXTURES / "bad-syntax.yaml")],
                          capture_output=True, text=True, cwd=REPO, timeout=60)
    assert proc.returncode == 2
    assert proc.stdout.endswith("demo.yaml: ok (4 shots, 2 sequences)\n")
    assert proc.stderr.startswith(f"{FIXTURES / 'bad-syntax.yaml'}:4:4: YAML syntax error")


def test_validate_names_the_host_that_lacks_a_model(tmp_path):
    path = write(tmp_path, """
        shots:
          - prompt: a
            model: seedance-1.0-lite
          - prompt: b
            model: seedance-2.0
            resolution: 4k
            cut: true
        """)
    assert cli("validate", str(path)).exit_code == 0
    res = cli("validate", "--provider", "byteplus", str(path))
    assert res.exit_code == 2
    assert res.stderr.splitlines() == [
        f"{path}:3:12: shots[0].model: seedance-1.0-lite is not offered on byteplus "
        "(offered on: ark, fal, replicate)"]
    res = cli("validate", "--provider", "fal", str(path))
    assert res.exit_code == 2 and "fal does not offer seedance-2.0 at 4k" in res.stderr
