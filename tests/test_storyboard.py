"""Storyboard loading and validation: every rule, with the exact problem line."""
from __future__ import annotations

import pytest

from chainer import models as M
from chainer.errors import ValidationError
from chainer.storyboard import load_storyboard
from chainer.storyboard_media import ImageInfo, image_problems
from chainer.storyboard_rules import output_file_problem
from storyboard_util import (EXAMPLES, LITE_I2V, LITE_T2V, P15, PRO, PROFAST, V2, V2F, V25,
                             make_image, problems, write)



@pytest.fixture
def images(tmp_path):
    make_image(tmp_path / "a.png", 640, 360)
    make_image(tmp_path / "b.jpg", 640, 360, "JPEG")
    return tmp_path


# (name, yaml, expected problem lines). Every case breaks exactly the rule it is named after.
CASES = [
    ("yaml-syntax", """
        model: x
        shots:
          - prompt: "unterminated
        """, ["F:4:1: YAML syntax error: while scanning a quoted scalar found unexpected end of stream"]),
    ("empty-file", "\n", ["F:1:1: the storyboard is empty: it needs at least `shots:` with one shot"]),
    ("not-a-mapping", "- a\n- b\n", ["F:1:1: a storyboard is a mapping (title:, model:, shots: ...), not a list"]),
    ("duplicate-key", f"""
        model: {V2}
        model: {V2}
        shots:
          - prompt: a
        """, ["F:2:1: model: duplicate key 'model' (first given on line 1)"]),
    ("unknown-field-shot", f"""
        model: {V2}
        shots:
          - promt: a
        """, ["F:3:5: shots[0].promt: unknown field 'promt' (did you mean 'prompt'?)"]),
    ("missing-prompt", f"""
        model: {V2}
        shots:
          - image: a.png
        """, ["F:3:5: shots[0].prompt: required field missing"]),
    ("unknown-field-top", f"""
        model: {V2}
        titel: x
        shots:
          - prompt: a
        """, ["F:2:1: titel: unknown field 'titel' (did you mean 'title'?)"]),
    ("unknown-field-references", f"""
        model: {V2}
        shots:
          - prompt: a
            references: {{image: [b.jpg]}}
        """, ["F:4:18: shots[0].references.image: unknown field 'image' (did you mean 'images'?)"]),
    ("unknown-field-defaults", f"""
        model: {V2}
        defaults:
          resolutoin: 720p
        shots:
          - prompt: a
        """, ["F:3:3: defaults.resolutoin: unknown field 'resolutoin' (did you mean 'resolution'?)"]),
    ("wrong-type", f"""
        model: {V2}
        shots:
          - prompt: a
            duration: five
        """, ["F:4:15: shots[0].duration: expected a whole number, got 'five'"]),
    ("wrong-type-bool", f"""
        model: {V2}
        shots:
          - prompt: a
            cut: maybe
        """, ["F:4:10: shots[0].cut: expected true or false, got 'maybe'"]),
    ("no-shots", f"""
        model: {V2}
        shots: []
        """, ["F:2:8: shots: needs at least one shot"]),
    ("literal", f"""
        model: {V2}
        drift_guard: matc
        shots:
          - prompt: a
        """, ["F:2:14: drift_guard: 'matc' is not allowed (did you mean 'match'?): use one of off, report, match"]),
    ("ratio-unquoted", f"""
        model: {V2}
        defaults:
          ratio: 16:9
        shots:
          - prompt: a
        """, ['F:3:10: defaults.ratio: YAML read the unquoted 16:9 as the number 969: write it in quotes, ratio: "16:9"']),
    ("ratio-invalid", f"""
        model: {V2}
        shots:
          - prompt: a
            ratio: "16:10"
        """, ["F:4:12: shots[0].ratio: '16:10' is not a ratio (did you mean '16:9'?): use one of 16:9, 4:3, 1:1, 3:4, 9:16, 21:9, adaptive"]),
    ("empty-prompt", f"""
        model: {V2}
        shots:
          - prompt: "  "
        """, ["F:3:13: shots[0].prompt: is empty: describe what happens in the shot"]),
    ("duration-range", f"""
        model: {V2}
        shots:
          - prompt: a
          - prompt: b
          - prompt: c
          - prompt: d
            duration: 20
        """, [f"F:7:15: shots[3].duration: 20 is out of range 4..15 for {V2} (or -1: the model chooses)"]),
    ("duration-range-v1", f"""
        model: {PRO}
        shots:
          - prompt: a
            duration: -1
        """, [f"F:4:15: shots[0].duration: -1 is out of range 2..12 for {PRO}"]),
    ("no-model", """
        shots:
          - prompt: a
        """, ["F:1:1: model: no model: set `model:` at the top level, in defaults, or on the shot (applies to shots[0])"]),
    ("unknown-model", """
        model: doubao-seedance-2-0-260129
        shots:
          - prompt: a
        """, ["F:1:8: model: unknown model 'doubao-seedance-2-0-260129' (did you mean 'doubao-seedance-2-0-260128'?); known: "
              + ", ".join(M.MODELS) + " (or a host's own id). To use a new model id add models: {doubao-seedance-2-0-260129: {like: <known model id>}} (applies to shots[0])"]),
    ("override-bad-like", """
        model: new-model
        models:
          new-model: {like: doubao-seedance-2-0-26012}
        shots:
          - prompt: a
        """, ["F:3:21: models.new-model.like: unknown model 'doubao-seedance-2-0-26012' (did you mean 'doubao-seedance-2-0-260128'?): `like` must name a known model (" + ", ".join(M.MODELS) + ", or a host's id)"]),
    ("override-bad-field", f"""
        model: new-model
        models:
          new-model:
            like: {V2}
            max_duraton: 30
            audio: "yes"
        shots:
          - prompt: a
        """, ["F:5:5: models.new-model.max_duraton: unknown capability field 'max_duraton' (did you mean 'max_duration'?)",
              "F:6:12: models.new-model.audio: expected true or false, got 'yes'"]),
    ("override-no-like", """
        model: new-model
        models:
          new-model: {max_duration: 30}
        shots:
          - prompt: a
        """, ["F:3:3: models.new-model: 'new-model' is not a known model: add `like: <known model id>` to say which model it behaves like"]),
    ("pricing-unknown-model", f"""
        model: {V2}
        pricing:
          doubao-seedance-2-0-fast-26012: 30
        shots:
          - prompt: a
        """, [f"F:3:3: pricing.doubao-seedance-2-0-fast-26012: unknown model 'doubao-seedance-2-0-fast-26012' (did you mean '{V2F}'?)"]),
    ("pricing-negative", f"""
        model: {V2}
        pricing: {{{V2}: -1}}
        shots:
          - prompt: a
        """, [f"F:2:39: pricing.{V2}: -1 must be >= 0"]),
    ("chained-on-t2v-only", f"""
        model: {LITE_T2V}
        shots:
          - prompt: a
          - prompt: b
        """, [f"F:4:5: shots[1]: chains from shots[0]'s last frame, but {LITE_T2V} has no first-frame mode: set cut: true to start a new sequence, or use another model (seedance-1.0-pro, seedance-1.0-pro-fast, seedance-1.0-lite)"]),
    ("image-on-t2v-only", f"""
        model: {LITE_T2V}
        shots:
          - prompt: a
            image: a.png
        """, [f"F:4:12: shots[0].image: {LITE_T2V} does not accept a first-frame image: remove image, or use an image-to-video model (seedance-1.0-pro, seedance-1.0-pro-fast, seedance-1.0-lite)"]),
    ("t2v-on-i2v-only", f"""
        model: {LITE_I2V}
        shots:
          - prompt: a
        """, [f"F:3:5: shots[0]: {LITE_I2V} cannot generate from text alone: give this shot an image (first frame), or use a text-to-video model (seedance-1.0-pro, seedance-1.0-pro-fast, seedance-1.0-lite)"]),
    ("first-last-unsupported", f"""
        model: {PROFAST}
        shots:
          - prompt: a
            image: a.png
            last_image: b.jpg
        """, [f"F:5:17: shots[0].last_image: {PROFAST} has no first-and-last-frame mode: remove last_image, or use another model (seedance-1.0-pro, seedance-1.0-lite)"]),
    ("first-last-chained-unsupported", f"""
        model: {PROFAST}
        shots:
          - prompt: a
          - prompt: b
            last_image: b.jpg
        """, [f"F:5:17: shots[1].last_image: {PROFAST} has no first-and-last-frame mode: remove last_image, or use another model (seedance-1.0-pro, seedance-1.0-lite)"]),
    ("last-image-without-first", f"""
        model: {V2}
        shots:
          - prompt: a
          - prompt: b
            cut: true
            last_image: b.jpg
        """, ["F:6:17: shots[1].last_image: last_image needs a first frame: add image, or chain from the previous shot (remove cut: true)"]),
    ("references-with-image", f"""
        model: {V2}
        shots:
          - prompt: a
            image: a.png
            references: {{images: [b.jpg]}}
        """, ["F:5:17: shots[0].references: references cannot be mixed with image (Ark forbids mixing reference mode with first/last-frame mode): use cut: true to start a new sequence with references, or drop the image"]),
    ("references-chained", f"""
        model: {V2}
        shots:
          - prompt: a
          - prompt: b
            references: {{images: [b.jpg]}}
        """, ["F:5:17: shots[1].references: a shot with references cannot chain from shots[0]'s last frame (Ark forbids mixing reference and first-frame modes): use cut: true to start a new sequence with references, or drop the references"]),
    ("references-empty", f"""
        model: {V2}
        shots:
          - prompt: a
            references: {{images: []}}
        """, ["F:4:17: shots[0].references: is empty: give at least one reference image or video"]),
    ("references-too-many-images", f"""
        model: {V2}
        shots:
          - prompt: a
            references: {{images: [b.jpg, b.jpg, b.jpg, b.jpg, b.jpg, b.jpg, b.jpg, b.jpg, b.jpg, b.jpg]}}
        """, [f"F:4:26: shots[0].references.images: 10 reference images; {V2} accepts at most 9"]),
    ("references-too-many-lite", f"""
        model: {LITE_I2V}
        defaults: {{resolution: 720p}}
        shots:
          - prompt: a
            references: {{images: [b.jpg, b.jpg, b.jpg, b.jpg, b.jpg]}}
        """, [f"F:5:26: shots[0].references.images: 5 reference images; {LITE_I2V} accepts at most 4"]),
    ("references-unsupported", f"""
        model: {PRO}
        shots:
          - prompt: a
            references: {{images: [b.jpg]}}
        """, [f"F:4:26: shots[0].references.images: {PRO} does not accept reference images (models that do: seedance-1.0-lite)"]),
    ("references-too-many-videos-audio", f"""
        model: {V2}
        shots:
          - prompt: a
            references:
              videos: [https://e.com/1.mp4, https://e.com/2.mp4, https://e.com/3.mp4, https://e.com/4.mp4]
              audio: [https://e.com/1.mp3, https://e.com/2.mp3, https://e.com/3.mp3, https://e.com/4.mp3]
        """, [f"F:5:15: shots[0].references.videos: 4 reference videos; {V2} accepts at most 3",
              f"F:6:14: shots[0].references.audio: 4 reference audio; {V2} accepts at most 3"]),
    ("references-audio-alone", f"""
        model: {V2}
        shots:
          - prompt: a
            references: {{audio: [https://e.com/1.mp3]}}
        """, [f"F:4:25: shots[0].references.audio: reference audio alone is not allowed on {V2}: add at least one reference image or video"]),
    ("references-local-video", f"""
        model: {V2}
        shots:
          - prompt: a
            references: {{videos: [clip.mp4]}}
        """, ["F:4:27: shots[0].references.videos[0]: 'clip.mp4': reference videos must be URLs (http(s):// or asset://); Ark rejects inline video: upload it"]),
    ("references-resolution", f"""
        model: {LITE_I2V}
        shots:
          - prompt: a
            resolution: 1080p
            references: {{images: [b.jpg]}}
        """, [f"F:4:17: shots[0].resolution: 1080p is not available with reference images on {LITE_I2V} (allowed: 480p, 720p)"]),
    ("references-camera-fixed", f"""
        model: {LITE_I2V}
        shots:
          - prompt: a
            camera_fixed: true
            references: {{images: [b.jpg]}}
        """, [f"F:4:19: shots[0].camera_fixed: camera_fixed is not supported with reference images on {LITE_I2V}: remove it"]),
    ("audio-unsupported-from-defaults", f"""
        model: {PRO}
        defaults:
          generate_audio: true
        shots:
          - prompt: a
          - prompt: b
        """, [f"F:3:19: defaults.generate_audio: true is not supported by {PRO} (it makes silent video): set generate_audio: false, or use a model with audio (seedance-1.5-pro, seedance-2.0, seedance-2.0-fast, seedance-2.0-mini, seedance-2.5) (applies to every shot)"]),
    ("audio-unsupported-on-shot", f"""
        model: {V2}
        shots:
          - prompt: a
          - prompt: b
            model: {PRO}
            generate_audio: true
        """, [f"F:6:21: shots[1].generate_audio: true is not supported by {PRO} (it makes silent video): set generate_audio: false, or use a model with audio (seedance-1.5-pro, seedance-2.0, seedance-2.0-fast, seedance-2.0-mini, seedance-2.5)"]),
    ("seed-unsupported", f"""
        model: {V25}
        shots:
          - prompt: a
            seed: 7
        """, [f"F:4:11: shots[0].seed: seed is not supported by {V25}: remove it"]),
    ("seed-range", f"""
        model: {PRO}
        shots:
          - prompt: a
            seed: 4294967296
        """, ["F:4:11: shots[0].seed: 4294967296 is out of range -1..4294967295"]),
    ("camera-fixed-unsupported", f"""
        model: {V2}
        shots:
          - prompt: a
            camera_fixed: true
        """, [f"F:4:19: shots[0].camera_fixed: camera_fixed is not supported by {V2}: remove it"]),
    ("draft-unsupported", f"""
        model: {V2}
        shots:
          - prompt: a
            draft: true
        """, [f"F:4:12: shots[0].draft: draft is not supported by {V2} (only seedance-1.5-pro)"]),
    ("draft-resolution", f"""
        model: {P15}
        shots:
          - prompt: a
            draft: true
            resolution: 720p
        """, ["F:5:17: shots[0].resolution: 720p with draft: true; draft clips are always 480p: set resolution: 480p or remove draft"]),
    ("draft-chained-from", f"""
        model: {P15}
        shots:
          - prompt: a
            draft: true
          - prompt: b
        """, ["F:5:5: shots[1]: chains from shots[0], a draft clip, but draft clips return no last frame: set cut: true on shots[1] or remove draft from shots[0]"]),
    ("flex-unsupported", f"""
        model: {V2}
        defaults:
          service_tier: flex
        shots:
          - prompt: a
        """, [f"F:3:17: defaults.service_tier: flex is not supported by {V2}: remove service_tier or use default (applies to shots[0])"]),
    ("service-tier-invalid", f"""
        model: {PRO}
        shots:
          - prompt: a
            service_tier: flexible
        """, ["F:4:19: shots[0].service_tier: 'flexible' is not allowed (did you mean 'flex'?): use one of default, flex"]),
    ("frames-unsupported", f"""
        model: {V2}
        shots:
          - prompt: a
            frames: 121
        """, [f"F:4:13: shots[0].frames: frames is not supported by {V2} (1.0 models only): use duration (4..15 or -1 s)"]),
    ("frames-invalid", f"""
        model: {PRO}
        shots:
          - prompt: a
            frames: 30
        """, ["F:4:13: shots[0].frames: 30 is not a valid frame count: use 25+4n in 29..289 (e.g. 121 = 5 s)"]),
    ("frames-and-duration", f"""
        model: {PRO}
        shots:
          - prompt: a
            frames: 57
            duration: 3
        """, ["F:4:13: shots[0].frames: give duration or frames, not both"]),
    ("resolution-unavailable", f"""
        model: {V2F}
        shots:
          - prompt: a
            resolution: 1080p
        """, [f"F:4:17: shots[0].resolution: 1080p is not available on {V2F} (allowed: 480p, 720p)"]),
    ("resolution-unknown", f"""
        model: {V2}
        shots:
          - prompt: a
            resolution: "720"
        """, ["F:4:17: shots[0].resolution: '720' is not a resolution (did you mean '720p'?): use one of 480p, 720p, 1080p, 4k"]),
    ("ratio-mismatch-in-chain", f"""
        model: {V2}
        shots:
          - prompt: a
            ratio: "16:9"
          - prompt: b
            ratio: "9:16"
        """, ["F:6:12: shots[1].ratio: 9:16 differs from shots[0]'s 16:9: shots[1] continues that clip's last frame, which would be cropped and the seam would jump; use 16:9 or adaptive, or set cut: true"]),
    ("missing-image", f"""
        model: {V2}
        shots:
          - prompt: a
            image: nope.png
        """, ["F:4:12: shots[0].image: file not found: nope.png (relative to DIR)"]),
    ("duplicate-id", f"""
        model: {V2}
        shots:
          - id: intro
            prompt: a
          - id: intro
            prompt: b
        """, ["F:5:9: shots[1].id: duplicate id 'intro', already used by shots[0]: ids must be unique"]),
    ("duplicate-default-id", f"""
        model: {V2}
        shots:
          - prompt: a
          - id: shot-01
            prompt: b
        """, ["F:4:9: shots[1].id: duplicate id 'shot-01', already used by shots[0]: ids must be unique"]),
    ("invalid-id", f"""
        model: {V2}
        shots:
          - id: my shot/1
            prompt: a
        """, ["F:3:9: shots[0].id: 'my shot/1' is not a valid id: use 1..64 of A-Z a-z 0-9 _ - (it names files)"]),
    ("output-traversal", f"""
        model: {V2}
        output:
          file: ../../etc/passwd
        shots:
          - prompt: a
        """, ["F:3:9: output.file: '../../etc/passwd' leaves the run directory ('..'): give a file name inside it, e.g. video.mp4"]),
    ("output-absolute", f"""
        model: {V2}
        output: {{file: /tmp/x.mp4}}
        shots:
          - prompt: a
        """, ["F:2:16: output.file: '/tmp/x.mp4' is an absolute path: give a file name inside the run directory, e.g. video.mp4"]),
    ("transition-invalid", f"""
        model: {V2}
        transition: dissolve
        shots:
          - prompt: a
        """, ["F:2:13: transition: 'dissolve' is not a transition: use cut, crossfade:SEC or fade:SEC (e.g. crossfade:0.5)"]),
    ("transition-on-chained", f"""
        model: {V2}
        shots:
          - prompt: a
          - prompt: b
            transition: fade:1
        """, ["F:5:17: shots[1].transition: shots[1] chains seamlessly from shots[0], so it has no transition: add cut: true or remove transition"]),
    ("transition-crossfade-first", f"""
        model: {V2}
        shots:
          - prompt: a
            transition: crossfade:1
        """, ["F:4:17: shots[0].transition: the first shot has nothing to crossfade from: use fade:SEC (fade in from black) or cut"]),
    ("transition-too-long", f"""
        model: {V2}
        transition: crossfade:4
        defaults: {{duration: 4}}
        shots:
          - prompt: a
          - prompt: b
            cut: true
        """, ["F:2:13: transition: crossfade:4 is not shorter than the clips it joins (4 s) (applies to shots[1])"]),
]


@pytest.mark.parametrize("name,text,expected", CASES, ids=[c[0] for c in CASES])
def test_rule(tmp_path, images, name, text, expected):
    path = write(tmp_path, text)
    got = problems(path)
    assert got == [e.replace("DIR", str(tmp_path)) for e in expected]


def test_all_problems_reported_at_once(tmp_path, images):
    path = write(tmp_path, f"""
        model: {V2}
        defaults:
          ratio: 16:9
          camera_fixed: true
        shots:
          - promt: a
          - prompt: b
            duration: 20
          - prompt: c
            image: missing.png
        """)
    got = problems(path)
    assert [g.split(": ")[1] for g in got] == [
        "defaults.ratio", "defaults.camera_fixed", "shots[0].promt",
        "shots[1].duration", "shots[2].image"]


def test_image_limits(tmp_path):
    make_image(tmp_path / "small.png", 299, 400)
    make_image(tmp_path / "wide.png", 1300, 500)
    make_image(tmp_path / "ok.png", 300, 750)          # aspect exactly 0.4: allowed (closed)
    make_image(tmp_path / "pic.ppm", 640, 360, "PPM")
    (tmp_path / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 40)
    path = write(tmp_path, f"""
        model: {V2}
        shots:
          - prompt: a
            image: small.png
          - prompt: b
            image: wide.png
          - prompt: c
            image: ok.png
          - prompt: d
            image: pic.ppm
          - prompt: e
            image: broken.png
          - prompt: f
            image: https://example.com/a.png
          - prompt: g
            image: "data:text/plain;base64,AAAA"
        """)
    assert problems(path) == [
        "F:4:12: shots[0].image: image is 299x400; each side must be 300..6000 px: small.png",
        "F:6:12: shots[1].image: image aspect 1300x500 = 2.60 is outside 0.4..2.5 (width / height): wide.png",
        "F:10:12: shots[3].image: image format ppm is not accepted by doubao-seedance-2-0-260128 (allowed: jpeg, png, webp, bmp, tiff, gif, heic, heif): pic.ppm",
        "F:12:12: shots[4].image: not a readable image (UnidentifiedImageError): broken.png",
        "F:16:12: shots[6].image: a data: URL here must be an image (data:image/<fmt>;base64,...)",
    ]


def test_image_size_limit_message():
    info = ImageInfo("png", 1000, 1000, 31 * 1024 * 1024)
    assert image_problems(info, M.resolve_model(V2)) == ["image is 31.0 MB; the limit is 30 MB"]


@pytest.mark.parametrize("value,ok", [
    ("video.mp4", True), ("out/final cut.mov", True), ("../x.mp4", False), ("/x.mp4", False),
    ("C:\\x.mp4", False), ("a/../../x.mp4", False), (".hidden.mp4", False), ("x.txt", False),
    ("a\\..\\x.mp4", False), ("", False)])
def test_output_file_paths(value, ok):
    assert (output_file_problem(value) is None) == ok


def test_unknown_model_with_override_is_allowed(tmp_path):
    path = write(tmp_path, f"""
        model: doubao-seedance-3-0-270101
        models:
          doubao-seedance-3-0-270101: {{like: {V2}, max_duration: 30}}
        shots:
          - prompt: a
            duration: 25
        """)
    sb = load_storyboard(path)
    spec = sb.model_spec(sb.shots[0])
    assert spec.id == "doubao-seedance-3-0-270101" and spec.max_duration == 30 and spec.audio


def test_defaults_ids_names_and_sequences(tmp_path, images):
    path = write(tmp_path, f"""
        model: {V2}
        shots:
          - prompt: a
          - id: second
            name: The second
            prompt: b
          - prompt: c
            cut: true
          - prompt: d
          - prompt: e
            image: a.png
          - prompt: f
            cut: true
            references: {{images: [b.jpg]}}
          - prompt: g
            last_image: b.jpg
        """)
    sb = load_storyboard(path)
    assert [s.id for s in sb.shots] == ["shot-01", "second", "shot-03", "shot-04", "shot-05",
                                        "shot-06", "shot-07"]
    assert [s.name for s in sb.shots][:2] == ["shot-01", "The second"]
    assert sb.sequences() == [[0, 1], [2, 3], [4], [5, 6]]
    assert [sb.mode(i) for i in range(7)] == ["t2v", "first_frame", "t2v", "first_frame",
                                              "first_frame", "references", "first_last"]
    assert sb.title == "sb" and sb.output.file == "sb.mp4"
    assert sb.source == path and sb.base_dir == tmp_path.resolve()


def test_many_shots_get_wider_default_ids(tmp_path):
    shots = "".join(f"  - prompt: p{i}\n" for i in range(120))
    path = write(tmp_path, f"model: {V2}\nshots:\n{shots}")
    sb = load_storyboard(path)
    assert sb.shots[0].id == "shot-001" and sb.shots[119].id == "shot-120"


def test_missing_file_is_a_problem(tmp_path):
    with pytest.raises(ValidationError) as exc:
        load_storyboard(tmp_path / "nope.yaml")
    assert str(exc.value) == f"{tmp_path / 'nope.yaml'}: file not found"


@pytest.mark.parametrize("name", ["demo", "long-form", "bookends", "references"])
def test_examples_are_valid(name):
    path = EXAMPLES / f"{name}.yaml"
    sb = load_storyboard(path)
    assert path.read_text().startswith("# yaml-language-server: $schema=storyboard.schema.json\n")
    if name == "demo":
        assert len(sb.shots) in (3, 4) and len(sb.sequences()) == 2
        assert {sb.effective(s, "resolution") for s in sb.shots} == {"480p"}
        assert all(sb.effective(s, "generate_audio") for s in sb.shots)
    if name == "long-form":
        assert len(sb.shots) >= 12 and len(sb.sequences()) == 3
    if name == "bookends":
        assert {sb.mode(i) for i in range(len(sb.shots))} == {"first_last"}
    if name == "references":
        assert "references" in {sb.mode(i) for i in range(len(sb.shots))}


def test_example_images_fit_ark_limits():
    for path in list((EXAMPLES / "images").iterdir()) + list((EXAMPLES / "refs").iterdir()):
        from chainer.storyboard_media import image_info

        info = image_info(str(path))
        assert path.stat().st_size < 60 * 1024
        assert image_problems(info, M.resolve_model(PRO)) == []
