"""The model registry against ark-api.md sections 10 and 11."""
import pytest

from chainer import models


def test_seven_models_registered():
    assert set(models.MODELS) == {
        "doubao-seedance-1-0-pro-250528", "doubao-seedance-1-0-pro-fast-251015",
        "doubao-seedance-1-0-lite-t2v-250428", "doubao-seedance-1-0-lite-i2v-250428",
        "doubao-seedance-1-5-pro-251215", "doubao-seedance-2-0-260128",
        "doubao-seedance-2-0-fast-260128"}


@pytest.mark.parametrize("model,res,ratio,size", [
    ("doubao-seedance-1-0-lite-t2v-250428", "720p", "16:9", (1248, 704)),
    ("doubao-seedance-1-0-pro-250528", "1080p", "9:16", (1088, 1920)),
    ("doubao-seedance-1-0-pro-250528", "480p", "21:9", (960, 416)),
    ("doubao-seedance-2-0-260128", "720p", "16:9", (1280, 720)),
    ("doubao-seedance-2-0-260128", "480p", "16:9", (864, 496)),
    ("doubao-seedance-1-5-pro-251215", "720p", "4:3", (1112, 834)),
    ("doubao-seedance-2-0-260128", "4k", "21:9", (4398, 1886)),
])
def test_pixel_table(model, res, ratio, size):
    assert models.MODELS[model].pixels(res, ratio) == size


def test_token_formulas_match_reference_examples():
    # documented formula: 2.0 720p 16:9 5 s -> 108,000; 1.0 720p 16:9 5 s -> 102,960
    assert models.documented_tokens(1280, 720, 5) == 108_000
    assert models.documented_tokens(1248, 704, 5) == 102_960
    # observed billing uses 24*d+1 frames: 103,818 and 108,900; frames=145 at 1088x1920 -> 295,800
    assert models.billed_tokens(1248, 704, models.frames_for_duration(5)) == 103_818
    assert models.billed_tokens(1280, 720, models.frames_for_duration(5)) == 108_900
    assert models.billed_tokens(1088, 1920, 145) == 295_800


def test_capabilities_per_reference_matrix():
    m = models.MODELS
    assert not m["doubao-seedance-1-0-lite-t2v-250428"].first_frame
    assert not m["doubao-seedance-1-0-lite-i2v-250428"].t2v
    assert m["doubao-seedance-1-0-lite-i2v-250428"].max_reference_images == 4
    assert not m["doubao-seedance-1-0-pro-fast-251015"].first_last
    assert m["doubao-seedance-2-0-260128"].max_reference_images == 9
    assert not m["doubao-seedance-2-0-260128"].seed and not m["doubao-seedance-2-0-260128"].flex
    assert m["doubao-seedance-1-5-pro-251215"].draft and m["doubao-seedance-1-5-pro-251215"].audio
    assert "1080p" not in m["doubao-seedance-2-0-fast-260128"].resolutions
    assert m["doubao-seedance-2-0-260128"].allowed_durations() == "4..15 or -1"
    assert m["doubao-seedance-1-0-pro-250528"].allowed_durations() == "2..12"


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
    with pytest.raises(KeyError):
        models.resolve_model("x", {"x": {"like": "doubao-seedance-2-0-260128", "bogus": 1}})


def test_closest_ratio():
    assert models.closest_ratio(1920, 1080) == "16:9"
    assert models.closest_ratio(1248, 704) == "16:9"
    assert models.closest_ratio(1000, 1000) == "1:1"
    assert models.closest_ratio(720, 1280) == "9:16"
    assert models.closest_ratio(2100, 900) == "21:9"
