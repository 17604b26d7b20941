"""Plan: sequences, sizes against the pixel tables, the billed token formula, prices,
critical path and Ark request bodies."""
from __future__ import annotations

import base64
import json

import pytest

from chainer import models as M
from chainer.plan import build_plan
from storyboard_util import (EXAMPLES, LITE_T2V, P15, PRO, PROFAST, V2, V2F,
                             make_image, write)



def _no_none(obj) -> bool:
    if isinstance(obj, dict):
        return all(v is not None and _no_none(v) for v in obj.values())
    if isinstance(obj, list):
        return all(_no_none(v) for v in obj)
    return obj is not None


def test_billed_formula_example(tmp_path):
    # ark-api.md s11 / hosts-2026.md s4: 2.0 at 720p 16:9 for 5 s is billed 108,900 tokens (24*5+1
    # frames); 46 CNY per million.
    path = write(tmp_path, f"""
        model: {V2}
        shots:
          - prompt: a
            resolution: 720p
            ratio: "16:9"
            duration: 5
        """)
    plan = build_plan(path)
    s = plan.shots[0]
    assert (s.width, s.height, s.frames) == (1280, 720, 121)
    assert s.est_tokens == 108_900 == M.usage_tokens(1280, 720, 5)
    assert s.price_per_mtok == 46.0 and s.est_cost == pytest.approx(108_900 / 1e6 * 46)
    assert plan.total_cost == pytest.approx(5.0094) and plan.cost_complete


def test_demo_plan_matches_pixel_table():
    plan = build_plan(EXAMPLES / "demo.yaml")
    w, h = M.resolve_model(V2).pixels("480p", "16:9")
    assert (w, h) == (864, 496)
    for s in plan.shots:
        assert (s.width, s.height, s.duration, s.frames) == (w, h, 4, 97)
        assert s.est_tokens == w * h * 97 // 1024 == 40_594
    assert [[s.id for s in q.shots] for q in plan.sequences] == [
        ["sunrise", "glide", "porch"], ["fireplace"]]
    assert [s.chained_from for s in plan.shots] == [None, "sunrise", "glide", None]
    assert [s.return_last_frame for s in plan.shots] == [True, True, False, False]
    assert plan.total_tokens == 4 * 40_594 and plan.paid_tasks == 4
    assert plan.critical_path.index == 0
    assert plan.shots[3].transition == "crossfade:0.5"


@pytest.mark.parametrize("model,res,ratio", [
    (PRO, "1080p", "9:16"), (LITE_T2V, "720p", "16:9"), (P15, "480p", "21:9"),
    (V2, "4k", "4:3"), (V2F, "720p", "1:1")])
def test_sizes_and_tokens_per_model(tmp_path, model, res, ratio):
    path = write(tmp_path, f"""
        model: {model}
        shots:
          - prompt: a
            resolution: {res}
            ratio: "{ratio}"
            duration: 5
        """)
    s = build_plan(path).shots[0]
    table = M.PIXEL_TABLES[M.resolve_model(model).pixel_table]
    assert (s.width, s.height) == table[res][ratio]
    assert s.est_tokens == table[res][ratio][0] * table[res][ratio][1] * 121 // 1024


def test_unknown_price_is_not_invented(tmp_path):
    path = write(tmp_path, f"""
        model: {LITE_T2V}
        shots:
          - prompt: a
            resolution: 720p
        """)
    plan = build_plan(path, host="replicate")          # no Replicate price in our sources
    s = plan.shots[0]
    assert s.est_tokens == 103_818                      # 1248x704, 5 s, 121 frames
    assert s.est_cost is None and s.price_per_mtok is None
    assert plan.total_cost is None and not plan.cost_complete
    assert plan.unpriced_models == [LITE_T2V]
    assert any("price unknown" in n for n in plan.notes)


def test_price_overrides_flag_beats_storyboard(tmp_path):
    path = write(tmp_path, f"""
        model: {LITE_T2V}
        pricing: {{{LITE_T2V}: 10, {V2}: 50}}
        shots:
          - prompt: a
            resolution: 720p
          - prompt: b
            model: {V2}
            cut: true
            resolution: 720p
            ratio: "16:9"
        """)
    plan = build_plan(path)
    assert [s.price_per_mtok for s in plan.shots] == [10, 50]
    plan = build_plan(path, pricing={V2: 40})
    assert [s.price_per_mtok for s in plan.shots] == [10, 40]
    assert plan.total_cost == pytest.approx(103_818 / 1e6 * 10 + 108_900 / 1e6 * 40)


def test_video_reference_price_and_mixed_totals(tmp_path):
    make_image(tmp_path / "c.png", 640, 640)
    path = write(tmp_path, f"""
        model: {V2}
        defaults: {{resolution: 720p, ratio: "16:9", duration: 5}}
        shots:
          - prompt: a
            references: {{images: [c.png], videos: ["https://e.com/v.mp4"]}}
          - prompt: b
            model: {PRO}
        """)
    plan = build_plan(path)
    a, b = plan.shots
    # video input: 28 CNY and at least the 2.0 family's minimum, 1280*720*24*(5+4)/1024 tokens
    assert a.price_per_mtok == 28.0 and a.est_tokens == 194_400
    assert a.est_cost == pytest.approx(0.1944 * 28)
    assert b.est_cost is not None and b.chained_from == a.id
    plan = build_plan(path, host="replicate")
    a, b = plan.shots
    assert a.est_cost is None and b.est_cost is None and plan.total_cost is None
    assert not plan.cost_complete and plan.cost_text().startswith("unknown (price unknown for ")


def test_flex_is_half_price(tmp_path):
    path = write(tmp_path, f"""
        model: {PRO}
        pricing: {{{PRO}: 15}}
        shots:
          - prompt: a
            service_tier: flex
            resolution: 480p
            ratio: "16:9"
        """)
    s = build_plan(path).shots[0]
    assert s.est_tokens == 864 * 480 * 121 // 1024
    assert s.price_per_mtok == 7.5 and s.est_cost == pytest.approx(s.est_tokens / 1e6 * 15 * 0.5)


def test_adaptive_ratio_resolution(tmp_path):
    make_image(tmp_path / "portrait.png", 600, 800)       # 3:4
    path = write(tmp_path, f"""
        model: {V2}
        defaults: {{resolution: 480p}}
        shots:
          - prompt: a
            image: portrait.png
          - prompt: b
          - prompt: c
            cut: true
        """)
    plan = build_plan(path)
    a, b, c = plan.shots
    assert (a.request_ratio, a.ratio, a.width, a.height) == ("adaptive", "3:4", 560, 752)
    assert (b.request_ratio, b.ratio, b.width, b.height) == ("adaptive", "3:4", 560, 752)
    assert (c.ratio, c.width, c.height) == ("16:9", 864, 496)
    assert any("assumed 16:9" in n for n in c.notes)


def test_critical_path_is_longest_wall_time(tmp_path):
    path = write(tmp_path, f"""
        model: {V2}
        defaults: {{resolution: 480p, ratio: "16:9", duration: 4}}
        shots:
          - prompt: a
          - prompt: b
          - prompt: c
            cut: true
            model: {PRO}
            duration: 12
          - prompt: d
            cut: true
          - prompt: e
          - prompt: f
        """)
    plan = build_plan(path)
    walls = [q.est_wall_seconds for q in plan.sequences]
    assert walls == [pytest.approx(2 * 4 * 57.0), pytest.approx(12 * 8.0),
                     pytest.approx(3 * 4 * 57.0)]
    assert plan.critical_path.index == 2
    assert plan.to_dict()["critical_path"]["shots"] == ["shot-04", "shot-05", "shot-06"]


def test_frames_and_auto_duration(tmp_path):
    path = write(tmp_path, f"""
        model: {PRO}
        shots:
          - prompt: a
            frames: 57
            resolution: 480p
            ratio: "16:9"
          - prompt: b
            model: {V2}
            cut: true
            duration: -1
            resolution: 480p
            ratio: "16:9"
        """)
    a, b = build_plan(path).shots
    assert (a.frames, a.frames_param, a.seconds, a.duration) == (57, 57, 56 / 24, 3)
    assert a.est_tokens == 864 * 480 * 57 // 1024          # frames=57: 57 frames billed
    body = a.request_body()
    assert body["frames"] == 57 and "duration" not in body
    assert b.duration == -1 and b.duration_auto and b.seconds == 15
    assert b.request_body()["duration"] == -1
    assert b.est_tokens == 864 * 496 * (24 * 15 + 1) // 1024


def test_draft_uses_fast_variant_at_480p(tmp_path):
    make_image(tmp_path / "a.png", 640, 360)
    path = write(tmp_path, f"""
        model: {V2}
        defaults: {{resolution: 1080p, ratio: "16:9"}}
        shots:
          - prompt: a
          - prompt: b
            model: {PRO}
            cut: true
            image: a.png
            last_image: a.png
          - prompt: c
            model: {PRO}
            cut: true
        """)
    plan = build_plan(path, draft=True)
    assert [s.model.id for s in plan.shots] == [V2F, PRO, PROFAST]   # pro-fast has no first+last
    assert {s.resolution for s in plan.shots} == {"480p"} and plan.draft
    assert plan.shots[0].request_body()["model"] == V2F


def test_request_body_t2v_and_chained(tmp_path):
    plan = build_plan(EXAMPLES / "demo.yaml")
    first, second = plan.shots[0], plan.shots[1]
    assert first.request_body() == {
        "model": V2, "content": [{"type": "text", "text": first.prompt}],
        "return_last_frame": True, "resolution": "480p", "ratio": "16:9", "duration": 4,
        "watermark": False, "generate_audio": True}
    with pytest.raises(ValueError):
        second.request_body()
    with pytest.raises(ValueError):
        first.request_body("https://x/last.png")
    body = second.request_body("data:image/png;base64,AAAA")
    assert body["content"][1] == {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"},
                                  "role": "first_frame"}
    assert plan.shots[2].request_body("https://x/y.png")["return_last_frame"] is False


def test_request_body_inlines_local_images_with_roles():
    plan = build_plan(EXAMPLES / "bookends.yaml")
    body = plan.shots[0].request_body()
    roles = [(c["type"], c.get("role")) for c in body["content"]]
    assert roles == [("text", None), ("image_url", "first_frame"), ("image_url", "last_frame")]
    url = body["content"][1]["image_url"]["url"]
    assert url.startswith("data:image/jpeg;base64,")
    assert base64.b64decode(url.split(",", 1)[1]) == (EXAMPLES / "images" / "bud.jpg").read_bytes()
    assert body["generate_audio"] is False and _no_none(body)
    chained = plan.shots[1].request_body("https://x/last.png")
    assert [c.get("role") for c in chained["content"]] == [None, "first_frame", "last_frame"]


def test_request_body_references():
    plan = build_plan(EXAMPLES / "references.yaml")
    body = plan.shots[2].request_body()
    assert [(c["type"], c.get("role")) for c in body["content"]] == [
        ("text", None), ("image_url", "reference_image"), ("video_url", "reference_video"),
        ("audio_url", "reference_audio")]
    assert body["content"][2]["video_url"]["url"] == "https://example.com/media/handheld-walk.mp4"
    assert plan.shots[2].price_per_mtok == 28.0 and _no_none(body)


def test_request_body_v1_params(tmp_path):
    path = write(tmp_path, f"""
        model: {PRO}
        defaults: {{seed: 42, camera_fixed: false, service_tier: flex, watermark: true}}
        shots:
          - prompt: a
            resolution: 480p
        """)
    body = build_plan(path).shots[0].request_body()
    assert body == {"model": PRO, "content": [{"type": "text", "text": "a"}],
                    "return_last_frame": False, "resolution": "480p", "ratio": "16:9",
                    "duration": 5, "watermark": True, "seed": 42, "camera_fixed": False,
                    "service_tier": "flex"}


def test_draft_param_on_15_pro(tmp_path):
    path = write(tmp_path, f"""
        model: {P15}
        shots:
          - prompt: a
            draft: true
        """)
    s = build_plan(path).shots[0]
    body = s.request_body()
    assert body["draft"] is True and body["resolution"] == "480p"
    assert body["return_last_frame"] is False and body["generate_audio"] is True


def test_to_dict_is_json():
    plan = build_plan(EXAMPLES / "long-form.yaml")
    d = json.loads(json.dumps(plan.to_dict()))
    assert d["totals"]["paid_tasks"] == 13 and d["totals"]["est_tokens"] == plan.total_tokens
    assert len(d["sequences"]) == 3 and d["shots"][0]["mode"] == "first_frame"
    assert d["shots"][0]["params"]["return_last_frame"] is True
    assert d["totals"]["est_tokens"] == sum(s["est_tokens"] for s in d["shots"])


# issue 12 "True costs" (CNY per million tokens on Volcengine Ark): (model, resolution, extra
# shot settings, expected price). One shot per model and resolution, plus audio/flex/video input.
PRICE_TABLE = [
    ("seedance-1.0-pro", "480p", {}, 15.0), ("seedance-1.0-pro", "720p", {}, 15.0),
    ("seedance-1.0-pro", "1080p", {}, 15.0),
    ("seedance-1.0-pro", "720p", {"service_tier": "flex"}, 7.5),
    ("seedance-1.0-pro-fast", "480p", {}, 4.2), ("seedance-1.0-pro-fast", "1080p", {}, 4.2),
    ("seedance-1.0-pro-fast", "720p", {"service_tier": "flex"}, 2.1),
    ("seedance-1.0-lite", "480p", {}, 10.0), ("seedance-1.0-lite", "1080p", {}, 10.0),
    ("seedance-1.0-lite", "720p", {"service_tier": "flex"}, 5.0),
    ("seedance-1.5-pro", "480p", {}, 16.0), ("seedance-1.5-pro", "720p", {}, 16.0),
    ("seedance-1.5-pro", "1080p", {}, 16.0),
    ("seedance-1.5-pro", "720p", {"generate_audio": False}, 8.0),
    ("seedance-1.5-pro", "720p", {"service_tier": "flex"}, 8.0),
    ("seedance-1.5-pro", "720p", {"service_tier": "flex", "generate_audio": False}, 4.0),
    ("seedance-2.0", "480p", {}, 46.0), ("seedance-2.0", "720p", {}, 46.0),
    ("seedance-2.0", "1080p", {}, 51.0), ("seedance-2.0", "4k", {}, 26.0),
    ("seedance-2.0", "720p", {"video": True}, 28.0), ("seedance-2.0", "1080p", {"video": True}, 31.0),
    ("seedance-2.0", "4k", {"video": True}, 16.0),
    ("seedance-2.0-fast", "480p", {}, 37.0), ("seedance-2.0-fast", "720p", {}, 37.0),
    ("seedance-2.0-fast", "720p", {"video": True}, 22.0),
    ("seedance-2.0-mini", "480p", {}, 23.0), ("seedance-2.0-mini", "720p", {}, 23.0),
    ("seedance-2.0-mini", "720p", {"video": True}, 14.0),
    ("seedance-2.5", "480p", {}, 70.0), ("seedance-2.5", "720p", {}, 70.0),
    ("seedance-2.5", "1080p", {}, 77.0),
    ("seedance-2.5", "720p", {"video": True}, 42.0), ("seedance-2.5", "1080p", {"video": True}, 46.0),
]


def test_plan_json_reproduces_the_price_table(tmp_path):
    from storyboard_util import cli

    make_image(tmp_path / "r.png", 640, 360)
    lines = ["shots:"]
    for k, (model, res, extra, _) in enumerate(PRICE_TABLE):
        lines += [f"  - prompt: shot {k}", f"    model: {model}", f"    resolution: {res}",
                  '    ratio: "16:9"', "    duration: 5", "    cut: true"]
        for key, value in extra.items():
            if key == "video":
                lines.append('    references: {images: [r.png], videos: ["https://e.com/v.mp4"]}')
            else:
                lines.append(f"    {key}: {str(value).lower()}")
    path = tmp_path / "prices.yaml"
    path.write_text("\n".join(lines) + "\n")
    res = cli("plan", "--json", str(path))
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert len(data["shots"]) == len(PRICE_TABLE)
    total = 0.0
    for shot, (model, res_, extra, price) in zip(data["shots"], PRICE_TABLE):
        spec = M.resolve_model(model)
        w, h = spec.pixels(res_, "16:9")
        assert (shot["model"], shot["resolution"]) == (model, res_)
        assert shot["price_per_mtok"] == pytest.approx(price), (model, res_, extra)
        assert shot["currency"] == "CNY"
        tokens = M.usage_tokens(w, h, 5, spec=spec, video_input=bool(extra.get("video")))
        assert shot["tokens"] == tokens
        assert shot["cost"] == pytest.approx(tokens * price / 1e6, abs=1e-6)
        total += shot["cost"]
    t = data["totals"]
    assert t["currency"] == "CNY" and t["cost_complete"] is True
    assert t["cost"] == pytest.approx(total, abs=1e-4)
    assert t["tokens"] == sum(s["tokens"] for s in data["shots"])
    # the same storyboard on BytePlus: USD, and 1.0 lite is refused before anything is paid
    res = cli("plan", "--json", "--provider", "byteplus", str(path))
    assert res.exit_code == 2
    assert "seedance-1.0-lite is not offered on byteplus" in res.stderr


def test_unknown_price_says_so_in_every_total(tmp_path):
    path = write(tmp_path, """
        shots:
          - prompt: a
            model: seedance-2.0
          - prompt: b
            model: seedance-2.0-fast
            cut: true
        """)
    plan = build_plan(path, host="fal")          # fal publishes no 2.0 fast price
    d = plan.to_dict()
    assert d["shots"][1]["cost"] is None and d["shots"][1]["price_per_mtok"] is None
    assert d["totals"]["cost_complete"] is False
    text = d["totals"]["cost_text"]
    assert text.endswith(" USD + unknown (price unknown for seedance-2.0-fast)")
    q = plan.confirmation_text(plan.shots, "https://queue.fal.run")
    assert "+ unknown (price unknown for seedance-2.0-fast)" in q
    assert q.startswith("Submit 2 paid tasks to https://queue.fal.run for about ")
    assert d["shots"][0]["host_model"] == "bytedance/seedance-2.0/text-to-video"


def test_chained_2_5_is_sent_adaptive_and_the_plan_says_so(tmp_path):
    path = write(tmp_path, """
        model: seedance-2.5
        shots:
          - prompt: a
            ratio: "16:9"
          - prompt: b
        """)
    plan = build_plan(path)
    a, b = plan.shots
    assert a.request_ratio == "16:9" and b.request_ratio == "adaptive" and b.chained_from == a.id
    assert (b.width, b.height) == (1280, 720)
    assert any("sent with ratio adaptive" in n for n in plan.notes)
    bad = write(tmp_path, """
        model: seedance-2.5
        shots:
          - prompt: a
          - prompt: b
            ratio: "16:9"
        """, "bad.yaml")
    from storyboard_util import problems
    assert problems(bad) == ["F:5:12: shots[1].ratio: seedance-2.5 requires ratio adaptive in "
                             "first-frame mode (Ark answers 400 InvalidParameter.TaskTypeConstraint):"
                             " remove ratio or set adaptive"]


def test_plan_per_host_ids_prices_and_currency(tmp_path):
    path = write(tmp_path, """
        defaults: {resolution: 720p, ratio: "16:9", duration: 5}
        shots:
          - prompt: a
            model: seedance-2.0
          - prompt: b
            model: seedance-1.5-pro
            generate_audio: false
            cut: true
        """)
    tokens = [1280 * 720 * 121 // 1024, 1280 * 720 * 121 // 1024]
    for host, ids, prices, cur in [
            ("ark", ["doubao-seedance-2-0-260128", "doubao-seedance-1-5-pro-251215"], [46.0, 8.0], "CNY"),
            ("byteplus", ["dreamina-seedance-2-0-260128", "seedance-1-5-pro-251215"], [7.0, 1.2], "USD"),
            ("fal", ["bytedance/seedance-2.0/text-to-video",
                     "fal-ai/bytedance/seedance/v1.5/pro/text-to-video"], [14.0, 1.2], "USD")]:
        d = build_plan(path, host=host).to_dict()
        assert d["host"] == host and d["totals"]["currency"] == cur
        assert [s["host_model"] for s in d["shots"]] == ids
        assert [s["price_per_mtok"] for s in d["shots"]] == prices
        assert [s["tokens"] for s in d["shots"]] == tokens
        assert d["totals"]["cost"] == pytest.approx(sum(t * p / 1e6 for t, p in zip(tokens, prices)),
                                                    abs=1e-6)
        assert d["totals"]["cost_text"].endswith(" " + cur)
