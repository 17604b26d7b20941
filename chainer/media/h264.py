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
    """SPS and PPS NAL units from an MP4's first ``avcC`` box, read directly (no ffmpeg run).
    None if the file has no readable avcC (not H.264 in MP4, or unusual layout)."""
    import struct

    try:
        with open(path, "rb") as fh:
            moov = None
            while True:
                head = fh.read(8)
                if len(head) < 8:
                    break
                size, kind = struct.unpack(">I4s", head)
                hdr = 8
                if size == 1:
                    size = struct.unpack(">Q", fh.read(8))[0]
                    hdr = 16
                elif size == 0:
                    size = None
                if kind == b"moov":
                    moov = fh.read((size - hdr) if size else -1)
                    break
                if size is None:
                    break
                fh.seek(size - hdr, 1)
        if not moov:
            return None
        i = moov.find(b"avcC")
        if i < 0:
            return None
        box = moov[i + 4:]
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
    except (OSError, IndexError, struct.error):
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
