"""Just enough H.264 bitstream reading for stitching: parameter sets, the PPS's initial QP and
x264's options SEI, and where a clip can be cut in decode order without breaking references."""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Sequence


def nal_units(annexb: bytes) -> list[bytes]:
    """Split an Annex B byte stream into NAL units (start codes removed, trailing zeros kept off)."""
    out = []
    starts = [m.end() for m in re.finditer(b"\x00\x00\x01", annexb)]
    for k, s in enumerate(starts):
        e = starts[k + 1] - 3 if k + 1 < len(starts) else len(annexb)
        nal = annexb[s:e].rstrip(b"\x00")
        if nal:
            out.append(nal)
    return out


def _rbsp(nal: bytes) -> bytes:
    return re.sub(b"\x00\x00\x03", b"\x00\x00", nal[1:])


class _Bits:
    def __init__(self, data: bytes):
        self.data, self.pos = data, 0

    def u(self, n: int) -> int:
        v = 0
        for _ in range(n):
            byte = self.data[self.pos >> 3]
            v = (v << 1) | ((byte >> (7 - (self.pos & 7))) & 1)
            self.pos += 1
        return v

    def ue(self) -> int:
        zeros = 0
        while self.u(1) == 0:
            zeros += 1
        return (1 << zeros) - 1 + (self.u(zeros) if zeros else 0)

    def se(self) -> int:
        k = self.ue()
        return (k + 1) // 2 if k & 1 else -(k // 2)


@dataclass(frozen=True)
class StreamHeaders:
    sps: tuple[bytes, ...]
    pps: tuple[bytes, ...]
    pic_init_qp: int | None
    x264_options: str | None
    chroma_qp_offset: int | None = None

    @property
    def key(self) -> tuple:
        """What must be identical for two streams to be concatenated by copying packets."""
        return (self.sps, self.pps)


def parse_headers(annexb: bytes) -> StreamHeaders:
    """Parameter sets (and x264's options SEI, if present) of an Annex B access unit."""
    return headers_from_nals(nal_units(annexb))


def headers_from_nals(nals: list[bytes]) -> StreamHeaders:
    sps, pps, qp, opts, cqo = [], [], None, None, None
    for nal in nals:
        t = nal[0] & 0x1F
        if t == 7:
            sps.append(nal)
        elif t == 8:
            pps.append(nal)
            if qp is None:
                try:
                    b = _Bits(_rbsp(nal))
                    b.ue(); b.ue(); b.u(1); b.u(1)          # pps id, sps id, cabac, bottom_field
                    if b.ue() == 0:                       # num_slice_groups_minus1
                        b.ue(); b.ue(); b.u(1); b.u(2)    # ref idx l0/l1, weighted pred/bipred
                        qp = 26 + b.se()
                        b.se()                            # pic_init_qs_minus26
                        cqo = b.se()                      # chroma_qp_index_offset
                except IndexError:
                    qp = None
        elif t == 6 and opts is None:
            m = re.search(rb"x264 - core \d+[^\x00]*?options: ([^\x00]+)", nal)
            if m:
                opts = m.group(1).decode("ascii", "replace")
    return StreamHeaders(tuple(sps), tuple(pps), qp, opts, cqo)


def mp4_avcc_nals(path) -> list[bytes] | None:
    """SPS and PPS NAL units from an MP4's H.264 video track (avcC), read by :mod:`.mp4` without
    running ffmpeg. None if the file is not H.264 in a readable MP4 (callers fall back to ffmpeg)."""
    from . import mp4

    try:
        track = mp4.read(path).first("vide")
        return track.avcc_nals() if track is not None and track.avcc else None
    except (OSError, mp4.Mp4Error):
        return None


def prefix_cut(pts_in_decode_order: Sequence[int], upto: int) -> int:
    """Largest K <= ``upto`` such that the first K packets in decode order are exactly the first K
    frames in display order (any decode-order prefix is reference-closed; this one is also
    display-contiguous, so it can be copied and continued by freshly encoded frames)."""
    ranks = {p: r for r, p in enumerate(sorted(pts_in_decode_order))}
    best = 0
    worst = -1
    for k, p in enumerate(pts_in_decode_order[:upto]):
        worst = max(worst, ranks[p])
        if worst == k:           # prefix of k+1 packets covers display ranks 0..k
            best = k + 1
    return best


def x264_options(opts: str | None) -> dict[str, str]:
    if not opts:
        return {}
    out = {}
    for tok in opts.split():
        if "=" in tok:
            k, v = tok.split("=", 1)
            out[k] = v
    return out


@dataclass(frozen=True)
class SpsInfo:
    profile_idc: int
    chroma_format_idc: int
    bit_depth: int
    width: int               # after cropping
    height: int
    full_range: bool

    @property
    def pix_fmt(self) -> str | None:
        """The pixel format ffmpeg's decoder reports for this SPS (None: unusual)."""
        base = {0: "gray", 1: "yuv420p", 2: "yuv422p", 3: "yuv444p"}.get(self.chroma_format_idc)
        if base is None:
            return None
        if self.bit_depth != 8:
            return None if base == "gray" else f"{base}{self.bit_depth}le"
        if self.full_range and base != "gray":
            return base.replace("yuv", "yuvj")
        return base


def _scaling_list(b: _Bits, size: int) -> None:
    last = nxt = 8
    for _ in range(size):
        if nxt:
            nxt = (last + b.se() + 256) % 256
        last = nxt or last


def parse_sps(nal: bytes) -> SpsInfo:
    """Size, chroma format, bit depth and range of an SPS NAL unit (raises ValueError)."""
    try:
        b = _Bits(_rbsp(nal))
        profile = b.u(8)
        b.u(8)
        b.u(8)
        b.ue()
        chroma, depth, sep = 1, 8, 0
        if profile in (100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135):
            chroma = b.ue()
            if chroma == 3:
                sep = b.u(1)
            depth = b.ue() + 8
            b.ue()
            b.u(1)
            if b.u(1):
                for k in range(8 if chroma != 3 else 12):
                    if b.u(1):
                        _scaling_list(b, 16 if k < 6 else 64)
        b.ue()                                   # log2_max_frame_num_minus4
        poc = b.ue()
        if poc == 0:
            b.ue()
        elif poc == 1:
            b.u(1)
            b.se()
            b.se()
            for _ in range(b.ue()):
                b.se()
        b.ue()                                   # max_num_ref_frames
        b.u(1)
        w_mbs = b.ue() + 1
        h_map = b.ue() + 1
        frame_mbs_only = b.u(1)
        if not frame_mbs_only:
            b.u(1)
        b.u(1)
        width, height = w_mbs * 16, h_map * 16 * (2 - frame_mbs_only)
        if b.u(1):
            cl, cr, ct, cb = b.ue(), b.ue(), b.ue(), b.ue()
            cx = 1 if chroma in (0, 3) or sep else 2
            cy = (2 if chroma == 1 and not sep else 1) * (2 - frame_mbs_only)
            width -= (cl + cr) * cx
            height -= (ct + cb) * cy
        full = False
        if b.u(1):                               # vui_parameters_present_flag
            if b.u(1):                           # aspect_ratio_info_present_flag
                if b.u(8) == 255:
                    b.u(16)
                    b.u(16)
            if b.u(1):                           # overscan_info_present_flag
                b.u(1)
            if b.u(1):                           # video_signal_type_present_flag
                b.u(3)
                full = bool(b.u(1))
    except IndexError:
        raise ValueError("truncated SPS") from None
    return SpsInfo(profile, 0 if sep else chroma, depth, width, height, full)
