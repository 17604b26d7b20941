"""chain: extend: request parts and local rules (chainer/extension.py), and a 4-shot chain on the
emulator: every extension request carries the previous clip, the seams hold no repeated frame,
and they score better than the same chain by last frame."""
from __future__ import annotations

import io
import math

import httpx
import pytest
from PIL import Image

from chainer import models
from chainer.emulator import Emulator, EmulatorConfig
from chainer.errors import InputError
from chainer.extension import (check_extension_source, extension_content, extension_prompt,
                               supports_extension, tokens_with_video_input)
from chainer.review.takes import held_head, score_take
from emulator_util import V20, client, create, data_url, image, wait_status

W, H = models.resolve_model(V20).pixels("480p", "16:9")


def test_prompt_and_content():
    assert extension_prompt("the boats sail on") == "extend video 1, the boats sail on"
    assert extension_prompt("Extend video 1 into the storm") == "Extend video 1 into the storm"
    assert extension_prompt("") == "extend video 1"
    content, extra = extension_content("on", "https://x/v.mp4", "2.0")
    assert content == [{"type": "text", "text": "extend video 1, on"},
                       {"type": "video_url", "video_url": {"url": "https://x/v.mp4"}, "role": "reference_video"}]
    assert extra == {}
    assert extension_content("on", "https://x/v.mp4", "2.5")[1] == {"omni_reference_task_type": "extend",
                                                                    "ratio": "adaptive"}


def test_source_rules():
    ok = check_extension_source(5.04, model=V20, family="2.0", max_reference_videos=3)
    assert ok.seconds == pytest.approx(5.04) and not ok.cut
    with pytest.raises(InputError, match=r"sb.yaml: shots\[2\].chain: chain: extend needs a model"):
        check_extension_source(5, model="m15", family="1.5", max_reference_videos=0, where="sb.yaml: shots[2].chain")
    with pytest.raises(InputError, match="at least 2 s"):
        check_extension_source(1.2, model=V20, family="2.0", max_reference_videos=3)
    with pytest.raises(InputError, match="at most 15 s"):
        check_extension_source(20.0, model=V20, family="2.0", max_reference_videos=3)
    cut = check_extension_source(20.0, model=V20, family="2.0", max_reference_videos=3, host_accepts_cut=True)
    assert cut.cut and cut.start == pytest.approx(5.0) and cut.seconds == pytest.approx(15.0)
    assert supports_extension("2.5", 10) and not supports_extension("2.0", 0)


def test_tokens_with_video_input():
    assert tokens_with_video_input(1280, 720, 97, [97 / 24], "2.0") == 173_700      # hosts-2026 s4
    assert tokens_with_video_input(854, 480, 97, [5.0], "2.5") == 86_867             # APIYI 2.5 case
    assert tokens_with_video_input(864, 496, 97, [2.04], "2.0") == 70_308            # the 2.0 minimum
    assert tokens_with_video_input(864, 496, 97, [], "2.0") == math.floor(864 * 496 * 97 / 1024)


@pytest.fixture(scope="module")
def chains(tmp_path_factory):
    """The same 4-shot storyboard chained by last frame and by extension, on the emulator."""
    tmp = tmp_path_factory.mktemp("chains")
    prompts = ["boats on a lake, static camera", "the boats race on, static camera",
               "the wind rises, static camera", "evening falls, static camera"]
    base = {"model": V20, "resolution": "480p", "ratio": "16:9", "duration": 4, "return_last_frame": True,
            "generate_audio": False}
    out = {}
    with Emulator(EmulatorConfig(latency=0, render_workers=2, x264_preset="veryfast")) as e, client(e) as c:
        first = wait_status(c, create(c, {**base, "content": [
            {"type": "text", "text": prompts[0]},
            {"type": "image_url", "image_url": {"url": data_url(image(W, H, seed=1))}, "role": "first_frame"}]}),
            timeout=120)
        for mode in ("last_frame", "extend"):
            tasks, bodies = [first], []
            for p in prompts[1:]:
                prev = tasks[-1]
                if mode == "extend":
                    content, extra = extension_content(p, prev["content"]["video_url"], "2.0")
                else:
                    png = httpx.get(prev["content"]["last_frame_url"], trust_env=False).content
                    content, extra = [{"type": "text", "text": p}, {"type": "image_url", "image_url": {
                        "url": data_url(Image.open(io.BytesIO(png)))}, "role": "first_frame"}], {}
                bodies.append({**base, **extra, "content": content})
                done = wait_status(c, create(c, bodies[-1]), timeout=120)
                assert done["status"] == "succeeded", done
                tasks.append(done)
            paths = []
            for k, t in enumerate(tasks):
                path = tmp / f"{mode}-{k}.mp4"
                path.write_bytes(httpx.get(t["content"]["video_url"], trust_env=False).content)
                paths.append(path)
            out[mode] = {"tasks": tasks, "bodies": bodies, "clips": paths}
    return out


def test_extend_chain_sends_the_previous_clip_and_joins_better(chains):
    ext, lf = chains["extend"], chains["last_frame"]
    for body, prev in zip(ext["bodies"], ext["tasks"]):
        refs = [i for i in body["content"] if i["type"] == "video_url"]
        assert [r["video_url"]["url"] for r in refs] == [prev["content"]["video_url"]]
        assert body["content"][0]["text"].startswith("extend video 1, ")
    for t in ext["tasks"][1:]:                   # billed with the input video
        assert t["usage"]["completion_tokens"] == math.floor(W * H * (97 + 96) / 1024)
    ext_scores, lf_scores = [], []
    for a, b in zip(ext["clips"], ext["clips"][1:]):
        assert held_head(a, b) == 0              # no held or duplicated frame to trim
        ext_scores.append(score_take(b, a))
    for a, b in zip(lf["clips"], lf["clips"][1:]):
        assert held_head(a, b) >= 1              # frame 0 repeats the last frame, then it holds still
        lf_scores.append(score_take(b, a))
    assert max(s.score for s in ext_scores) < min(s.score for s in lf_scores), (
        [s.to_dict() for s in ext_scores], [s.to_dict() for s in lf_scores])
