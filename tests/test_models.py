"""The model table against ark-api.md s10/s11 and hosts-2026.md s1/s4 (issues 12 and 13)."""
import pytest

from chainer import models

NEUTRAL = ["seedance-1.0-pro", "seedance-1.0-pro-fast", "seedance-1.0-lite", "seedance-1.5-pro",
           "seedance-2.0", "seedance-2.0-fast", "seedance-2.0-mini", "seedance-2.5"]
ARK_IDS = {
    "seedance-1.0-pro": "doubao-seedance-1-0-pro-250528",
    "seedance-1.0-pro-fast": "doubao-seedance-1-0-pro-fast-251015",
    "seedance-1.0-lite": "doubao-seedance-1-0-lite-i2v-250428",
    "seedance-1.5-pro": "doubao-seedance-1-5-pro-251215",
    "seedance-2.0": "doubao-seedance-2-0-260128",
    "seedance-2.0-fast": "doubao-seedance-2-0-fast-260128",
    "seedance-2.0-mini": "doubao-seedance-2-0-mini-260615",
    "seedance-2.5": "doubao-seedance-2-5-260628",
}


def test_neutral_names_and_every_ark_id_resolve():
    assert list(models.MODELS) == NEUTRAL
    for name, ark in ARK_IDS.items():
        assert models.resolve_model(name).neutral == name
        assert models.resolve_model(ark).neutral == name and models.resolve_model(ark).id == ark
        assert models.host_model_id(name, "ark") == ark
        assert models.host_model_id(name, "volcengine") == ark
    assert models.resolve_model("doubao-seedance-1-0-lite-t2v-250428").neutral == "seedance-1.0-lite"


@pytest.mark.parametrize("name,host,mode,want", [
    ("seedance-2.0", "byteplus", None, "dreamina-seedance-2-0-260128"),
    ("seedance-1.0-pro", "byteplus", None, "seedance-1-0-pro-250528"),
    ("seedance-1.0-lite", "byteplus", None, None),               # retired on BytePlus
    ("seedance-1.0-lite", "ark", "t2v", "doubao-seedance-1-0-lite-t2v-250428"),
    ("seedance-1.0-lite", "ark", "first_frame", "doubao-seedance-1-0-lite-i2v-250428"),
    ("seedance-2.0", "fal", "first_frame", "bytedance/seedance-2.0/image-to-video"),
    ("seedance-2.0", "fal", "t2v", "bytedance/seedance-2.0/text-to-video"),
    ("seedance-2.0", "fal", "references", "bytedance/seedance-2.0/reference-to-video"),
    ("seedance-1.0-pro-fast", "fal", "first_last", None),         # pro-fast has no first+last
    ("seedance-2.0-mini", "fal", None, None),
    ("seedance-2.0", "replicate", None, "bytedance/seedance-2.0"),
    ("seedance-2.5", "byteplus", None, "dreamina-seedance-2-5-260628"),
    # a raw id of one host translates to another host's id
    ("doubao-seedance-2-0-260128", "byteplus", None, "dreamina-seedance-2-0-260128"),
    ("dreamina-seedance-2-0-fast-260128", "ark", None, "doubao-seedance-2-0-fast-260128"),
])
def test_host_ids(name, host, mode, want):
    assert models.host_model_id(name, host, mode) == want


def test_raw_host_ids_resolve_to_what_they_serve():
    i2v = models.resolve_model("bytedance/seedance-2.0/image-to-video")
    assert i2v.modes == ("first_frame", "first_last") and "4k" not in i2v.resolutions
    assert models.resolve_model("doubao-seedance-1-0-lite-t2v-250428").modes == ("t2v",)
    lite_i2v = models.resolve_model("doubao-seedance-1-0-lite-i2v-250428")
    assert lite_i2v.modes == ("first_frame", "first_last", "references")
    with pytest.raises(models.UnknownHost):
        models.host_model_id("seedance-2.0", "sora")


def test_host_problem_names_the_host():
    lite = models.resolve_model("seedance-1.0-lite")
    assert models.host_problem(lite, "byteplus") == \
        "seedance-1.0-lite is not offered on byteplus (offered on: ark, fal, replicate)"
    assert models.host_problem(lite, "ark", "t2v") is None
    v2 = models.resolve_model("seedance-2.0")
    assert "fal does not offer seedance-2.0 at 4k" in models.host_problem(v2, "fal", "t2v", "4k")
    fast = models.resolve_model("seedance-1.0-pro-fast")
    assert models.host_problem(fast, "fal", "references").startswith(
        "fal does not offer seedance-1.0-pro-fast in reference mode")


# issue 12 "True costs": CNY per million tokens on Volcengine Ark
ARK_PRICES = [
    ("seedance-1.0-pro", "1080p", True, "default", False, 15.0),
    ("seedance-1.0-pro", "1080p", True, "flex", False, 7.5),
    ("seedance-1.0-pro-fast", "720p", True, "default", False, 4.2),
    ("seedance-1.0-pro-fast", "720p", True, "flex", False, 2.1),
    ("seedance-1.0-lite", "720p", True, "default", False, 10.0),
    ("seedance-1.0-lite", "720p", True, "flex", False, 5.0),
    ("seedance-1.5-pro", "720p", True, "default", False, 16.0),
    ("seedance-1.5-pro", "720p", False, "default", False, 8.0),
    ("seedance-1.5-pro", "720p", True, "flex", False, 8.0),
    ("seedance-1.5-pro", "720p", False, "flex", False, 4.0),
    ("seedance-2.0", "480p", True, "default", False, 46.0),
    ("seedance-2.0", "720p", False, "default", False, 46.0),
    ("seedance-2.0", "1080p", True, "default", False, 51.0),
    ("seedance-2.0", "4k", True, "default", False, 26.0),
    ("seedance-2.0", "720p", True, "default", True, 28.0),
    ("seedance-2.0", "1080p", True, "default", True, 31.0),
    ("seedance-2.0", "4K", True, "default", True, 16.0),
    ("seedance-2.0-fast", "720p", True, "default", False, 37.0),
    ("seedance-2.0-fast", "480p", True, "default", True, 22.0),
    ("seedance-2.0-mini", "720p", True, "default", False, 23.0),
    ("seedance-2.0-mini", "720p", True, "default", True, 14.0),
    ("seedance-2.5", "480p", True, "default", False, 70.0),
    ("seedance-2.5", "720p", True, "default", False, 70.0),
    ("seedance-2.5", "1080p", True, "default", False, 77.0),
    ("seedance-2.5", "720p", True, "default", True, 42.0),
    ("seedance-2.5", "1080p", True, "default", True, 46.0),
]


@pytest.mark.parametrize("name,res,audio,tier,video,want", ARK_PRICES)
def test_ark_prices(name, res, audio, tier, video, want):
    p = models.price_for(models.resolve_model(name), "ark", resolution=res, audio=audio,
                         tier=tier, video_input=video)
    assert p is not None and p.per_mtok == pytest.approx(want) and p.currency == "CNY"
    assert p.as_of and p.source


# issue 13: BytePlus USD
BP_PRICES = [("seedance-2.0", "720p", False, 7.0), ("seedance-2.0", "1080p", False, 7.7),
             ("seedance-2.0", "4k", False, 4.0), ("seedance-2.0", "480p", True, 4.3),
             ("seedance-2.0", "1080p", True, 4.7), ("seedance-2.0", "4k", True, 2.4),
             ("seedance-2.0-fast", "720p", False, 5.6), ("seedance-2.0-fast", "720p", True, 3.3),
             ("seedance-2.0-mini", "480p", False, 3.5), ("seedance-2.0-mini", "480p", True, 2.1),
             ("seedance-2.5", "720p", False, 10.7), ("seedance-2.5", "1080p", False, 11.7),
             ("seedance-2.5", "720p", True, 6.4), ("seedance-2.5", "1080p", True, 7.0),
             ("seedance-1.0-pro", "1080p", False, 2.5)]


@pytest.mark.parametrize("name,res,video,want", BP_PRICES)
def test_byteplus_prices(name, res, video, want):
    p = models.price_for(models.resolve_model(name), "byteplus", resolution=res, video_input=video)
    assert p.per_mtok == pytest.approx(want) and p.currency == "USD"


def test_unknown_prices_and_impossible_tiers_are_none():
    v2 = models.resolve_model("seedance-2.0")
    assert models.price_for(v2, "replicate", resolution="720p") is None     # not in our sources
    assert models.price_for(v2, "ark", resolution="720p", tier="flex") is None   # no flex on 2.x
    lite = models.resolve_model("seedance-1.0-lite")
    assert models.price_for(lite, "byteplus", resolution="720p") is None    # not offered
    p15 = models.resolve_model("seedance-1.5-pro")
    bp = models.price_for(p15, "byteplus", resolution="480p", audio=False)
    assert bp.per_mtok == pytest.approx(1.2)
    assert "UNCONFIRMED" in models.price_for(models.resolve_model("seedance-1.0-pro-fast"),
                                             "byteplus", resolution="720p").source
    assert models.host_currency("ark") == "CNY" and models.host_currency("fal") == "USD"


@pytest.mark.parametrize("model,res,ratio,size", [
    ("doubao-seedance-1-0-lite-t2v-250428", "720p", "16:9", (1248, 704)),
    ("doubao-seedance-1-0-pro-250528", "1080p", "9:16", (1088, 1920)),
    ("doubao-seedance-1-0-pro-250528", "480p", "21:9", (960, 416)),
    ("doubao-seedance-2-0-260128", "720p", "16:9", (1280, 720)),
    ("doubao-seedance-2-0-260128", "480p", "16:9", (864, 496)),
    ("doubao-seedance-1-5-pro-251215", "720p", "4:3", (1112, 834)),
    ("doubao-seedance-2-0-260128", "4k", "21:9", (4398, 1886)),
    ("seedance-2.5", "480p", "16:9", (854, 480)),
    ("seedance-2.5", "1080p", "16:9", (1920, 1080)),
    ("seedance-2.0-mini", "720p", "9:16", (720, 1280)),
])
def test_pixel_table(model, res, ratio, size):
    assert models.resolve_model(model).pixels(res, ratio) == size


def test_usage_formula_reproduces_observed_bills():
    # hosts-2026.md s4: observed completion_tokens
    assert models.usage_tokens(1248, 704, 5) == 103_818          # 1.0 lite 720p 5 s
    assert models.usage_tokens(1280, 720, 4) == 87_300           # 2.0 720p 4 s
    assert models.usage_tokens(1280, 720, 4, 4) == 173_700       # + a 4 s reference video
    assert models.usage_tokens(1920, 1080, 5) == 245_025         # 2.0 1080p 5 s
    assert models.usage_tokens(854, 480, 5) == 48_437            # 2.5 480p 5 s (floor)
    assert models.usage_tokens(854, 480, 4, 5) == 86_867         # 2.5 480p 4 s + 5 s video
    # documented formula kept for reference; billed = 24d+1 frames
    assert models.documented_tokens(1248, 704, 5) == 102_960
    assert models.billed_tokens(1088, 1920, 145) == 295_800 == models.usage_tokens(1088, 1920, 6)


@pytest.mark.parametrize("d,t480,t720", [(4, 70_308, 151_200), (5, 90_396, 194_400),
                                         (15, 251_100, 540_000)])
def test_video_input_minimum_2_0_family(d, t480, t720):
    v2 = models.resolve_model("seedance-2.0")
    assert models.usage_tokens(864, 496, d, 2, spec=v2) == t480
    assert models.usage_tokens(1280, 720, d, 2, spec=v2) == t720
    assert models.usage_tokens(1280, 720, d, spec=v2, video_input=True) == t720
    # without video input no minimum; 2.5 has none in our sources
    assert models.usage_tokens(1280, 720, d, spec=v2) == 1280 * 720 * (24 * d + 1) // 1024
    v25 = models.resolve_model("seedance-2.5")
    assert models.usage_tokens(1280, 720, d, 2, spec=v25) == 1280 * 720 * (24 * d + 49) // 1024


def test_draft_factor():
    p15 = models.resolve_model("seedance-1.5-pro")
    full = models.usage_tokens(864, 496, 5)
    assert models.usage_tokens(864, 496, 5, spec=p15, draft=True, audio=True) == int(full * 0.6)
    assert models.usage_tokens(864, 496, 5, spec=p15, draft=True, audio=False) == int(full * 0.7)


def test_capabilities_per_reference_matrix():
    m = models.resolve_model
    assert not m("doubao-seedance-1-0-lite-t2v-250428").first_frame
    assert not m("doubao-seedance-1-0-lite-i2v-250428").t2v
    assert m("doubao-seedance-1-0-lite-i2v-250428").max_reference_images == 4
    assert not m("seedance-1.0-pro-fast").first_last
    v2 = m("seedance-2.0")
    assert v2.max_reference_images == 9 and v2.seed and not v2.seed_effective and not v2.flex
    assert "service_tier" in v2.rejects and "camera_fixed" in v2.rejects
    assert m("seedance-1.5-pro").draft and m("seedance-1.5-pro").audio
    assert "priority" in m("seedance-1.5-pro").rejects
    assert "priority" not in m("seedance-1.0-pro").rejects and not m("seedance-1.0-pro").priority
    assert "1080p" not in m("seedance-2.0-fast").resolutions
    assert m("seedance-2.0-mini").resolutions == ("480p", "720p")
    assert v2.allowed_durations() == "4..15 or -1"
    assert m("seedance-1.0-pro").allowed_durations() == "2..12"
    v25 = m("seedance-2.5")
    assert v25.allowed_durations() == "4..30 or -1" and v25.default_duration == -1
    assert (v25.max_reference_images, v25.max_reference_videos, v25.max_reference_audio,
            v25.max_reference_total) == (30, 10, 10, 50)
    assert v25.ratios_for("first_frame") == ("adaptive",) and "16:9" in v25.ratios_for("t2v")
    assert {"seed", "camera_fixed", "draft", "service_tier"} <= v25.rejects
    assert v25.is_hevc_10bit("1080p") and not v25.is_hevc_10bit("720p")
    assert v2.is_hevc_10bit("4k") and not v2.is_hevc_10bit("1080p")
    assert "adaptive" not in m("seedance-1.0-pro").ratios_for("t2v")
    assert m("seedance-1.0-lite").concurrency == 5 and v2.concurrency == 10


def test_check_request_rules():
    v25 = models.resolve_model("seedance-2.5")
    [v] = models.check_request(v25, "first_frame", {"ratio": "16:9"})
    assert v.field == "ratio" and v.code == "InvalidParameter.TaskTypeConstraint"
    assert models.check_request(v25, "first_frame", {"ratio": "adaptive", "resolution": "1080P",
                                                     "output_format": "mov"}) == []
    [v] = models.check_request(v25, "t2v", {"seed": 3})
    assert v.rule == "rejected" and "must be empty" in v.message
    v2 = models.resolve_model("seedance-2.0")
    assert models.check_request(v2, "t2v", {"seed": 2**32 - 1, "priority": 9}) == []
    assert [x.field for x in models.check_request(v2, "t2v", {"seed": 2**32})] == ["seed"]
    assert [x.field for x in models.check_request(v2, "t2v", {"service_tier": "default"})] == \
        ["service_tier"]
    pro = models.resolve_model("seedance-1.0-pro")
    assert [x.field for x in models.check_request(pro, "t2v", {"ratio": "adaptive"})] == ["ratio"]
    assert models.check_request(pro, "first_frame", {"ratio": "adaptive", "priority": 3}) == []
    p15 = models.resolve_model("seedance-1.5-pro")
    assert [x.field for x in models.check_request(p15, "t2v", {"priority": 0})] == ["priority"]
    assert [x.field for x in models.check_request(p15, "t2v", {"draft": True,
                                                               "resolution": "720p"})] == ["resolution"]
    assert models.check_request(v25, "references", {}, n_audio=2) == []       # audio-only ok on 2.5
    assert [x.field for x in models.check_request(v2, "references", {}, n_audio=2)] == \
        ["references.audio"]


def test_frames_grid():
    assert models.frames_valid(29) and models.frames_valid(145) and models.frames_valid(289)
    assert not models.frames_valid(30) and not models.frames_valid(25) and not models.frames_valid(293)


def test_unknown_model_needs_override():
    with pytest.raises(models.UnknownModel):
        models.resolve_model("doubao-seedance-9-9-260101")
    spec = models.resolve_model("doubao-seedance-9-9-260101", {
        "doubao-seedance-9-9-260101": {"like": "doubao-seedance-2-0-260128", "max_duration": 30,
                                       "resolutions": ["480p", "720p"]}})
    assert spec.id == "doubao-seedance-9-9-260101" and spec.max_duration == 30
    assert spec.resolutions == ("480p", "720p") and spec.pixels("480p", "16:9") == (864, 496)
    assert models.host_model_id(spec, "ark") == "doubao-seedance-9-9-260101"   # the user's id
    with pytest.raises(KeyError):
        models.resolve_model("x", {"x": {"like": "doubao-seedance-2-0-260128", "bogus": 1}})
    assert models.resolve_model("x", {"x": {"like": "seedance-2.5"}}).max_duration == 30
    # rule fields are overridable from YAML lists too
    y = models.resolve_model("y", {"y": {"like": "seedance-2.0", "rejects": ["seed"],
                                         "ratio_rules": [["t2v", ["16:9"]]]}})
    assert [v.field for v in models.check_request(y, "t2v", {"seed": 1, "ratio": "adaptive"})] == \
        ["seed", "ratio"]


def test_closest_ratio():
    assert models.closest_ratio(1920, 1080) == "16:9"
    assert models.closest_ratio(1248, 704) == "16:9"
    assert models.closest_ratio(1000, 1000) == "1:1"
    assert models.closest_ratio(720, 1280) == "9:16"
    assert models.closest_ratio(2100, 900) == "21:9"
