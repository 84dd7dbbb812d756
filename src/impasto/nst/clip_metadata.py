"""A clip without its metadata, as the studio stores and serves it: no place, comment, title, date
or device, the way a photo loses its EXIF by being stored again as PNG.

MP4/MOV/WebM/MKV are remuxed with PyAV: the first video and first audio track's packets copied as
they are (nothing re-encoded, so the frames are the very same) into a fresh container of the same
kind that gets none of the source's container or track tags; other tracks (subtitles, GPS and
telemetry data tracks, cover art) are left out. Animated GIF and WebP keep only the blocks that play
(impasto.nst.animated). The muxers write no creation time, and in bitexact mode not even their
version.
"""

from __future__ import annotations

import io
import logging
import tempfile
from pathlib import Path

from impasto.nst.animated import Malformed
from impasto.nst.animated import without_metadata as animated_without_metadata
from impasto.nst.errors import ImageError

log = logging.getLogger(__name__)

# A probed clip's container (ClipInfo.container) -> the FFmpeg muxer that writes one again.
MUXERS = {"mp4": "mp4", "mov": "mov", "webm": "webm", "mkv": "matroska"}
UNSTRIPPABLE = "the clip could not be stored without its metadata: its tracks cannot be copied into a new {}"


def without_metadata(data: bytes, container: str) -> bytes:
    """``data`` (a clip that passed probe_clip, whose ClipInfo.container is ``container``) with no
    metadata; ImageError (field 'content') if its tracks cannot be copied into a new container."""
    if container in ("gif", "webp"):
        try:
            return animated_without_metadata(data, container)
        except Malformed:
            raise ImageError(UNSTRIPPABLE.format(container.upper()), field="content") from None
    return _remux(data, MUXERS[container])


def _remux(data: bytes, muxer: str) -> bytes:
    import av

    with tempfile.TemporaryDirectory(prefix="impasto-remux-") as folder:
        # A file, not a BytesIO: MP4's faststart (the index moved to the front, so that a browser
        # plays while it loads) reopens the output by name.
        path = Path(folder) / "clip"
        # bitexact: no random segment id (Matroska) and no muxer version, so that the same clip
        # always gives the same bytes (one ETag for the byte ranges a <video> asks for).
        options = {"fflags": "+bitexact", **({"movflags": "+faststart"} if muxer in ("mp4", "mov") else {})}
        try:
            with av.open(io.BytesIO(data), mode="r") as source, \
                    av.open(str(path), mode="w", format=muxer, options=options) as target:
                _copy_tracks(source, target)
        except (av.FFmpegError, ValueError) as exc:  # FFmpeg's words may name the temporary file: logged only
            log.warning("a clip could not be remuxed into %s: %s", muxer, exc)
            raise ImageError(UNSTRIPPABLE.format(muxer.upper()), field="content") from None
        return path.read_bytes()


def _copy_tracks(source, target) -> None:
    """The first video and first audio track's packets, untouched, with none of their tags."""
    tracks = [streams[0] for streams in (source.streams.video, source.streams.audio) if streams]
    copies = {}
    for track in tracks:
        copy = target.add_stream_from_template(track)
        copy.metadata.clear()  # the template's codec parameters only: no language, handler or dates
        copies[track.index] = copy
    for packet in source.demux(*tracks):
        if packet.dts is None:  # the demuxer's end-of-stream marker
            continue
        packet.stream = copies[packet.stream.index]
        target.mux(packet)
