"""Pure-Python MP4 (ISO BMFF) sample tables: read what a stitch needs without running ffmpeg, and
write a stitched MP4 (moov first, samples copied from their source files) in one pass.

Reading covers progressive (non-fragmented) files: per track the handler, timescale, sample entry
(``avc1``/``avcC``, ``mp4a``/``esds``), every sample's decode and composition time, size, file
offset and sync flag, and the edit list. Anything unusual raises :class:`Mp4Error` so callers can
fall back to ffmpeg.

Writing adds chapters (Nero ``chpl`` + a QuickTime text track) and an optional mov_text
subtitle track. Longer than ~500 lines on purpose: the reader and the writer share one box
layout, and splitting them would put the MP4 format in two places.
"""
from __future__ import annotations

import os
import struct
from dataclasses import dataclass, field
from typing import Sequence

_CONTAINERS = {b"moov", b"trak", b"mdia", b"minf", b"stbl", b"edts", b"udta", b"dinf", b"mvex"}


class Mp4Error(Exception):
    """Not an MP4 this module can read (or write from)."""


@dataclass
class Track:
    track_id: int
    handler: str                       # "vide", "soun", "text", ...
    timescale: int
    duration: int                      # media duration (mdhd), in ``timescale`` units
    language: int = 0x55C4             # mdhd packed ISO-639 code ("und")
    codec: str = ""                    # fourcc of the first sample entry: "avc1", "mp4a", ...
    stsd: bytes = b""                  # the whole stsd box, as found
    width: int = 0                     # sample entry size (video)
    height: int = 0
    display: tuple[int, int] = (0, 0)  # tkhd width/height (16.16 fixed point, integer part)
    matrix: bytes = b""                # tkhd transformation matrix (36 bytes)
    avcc: bytes | None = None          # avcC payload (H.264)
    hvcc: bytes | None = None          # hvcC payload (HEVC)
    sample_rate: int = 0               # audio: from the AudioSpecificConfig when present
    channels: int = 0
    audio_object_type: int = 0
    dts: list[int] = field(default_factory=list)
    cts: list[int] = field(default_factory=list)      # composition offsets (pts = dts + cts)
    sizes: list[int] = field(default_factory=list)
    offsets: list[int] = field(default_factory=list)
    sync: list[bool] | None = None     # None: every sample is a sync sample (no stss)
    elst: list[tuple[int, int, float]] = field(default_factory=list)  # (duration, media_time, rate)
    extra_stbl: list[bytes] = field(default_factory=list)              # sgpd/sbgp boxes as found

    @property
    def pts(self) -> list[int]:
        return [d + c for d, c in zip(self.dts, self.cts)]

    @property
    def count(self) -> int:
        return len(self.sizes)

    def is_sync(self, i: int) -> bool:
        return True if self.sync is None else self.sync[i]

    def hvcc_param_sets(self) -> tuple[bytes, ...]:
        """VPS, SPS and PPS NAL units from hvcC (its SEI arrays, e.g. x265's option string with
        the input size and frame count, are left out: they do not affect decoding)."""
        box = self.hvcc or b""
        try:
            p, out = 23, []
            for _ in range(box[22]):
                kind, n = box[p] & 0x3F, struct.unpack_from(">H", box, p + 1)[0]
                p += 3
                for _ in range(n):
                    ln = struct.unpack_from(">H", box, p)[0]
                    if kind in (32, 33, 34):
                        out.append(box[p + 2:p + 2 + ln])
                    p += 2 + ln
            return tuple(out)
        except (IndexError, struct.error):
            raise Mp4Error("unreadable hvcC") from None

    @property
    def nal_length_size(self) -> int:
        if self.hvcc and len(self.hvcc) > 21:
            return (self.hvcc[21] & 3) + 1
        return (self.avcc[4] & 3) + 1 if self.avcc and len(self.avcc) > 4 else 4

    def avcc_nals(self) -> list[bytes]:
        """SPS and PPS NAL units from avcC."""
        box = self.avcc or b""
        try:
            n_sps = box[5] & 0x1F
            pos, nals = 6, []
            for _ in range(n_sps):
                ln = struct.unpack(">H", box[pos:pos + 2])[0]
                nals.append(box[pos + 2:pos + 2 + ln])
                pos += 2 + ln
            n_pps = box[pos]
            pos += 1
            for _ in range(n_pps):
                ln = struct.unpack(">H", box[pos:pos + 2])[0]
                nals.append(box[pos + 2:pos + 2 + ln])
                pos += 2 + ln
            return nals
        except (IndexError, struct.error):
            raise Mp4Error("unreadable avcC") from None


@dataclass
class Movie:
    path: str
    timescale: int
    duration: int
    tracks: list[Track]

    def first(self, handler: str) -> Track | None:
        for t in self.tracks:
            if t.handler == handler:
                return t
        return None


# ---- reading ------------------------------------------------------------------------------------

def _boxes(data: bytes, start: int = 0, end: int | None = None):
    end = len(data) if end is None else end
    off = start
    while off + 8 <= end:
        size, kind = struct.unpack_from(">I4s", data, off)
        hdr = 8
        if size == 1:
            size = struct.unpack_from(">Q", data, off + 8)[0]
            hdr = 16
        elif size == 0:
            size = end - off
        if size < hdr or off + size > end:
            raise Mp4Error(f"bad box {kind!r} at {off}")
        yield kind, off + hdr, off + size
        off += size


def _child(data: bytes, start: int, end: int, kind: bytes):
    for k, s, e in _boxes(data, start, end):
        if k == kind:
            return s, e
    return None


def read(path: str | os.PathLike) -> Movie:
    """The movie's tracks and sample tables. Raises :class:`Mp4Error` if this is not a readable,
    non-fragmented MP4/MOV."""
    path = os.fspath(path)
    moov = None
    try:
        with open(path, "rb") as fh:
            fh.seek(0, 2)
            fsize = fh.tell()
            pos = 0
            first = True
            while pos + 8 <= fsize:
                fh.seek(pos)
                head = fh.read(16)
                size, kind = struct.unpack_from(">I4s", head)
                hdr = 8
                if size == 1:
                    size = struct.unpack_from(">Q", head, 8)[0]
                    hdr = 16
                elif size == 0:
                    size = fsize - pos
                if first and kind not in (b"ftyp", b"moov", b"free", b"wide", b"mdat", b"skip"):
                    raise Mp4Error("not an MP4 file")
                first = False
                if size < hdr:
                    raise Mp4Error("bad top-level box")
                if kind == b"moov":
                    fh.seek(pos + hdr)
                    moov = fh.read(size - hdr)
                elif kind == b"moof":
                    raise Mp4Error("fragmented MP4")
                pos += size
    except (OSError, struct.error) as exc:
        raise Mp4Error(str(exc)) from None
    if moov is None:
        raise Mp4Error("no moov box")
    try:
        return _parse_moov(path, moov)
    except (IndexError, struct.error, ValueError, ZeroDivisionError) as exc:
        raise Mp4Error(f"unreadable moov ({exc})") from None


def _parse_moov(path: str, moov: bytes) -> Movie:
    if _child(moov, 0, len(moov), b"mvex"):
        raise Mp4Error("fragmented MP4")
    mv = _child(moov, 0, len(moov), b"mvhd")
    if mv is None:
        raise Mp4Error("no mvhd")
    s, _ = mv
    if moov[s] == 1:
        timescale, duration = struct.unpack_from(">IQ", moov, s + 20)
    else:
        timescale, duration = struct.unpack_from(">II", moov, s + 12)
    tracks = []
    for k, ts, te in _boxes(moov):
        if k == b"trak":
            tracks.append(_parse_trak(moov, ts, te))
    return Movie(path, timescale, duration, tracks)


def _full(data: bytes, s: int) -> tuple[int, int]:
    v = data[s]
    return v, int.from_bytes(data[s + 1:s + 4], "big")


def _parse_trak(d: bytes, s: int, e: int) -> Track:
    tk = _child(d, s, e, b"tkhd")
    if tk is None:
        raise Mp4Error("trak without tkhd")
    v, _ = _full(d, tk[0])
    if v == 1:
        track_id = struct.unpack_from(">I", d, tk[0] + 20)[0]
        wh = tk[0] + 4 + 8 + 8 + 4 + 4 + 8 + 8 + 8 + 36
    else:
        track_id = struct.unpack_from(">I", d, tk[0] + 12)[0]
        wh = tk[0] + 4 + 4 + 4 + 4 + 4 + 4 + 8 + 8 + 36
    dw, dh = struct.unpack_from(">II", d, wh)
    matrix = d[wh - 36:wh]
    md = _child(d, s, e, b"mdia")
    if md is None:
        raise Mp4Error("trak without mdia")
    mh = _child(d, *md, b"mdhd")
    hd = _child(d, *md, b"hdlr")
    mi = _child(d, *md, b"minf")
    if mh is None or hd is None or mi is None:
        raise Mp4Error("incomplete mdia")
    v, _ = _full(d, mh[0])
    if v == 1:
        timescale, duration = struct.unpack_from(">IQ", d, mh[0] + 20)
        lang = struct.unpack_from(">H", d, mh[0] + 32)[0]
    else:
        timescale, duration = struct.unpack_from(">II", d, mh[0] + 12)
        lang = struct.unpack_from(">H", d, mh[0] + 20)[0]
    handler = d[hd[0] + 8:hd[0] + 12].decode("latin1")
    t = Track(track_id=track_id, handler=handler, timescale=timescale, duration=duration,
              language=lang, display=(dw >> 16, dh >> 16), matrix=matrix)
    ed = _child(d, s, e, b"edts")
    if ed:
        el = _child(d, *ed, b"elst")
        if el:
            v, _ = _full(d, el[0])
            n = struct.unpack_from(">I", d, el[0] + 4)[0]
            p = el[0] + 8
            for _ in range(n):
                if v == 1:
                    dur, mt = struct.unpack_from(">Qq", d, p)
                    p += 16
                else:
                    dur, mt = struct.unpack_from(">Ii", d, p)
                    p += 8
                ri, rf = struct.unpack_from(">hH", d, p)
                p += 4
                t.elst.append((dur, mt, ri + rf / 65536))
    st = _child(d, *mi, b"stbl")
    if st is None:
        raise Mp4Error("no stbl")
    _parse_stbl(d, st[0], st[1], t)
    return t


def _parse_stbl(d: bytes, s: int, e: int, t: Track) -> None:
    boxes = {}
    for k, bs, be in _boxes(d, s, e):
        boxes.setdefault(k, (bs, be))
        if k in (b"sgpd", b"sbgp"):
            t.extra_stbl.append(d[bs - 8:be])
    if b"stsd" not in boxes:
        raise Mp4Error("no stsd")
    ss, se = boxes[b"stsd"]
    t.stsd = d[ss - 8:se]
    n_entries = struct.unpack_from(">I", d, ss + 4)[0]
    if n_entries < 1:
        raise Mp4Error("empty stsd")
    es, ee = next(_boxes(d, ss + 8, se))[1:]
    t.codec = d[es - 4:es].decode("latin1")
    if t.handler == "vide":
        t.width, t.height = struct.unpack_from(">HH", d, es + 24)
        for k, bs, be in _boxes(d, es + 78, ee):
            if k == b"avcC":
                t.avcc = d[bs:be]
            elif k == b"hvcC":
                t.hvcc = d[bs:be]
    elif t.handler == "soun":
        ver = struct.unpack_from(">H", d, es + 8)[0]
        t.channels = struct.unpack_from(">H", d, es + 16)[0]
        t.sample_rate = struct.unpack_from(">I", d, es + 24)[0] >> 16
        child = es + 28 + (16 if ver == 1 else 36 if ver == 2 else 0)
        for k, bs, be in _boxes(d, child, ee):
            if k == b"esds":
                _parse_esds(d[bs + 4:be], t)
    # sample sizes
    if b"stsz" in boxes:
        bs, _ = boxes[b"stsz"]
        size, count = struct.unpack_from(">II", d, bs + 4)
        t.sizes = [size] * count if size else list(struct.unpack_from(f">{count}I", d, bs + 12))
    elif b"stz2" in boxes:
        raise Mp4Error("stz2 not supported")
    else:
        raise Mp4Error("no stsz")
    n = len(t.sizes)
    # decode times
    bs, _ = boxes.get(b"stts", (None, None))
    if bs is None:
        raise Mp4Error("no stts")
    cnt = struct.unpack_from(">I", d, bs + 4)[0]
    dts, cur = [], 0
    for i in range(cnt):
        c, delta = struct.unpack_from(">II", d, bs + 8 + 8 * i)
        for _ in range(c):
            dts.append(cur)
            cur += delta
    if len(dts) < n:
        raise Mp4Error("stts shorter than stsz")
    t.dts = dts[:n]
    # composition offsets
    t.cts = [0] * n
    if b"ctts" in boxes:
        bs, _ = boxes[b"ctts"]
        v = d[bs]
        cnt = struct.unpack_from(">I", d, bs + 4)[0]
        fmt = ">Ii" if v == 1 else ">II"
        i = 0
        for k in range(cnt):
            c, off = struct.unpack_from(fmt, d, bs + 8 + 8 * k)
            if v == 0 and off >= 1 << 31:
                off -= 1 << 32              # some writers put signed offsets in version 0
            for _ in range(c):
                if i < n:
                    t.cts[i] = off
                i += 1
    if b"stss" in boxes:
        bs, _ = boxes[b"stss"]
        cnt = struct.unpack_from(">I", d, bs + 4)[0]
        sync = [False] * n
        for k in struct.unpack_from(f">{cnt}I", d, bs + 8):
            if 1 <= k <= n:
                sync[k - 1] = True
        t.sync = sync
    # chunk offsets -> sample offsets
    if b"stco" in boxes:
        bs, _ = boxes[b"stco"]
        cnt = struct.unpack_from(">I", d, bs + 4)[0]
        chunks = list(struct.unpack_from(f">{cnt}I", d, bs + 8))
    elif b"co64" in boxes:
        bs, _ = boxes[b"co64"]
        cnt = struct.unpack_from(">I", d, bs + 4)[0]
        chunks = list(struct.unpack_from(f">{cnt}Q", d, bs + 8))
    else:
        raise Mp4Error("no chunk offsets")
    bs, _ = boxes.get(b"stsc", (None, None))
    if bs is None:
        raise Mp4Error("no stsc")
    cnt = struct.unpack_from(">I", d, bs + 4)[0]
    runs = [struct.unpack_from(">III", d, bs + 8 + 12 * k) for k in range(cnt)]
    offsets = []
    for k, (first, per, _sdi) in enumerate(runs):
        last = runs[k + 1][0] - 1 if k + 1 < len(runs) else len(chunks)
        for c in range(first - 1, last):
            off = chunks[c]
            for _ in range(per):
                if len(offsets) >= n:
                    break
                offsets.append(off)
                off += t.sizes[len(offsets) - 1]
    if len(offsets) != n:
        raise Mp4Error("stsc/stco do not cover every sample")
    t.offsets = offsets


def _parse_esds(es: bytes, t: Track) -> None:
    """AudioSpecificConfig from an esds payload (after version/flags)."""
    def desc(p: int) -> tuple[int, int, int]:
        tag = es[p]
        p += 1
        ln = 0
        for _ in range(4):
            b = es[p]
            p += 1
            ln = (ln << 7) | (b & 0x7F)
            if not b & 0x80:
                break
        return tag, p, p + ln

    tag, p, end = desc(0)
    if tag != 3:
        return
    flags = es[p + 2]
    p += 3
    if flags & 0x80:
        p += 2
    if flags & 0x40:
        p += 1 + es[p]
    if flags & 0x20:
        p += 2
    tag, p, end = desc(p)
    if tag != 4:
        return
    p += 13
    if p >= end:
        return
    tag, p, end = desc(p)
    if tag != 5 or end - p < 2:
        return
    bits = int.from_bytes(es[p:end], "big")
    nbits = (end - p) * 8
    pos = 0

    def u(k: int) -> int:
        nonlocal pos
        v = (bits >> (nbits - pos - k)) & ((1 << k) - 1)
        pos += k
        return v

    aot = u(5)
    if aot == 31:
        aot = 32 + u(6)
    idx = u(4)
    rates = [96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350]
    sr = u(24) if idx == 15 else (rates[idx] if idx < len(rates) else 0)
    ch = u(4)
    t.audio_object_type = aot
    if sr:
        t.sample_rate = sr
    if 1 <= ch <= 6:
        t.channels = ch
    elif ch == 7:
        t.channels = 8


def read_samples(path: str | os.PathLike, track: Track, indices: Sequence[int], limit: int = 1 << 16) -> list[bytes]:
    """The first ``limit`` bytes of the given samples."""
    out = []
    with open(path, "rb") as fh:
        for i in indices:
            fh.seek(track.offsets[i])
            out.append(fh.read(min(track.sizes[i], limit)))
    return out


def sample_nals(data: bytes, length_size: int = 4) -> list[bytes]:
    """NAL units of one length-prefixed (AVCC) sample (a truncated last one is cut short)."""
    out, p = [], 0
    while p + length_size <= len(data):
        ln = int.from_bytes(data[p:p + length_size], "big")
        p += length_size
        out.append(data[p:p + ln])
        p += ln
    return out


def reference_flags(path: str | os.PathLike, track: Track) -> list[bool]:
    """Per sample (decode order): does any slice of it have nal_ref_idc != 0 (a reference
    picture)? HEVC (hvcC): is its first slice not a sub-layer non-reference picture (TRAIL_N,
    RADL_N, ...)? Reads only the NAL headers of each sample."""
    ls = track.nal_length_size
    hevc = bool(track.hvcc)
    flags = []
    with open(path, "rb") as fh:
        for off, size in zip(track.offsets, track.sizes):
            p, end, ref = off, off + size, None
            while p + ls < end:
                fh.seek(p)
                head = fh.read(ls + 1)
                if len(head) < ls + 1:
                    break
                ln = int.from_bytes(head[:ls], "big")
                if hevc:
                    t = (head[ls] >> 1) & 0x3F
                    if t < 32:                 # a VCL NAL: even types below 16 are non-reference
                        ref = not (t < 16 and t % 2 == 0)
                        break
                    p += ls + ln
                    continue
                t = head[ls] & 0x1F
                if t in (1, 5):
                    ref = bool(head[ls] & 0x60)
                    break
                p += ls + ln
            flags.append(True if ref is None else ref)
    return flags


# ---- writing ------------------------------------------------------------------------------------

def _box(kind: bytes, *payload: bytes) -> bytes:
    body = b"".join(payload)
    if len(body) + 8 >= 1 << 32:
        return struct.pack(">I4sQ", 1, kind, len(body) + 16) + body
    return struct.pack(">I4s", len(body) + 8, kind) + body


def _fullbox(kind: bytes, version: int, flags: int, *payload: bytes) -> bytes:
    return _box(kind, struct.pack(">I", (version << 24) | flags), *payload)


_MATRIX = struct.pack(">9I", 0x10000, 0, 0, 0, 0x10000, 0, 0, 0, 0x40000000)
IDENTITY_MATRIX = _MATRIX


@dataclass
class VideoPiece:
    """The first ``count`` samples (decode order) of ``track`` in ``path``: a decodable prefix
    whose display order is those same samples' (each piece starts with a sync sample)."""
    path: str
    track: Track
    count: int


@dataclass
class _Out:
    dts: list[int] = field(default_factory=list)
    cts: list[int] = field(default_factory=list)
    sizes: list[int] = field(default_factory=list)
    sync: list[bool] = field(default_factory=list)
    src: list[tuple[str | None, int]] = field(default_factory=list)   # (path, offset); None: inline
    chunks: list[tuple[int, int]] = field(default_factory=list)        # (first sample, count)
    chunk_offsets: list[int] = field(default_factory=list)
    inline: list[bytes] | None = None                                  # sample data held here
    deltas: list[int] | None = None                                    # explicit sample durations


def _runs(values: Sequence[int]) -> list[tuple[int, int]]:
    out: list[list[int]] = []
    for v in values:
        if out and out[-1][1] == v:
            out[-1][0] += 1
        else:
            out.append([1, v])
    return [(c, v) for c, v in out]


def write_stitched(out: str | os.PathLike, pieces: Sequence[VideoPiece], *, fps_num: int,
                   fps_den: int, timescale: int, audio: tuple[str, Track] | None = None,
                   audio_movie_ts: int = 1000,
                   chapters: Sequence[tuple[float, float, str]] = (),
                   chunk_seconds: float = 1.0, subtitles: Sequence = (),
                   subtitle_language: str | None = None) -> dict:
    """Write one MP4: the pieces' video samples back to back at a constant ``fps`` (timestamps
    regenerated: frame k of the output is shown at k / fps), the audio track's samples as they are
    (its edit list kept, e.g. AAC priming), and chapters (Nero ``chpl`` plus a QuickTime text
    chapter track, as ffmpeg writes them). moov goes first; samples are interleaved in chunks of
    about ``chunk_seconds``. ``subtitles``: cues in output frames (``subtitles.Cue`` or
    ``(start_frame, end_frame, text)``), written as a mov_text (``tx3g``) subtitle track tagged
    ``subtitle_language`` (ISO 639-1 or -2, "und" when None); chapters are unaffected. Returns
    stats."""
    if not pieces:
        raise Mp4Error("no video")
    if (timescale * fps_den) % fps_num:
        raise Mp4Error("timescale is not a multiple of the frame rate")
    dur = timescale * fps_den // fps_num
    v = _Out()
    frame0 = 0
    min_shift = 0
    ranks_all = []
    for pc in pieces:
        tr = pc.track
        if pc.count <= 0 or pc.count > tr.count:
            raise Mp4Error("bad piece length")
        if not tr.is_sync(0):
            raise Mp4Error(f"{pc.path}: does not start with a sync sample")
        pts = tr.pts[:pc.count]
        order = sorted(range(pc.count), key=lambda i: pts[i])
        rank = [0] * pc.count
        for r, i in enumerate(order):
            rank[i] = r
        ranks_all.append(rank)
        for i in range(pc.count):
            min_shift = min(min_shift, rank[i] - i)
    delay = -min_shift * dur
    for pc, rank in zip(pieces, ranks_all):
        tr = pc.track
        for i in range(pc.count):
            g = frame0 + i
            v.dts.append(g * dur)
            v.cts.append((rank[i] - i) * dur + delay)
            v.sizes.append(tr.sizes[i])
            v.sync.append(tr.is_sync(i))
            v.src.append((pc.path, tr.offsets[i]))
        frame0 += pc.count
    total_frames = frame0
    v_media_dur = total_frames * dur
    ref = pieces[0].track

    a = None
    if audio is not None:
        apath, atr = audio
        a = _Out(dts=list(atr.dts), cts=list(atr.cts), sizes=list(atr.sizes),
                 sync=[atr.is_sync(i) for i in range(atr.count)],
                 src=[(apath, o) for o in atr.offsets])
        a_media_dur = atr.duration

    # chapter text track (QuickTime layout, as ffmpeg writes it), timescale 1000
    c = None
    chap_ts = 1000
    marks = [(int(round(st * 1000)), int(round(en * 1000)), title) for st, en, title in chapters]
    marks = [m for m in marks if m[1] > m[0]]
    if marks:
        c = _Out(inline=[], deltas=[])
        for k, (s_ms, e_ms, title) in enumerate(marks):
            txt = title.encode("utf-8")[:1024]
            c.inline.append(struct.pack(">H", len(txt)) + txt + struct.pack(">I4sI", 12, b"encd", 0x100))
            c.dts.append(0 if k == 0 else s_ms)
            c.cts.append(0)
            c.sizes.append(len(c.inline[-1]))
            c.sync.append(True)
            c.src.append((None, k))
        for k in range(len(marks)):
            nxt = marks[k + 1][0] if k + 1 < len(marks) else marks[k][1]
            c.deltas.append(max(1, nxt - c.dts[k]))
        c_end = c.dts[-1] + c.deltas[-1]

    # subtitle track (mov_text), in the video's timescale so every cue lands on a frame
    sub = _subtitle_samples(subtitles, dur, total_frames) if subtitles else None

    # chunk layout: interleave by time
    def chunk_track(o: _Out, ts: int) -> None:
        step = max(1, int(chunk_seconds * ts))
        first, k = 0, 0
        while k < len(o.dts):
            lim = (o.dts[first] // step + 1) * step
            while k < len(o.dts) and o.dts[k] < lim:
                k += 1
            o.chunks.append((first, k - first))
            first = k

    chunk_track(v, timescale)
    order = [(v.dts[f] / timescale, 0, n) for n, (f, _) in enumerate(v.chunks)]
    if a is not None:
        chunk_track(a, atr.timescale)
        order += [(a.dts[f] / atr.timescale, 1, n) for n, (f, _) in enumerate(a.chunks)]
    if c is not None:
        c.chunks = [(0, len(c.dts))]
        order.append((float("inf"), 2, 0))
    if sub is not None:
        sub.chunks = [(0, len(sub.dts))]
        order.append((float("inf"), 3, 0))
    order.sort()
    tracks = [v, a, c, sub]
    total_data = sum(sum(o.sizes) for o in tracks if o is not None)
    mov_ts = timescale
    mov_dur = v_media_dur

    def build_moov(co64: bool, data_start: int) -> bytes:
        pos = data_start
        for _, ti, n in order:
            o = tracks[ti]
            f, cnt = o.chunks[n]
            o.chunk_offsets.append(pos)
            pos += sum(o.sizes[f:f + cnt])
        ids = {0: 1, 1: 2, 2: 3 if a is not None else 2}
        traks = []
        chap_ref = [_box(b"tref", _box(b"chap", struct.pack(">I", ids[2])))] if c is not None else []
        # video
        vdisp = ref.display if ref.display != (0, 0) else (ref.width, ref.height)
        traks.append(_trak(ids[0], "vide", timescale, v_media_dur, mov_dur, ref.language, ref.stsd,
                           v, [(mov_dur, delay, 1.0)], vdisp, co64, chap_ref, []))
        if a is not None:
            edits = [(e[0] * mov_ts // audio_movie_ts, e[1], e[2]) for e in atr.elst] \
                or [(a_media_dur * mov_ts // atr.timescale, 0, 1.0)]
            a_mov = sum(e[0] for e in edits if e[1] >= 0)
            traks.append(_trak(ids[1], "soun", atr.timescale, a_media_dur, a_mov, atr.language,
                               atr.stsd, a, edits, (0, 0), co64, chap_ref, atr.extra_stbl))
        if c is not None:
            c_mov = c_end * mov_ts // chap_ts
            traks.append(_trak(ids[2], "text", chap_ts, c_end, c_mov, 0, _TEXT_STSD, c,
                               [(c_mov, 0, 1.0)], (0, 0), co64, [], [], enabled=False))
        if sub is not None:
            ids[3] = max(ids.values()) + 1
            s_mov = sum(sub.deltas)
            traks.append(_trak(ids[3], "sbtl", timescale, s_mov, s_mov,
                               _language_code(subtitle_language), _TX3G_STSD, sub,
                               [(s_mov, 0, 1.0)], vdisp, co64, [], []))
        mvhd = _fullbox(b"mvhd", 0, 0, struct.pack(">IIII", 0, 0, mov_ts, mov_dur),
                        struct.pack(">IH", 0x10000, 0x100), b"\0" * 10, _MATRIX, b"\0" * 24,
                        struct.pack(">I", max(ids.values()) + 1))
        udta = []
        if chapters:
            body = struct.pack(">IIB", 0x01000000, 0, 0)
            items = []
            for start, end, title in chapters:
                if int(round(end * 1000)) <= int(round(start * 1000)):
                    continue
                txt = title.encode("utf-8")[:255]
                items.append(struct.pack(">QB", int(round(start * 10_000_000)), len(txt)) + txt)
            body = struct.pack(">IIB", 0x01000000, 0, min(255, len(items))) + b"".join(items[:255])
            udta = [_box(b"udta", _box(b"chpl", body))]
        return _box(b"moov", mvhd, *traks, *udta)

    ftyp = _box(b"ftyp", b"isom", struct.pack(">I", 512), b"isomiso2avc1mp41")
    co64 = total_data + (1 << 24) >= 1 << 32           # (the moov is far smaller than 16 MB)
    mdat_hdr = 16 if total_data + 16 >= 1 << 32 else 8
    for o in tracks:
        if o is not None:
            o.chunk_offsets = []
    probe_moov = build_moov(co64, 0)
    for o in tracks:
        if o is not None:
            o.chunk_offsets = []
    data_start = len(ftyp) + len(probe_moov) + mdat_hdr
    moov = build_moov(co64, data_start)
    if len(moov) != len(probe_moov):
        raise Mp4Error("moov size changed between passes")
    mdat_head = (struct.pack(">I4sQ", 1, b"mdat", total_data + 16) if mdat_hdr == 16
                 else struct.pack(">I4s", total_data + 8, b"mdat"))
    handles: dict[str, int] = {}
    try:
        with open(out, "wb") as fh:
            fh.write(ftyp)
            fh.write(moov)
            fh.write(mdat_head)
            for _, ti, n in order:
                o = tracks[ti]
                f, cnt = o.chunks[n]
                k = f
                while k < f + cnt:
                    path, off = o.src[k]
                    if path is None:
                        fh.write(o.inline[off])
                        k += 1
                        continue
                    size = o.sizes[k]
                    k += 1
                    while k < f + cnt and o.src[k][0] == path and o.src[k][1] == off + size:
                        size += o.sizes[k]
                        k += 1
                    fd = handles.get(path)
                    if fd is None:
                        for old in list(handles):
                            os.close(handles.pop(old))
                        fd = handles[path] = os.open(path, os.O_RDONLY)
                    _copy(fd, fh, off, size)
    finally:
        for fd in handles.values():
            os.close(fd)
    return {"frames": total_frames, "video_duration": v_media_dur / timescale, "delay": delay,
            "bytes": len(ftyp) + len(moov) + len(mdat_head) + total_data}


def _copy(fd: int, fh, offset: int, size: int) -> None:
    fh.flush()
    done = 0
    out_fd = fh.fileno()
    if hasattr(os, "copy_file_range"):
        try:
            while done < size:
                n = os.copy_file_range(fd, out_fd, size - done, offset + done)
                if n <= 0:
                    break
                done += n
        except OSError:
            pass
        if done:
            os.lseek(out_fd, 0, os.SEEK_END)
    while done < size:
        buf = os.pread(fd, min(1 << 20, size - done), offset + done)
        if not buf:
            raise Mp4Error("source file shorter than its sample table")
        fh.write(buf)
        done += len(buf)
    fh.flush()


_TEXT_STSD = bytes.fromhex(
    "0000005f7374736400000000000000010000004f746578740000000000000001000000010000000000000000"
    "0000000000000000000000010000000000000000000d6674616200010001000000001462747274000000000000"
    "001a0000001a")
_TEXT_GMHD = bytes.fromhex(
    "0000004c676d686400000018676d696e000000000040800080008000000000000000002c7465787400010000"
    "0000000000000000000000000100000000000000000000000000004000000000")


def _trak(track_id: int, handler: str, ts: int, media_dur: int, mov_dur: int, lang: int,
          stsd: bytes, o: _Out, edits, display: tuple[int, int], co64: bool, tref: list[bytes],
          extra: list[bytes], enabled: bool = True) -> bytes:
    v1 = mov_dur >= 1 << 32 or media_dur >= 1 << 32
    flags = 3 if enabled else 2
    if v1:
        tk = struct.pack(">QQIIQ", 0, 0, track_id, 0, mov_dur)
    else:
        tk = struct.pack(">IIIII", 0, 0, track_id, 0, mov_dur)
    tkhd = _fullbox(b"tkhd", 1 if v1 else 0, flags, tk, b"\0" * 8,
                    struct.pack(">hhHH", 0, 0, 0x100 if handler == "soun" else 0, 0), _MATRIX,
                    struct.pack(">II", display[0] << 16, display[1] << 16))
    ev1 = any(e[0] >= 1 << 32 or abs(e[1]) >= 1 << 31 for e in edits)
    ent = b"".join((struct.pack(">Qq", e[0], e[1]) if ev1 else struct.pack(">Ii", e[0], e[1]))
                   + struct.pack(">hH", int(e[2]), int(round((e[2] % 1) * 65536))) for e in edits)
    edts = _box(b"edts", _fullbox(b"elst", 1 if ev1 else 0, 0, struct.pack(">I", len(edits)), ent))
    if v1:
        mdhd = _fullbox(b"mdhd", 1, 0, struct.pack(">QQIQHH", 0, 0, ts, media_dur, lang, 0))
    else:
        mdhd = _fullbox(b"mdhd", 0, 0, struct.pack(">IIIIHH", 0, 0, ts, media_dur, lang, 0))
    name = {"vide": b"VideoHandler", "soun": b"SoundHandler", "text": b"SubtitleHandler",
            "sbtl": b"SubtitleHandler"}[handler]
    hdlr = _fullbox(b"hdlr", 0, 0, struct.pack(">I4s", 0, handler.encode()), b"\0" * 12, name + b"\0")
    if handler == "vide":
        mh = _fullbox(b"vmhd", 0, 1, b"\0" * 8)
    elif handler == "soun":
        mh = _fullbox(b"smhd", 0, 0, b"\0" * 4)
    elif handler == "sbtl":
        mh = _fullbox(b"nmhd", 0, 0)
    else:
        mh = _TEXT_GMHD
    dinf = _box(b"dinf", _fullbox(b"dref", 0, 0, struct.pack(">I", 1), _fullbox(b"url ", 0, 1)))
    n = len(o.sizes)
    deltas = list(o.deltas) if o.deltas is not None else None
    if deltas is None:
        deltas = [o.dts[k + 1] - o.dts[k] for k in range(n - 1)]
        last = media_dur - o.dts[-1] if n else 0
        deltas.append(last if last > 0 else (deltas[-1] if deltas else 1))
    stts_runs = _runs(deltas)
    stts = _fullbox(b"stts", 0, 0, struct.pack(">I", len(stts_runs)),
                    b"".join(struct.pack(">II", c, dl) for c, dl in stts_runs))
    boxes = [stsd, stts]
    if not all(o.sync):
        idx = [k + 1 for k, s in enumerate(o.sync) if s]
        boxes.append(_fullbox(b"stss", 0, 0, struct.pack(f">I{len(idx)}I", len(idx), *idx)))
    if any(o.cts):
        neg = any(x < 0 for x in o.cts)
        cr = _runs(o.cts)
        boxes.append(_fullbox(b"ctts", 1 if neg else 0, 0, struct.pack(">I", len(cr)),
                              b"".join(struct.pack(">Ii" if neg else ">II", c, x) for c, x in cr)))
    per = _runs([cnt for _, cnt in o.chunks])
    stsc, chunk_no = [], 1
    for c, cnt in per:
        stsc.append(struct.pack(">III", chunk_no, cnt, 1))
        chunk_no += c
    # runs of equal samples-per-chunk collapse to one entry each
    boxes.append(_fullbox(b"stsc", 0, 0, struct.pack(">I", len(stsc)), *stsc))
    if n and all(s == o.sizes[0] for s in o.sizes):
        boxes.append(_fullbox(b"stsz", 0, 0, struct.pack(">II", o.sizes[0], n)))
    else:
        boxes.append(_fullbox(b"stsz", 0, 0, struct.pack(f">II{n}I", 0, n, *o.sizes)))
    offs = o.chunk_offsets or [0] * len(o.chunks)
    if co64:
        boxes.append(_fullbox(b"co64", 0, 0, struct.pack(f">I{len(offs)}Q", len(offs), *offs)))
    else:
        boxes.append(_fullbox(b"stco", 0, 0, struct.pack(f">I{len(offs)}I", len(offs), *offs)))
    boxes += extra
    stbl = _box(b"stbl", *boxes)
    return _box(b"trak", tkhd, edts, *tref, _box(b"mdia", mdhd, hdlr, _box(b"minf", mh, dinf, stbl)))


# ---- mov_text subtitles -------------------------------------------------------------------------

# tx3g sample entry as ffmpeg's mov_text encoder writes it: bottom-centred, white 18 px text on a
# transparent background, one font ("Serif")
_TX3G_STSD = _fullbox(b"stsd", 0, 0, struct.pack(">I", 1), _box(
    b"tx3g", b"\0" * 6, struct.pack(">H", 1),
    struct.pack(">IbbI", 0, 1, -1, 0),                    # display flags, h/v justification, bg
    struct.pack(">hhhh", 0, 0, 0, 0),                     # default text box
    struct.pack(">HHHBBI", 0, 0, 1, 0, 18, 0xFFFFFFFF),   # default style
    _box(b"ftab", struct.pack(">HHB", 1, 1, 5), b"Serif")))

# ISO 639-1 -> 639-2/T for the languages people most often caption in; three-letter codes pass
_ISO639_1 = {"en": "eng", "fr": "fra", "de": "deu", "es": "spa", "it": "ita", "pt": "por",
             "nl": "nld", "sv": "swe", "no": "nor", "da": "dan", "fi": "fin", "pl": "pol",
             "cs": "ces", "ru": "rus", "uk": "ukr", "tr": "tur", "el": "ell", "he": "heb",
             "ar": "ara", "fa": "fas", "hi": "hin", "bn": "ben", "th": "tha", "vi": "vie",
             "id": "ind", "ms": "msa", "zh": "zho", "ja": "jpn", "ko": "kor", "hu": "hun",
             "ro": "ron", "bg": "bul", "hr": "hrv", "sr": "srp", "sk": "slk", "sl": "slv",
             "ca": "cat", "eu": "eus", "gl": "glg", "ta": "tam", "te": "tel", "ur": "urd",
             "sw": "swa", "tl": "tgl"}


def language_code(lang: str | None) -> str:
    """The ISO 639-2/T code an MP4 stores for ``lang`` ("en", "eng", "en-US" -> "eng");
    "und" for None or anything unknown."""
    code = (lang or "und").strip().lower().replace("_", "-").split("-")[0]
    code = _ISO639_1.get(code, code)
    return code if len(code) == 3 and all("a" <= ch <= "z" for ch in code) else "und"


def _language_code(lang: str | None) -> int:
    """mdhd's packed form of :func:`language_code` (three 5-bit letters)."""
    code = language_code(lang)
    return ((ord(code[0]) - 0x60) << 10) | ((ord(code[1]) - 0x60) << 5) | (ord(code[2]) - 0x60)


def _subtitle_samples(cues: Sequence, frame_dur: int, total_frames: int) -> _Out | None:
    """One tx3g sample per span of constant text (empty samples in the gaps, from 0), cut at the
    film's end."""
    from .subtitles import Cue, timed_segments

    norm = []
    for c in cues:
        a, b, text = (c.start_frame, c.end_frame, c.text) if isinstance(c, Cue) else c
        a, b = max(0, int(a)), min(int(b), total_frames)
        if b > a:
            norm.append(Cue(a, b, str(text)))
    spans = timed_segments(norm)
    if not spans:
        return None
    if spans[0][0] > 0:
        spans.insert(0, (0, spans[0][0], ""))
    o = _Out(inline=[], deltas=[])
    for k, (a, b, text) in enumerate(spans):
        # at most 64 KiB, never cutting a UTF-8 sequence in half
        raw = text.encode("utf-8")[:0xFFFF].decode("utf-8", "ignore").encode("utf-8")
        o.inline.append(struct.pack(">H", len(raw)) + raw)
        o.dts.append(a * frame_dur)
        o.cts.append(0)
        o.sizes.append(len(o.inline[-1]))
        o.sync.append(True)
        o.src.append((None, k))
        o.deltas.append((b - a) * frame_dur)
    return o
