"""Reading request bodies safely: the exact size limit, a time limit for slow uploads, and broken
framing answered 400 (never 500).

Flask reads the body through ``Request.stream``; ``GuardedRequest`` wraps that stream so that

- a body of exactly IMPASTO_MAX_UPLOAD_MB is accepted and one byte more is refused (Werkzeug's own
  guard refuses a streamed body that reaches the limit, one byte early);
- the whole body must arrive within IMPASTO_UPLOAD_TIMEOUT seconds: under gunicorn each read waits
  at most the time left (a socket timeout), so an upload that stalls mid-body gets 408 and frees its
  thread instead of holding it for ever;
- a malformed chunked body (a chunk size ``zz``) or a client gone mid-body is a 400.

Which of Flask's limits a 413 hit is raised as its own type where it is known: ``BodyTooLarge`` (the
whole body), ``TooManyParts`` (the form's parts, counted as they are read; Werkzeug raises the same
exception for that and for one text field too large), else one text field. ``too_large_message``
names the limit from the type.
"""

from __future__ import annotations

import time
from typing import IO, Any, Callable

from flask import Request, current_app
from werkzeug.datastructures import Headers
from werkzeug.exceptions import BadRequest, RequestEntityTooLarge, RequestTimeout
from werkzeug.formparser import FormDataParser, MultiPartParser
from werkzeug.sansio.multipart import File
from werkzeug.utils import cached_property
from werkzeug.wsgi import get_input_stream

try:  # the errors gunicorn's body readers raise for broken framing (chunk sizes, early EOF)
    from gunicorn.http.errors import NoMoreData, ParseException

    FRAMING_ERRORS: tuple[type[BaseException], ...] = (ParseException, NoMoreData)
except ImportError:  # pragma: no cover - gunicorn is a dependency; other servers raise OSError
    FRAMING_ERRORS = ()


class BodyTooLarge(RequestEntityTooLarge):
    """The whole request body is over MAX_CONTENT_LENGTH (not a per-field or part-count limit)."""


class TooManyParts(RequestEntityTooLarge):
    """The form has more parts (fields and files) than MAX_FORM_PARTS."""


class UploadTimeout(RequestTimeout):
    """The body did not arrive within IMPASTO_UPLOAD_TIMEOUT seconds."""


class CountingMultiPartParser(MultiPartParser):
    """Werkzeug's multipart parser, counting the parts it has read. Werkzeug refuses a part beyond
    max_form_parts as it reads its headers, so a 413 once max_form_parts parts were read whole is
    the parts limit (TooManyParts); any other comes from a text field over max_form_memory_size."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.parts_read = 0

    def get_part_charset(self, headers: Headers) -> str:  # called once for each text field read
        self.parts_read += 1
        return super().get_part_charset(headers)

    def start_file_streaming(self, event: File, total_content_length: int | None) -> IO[bytes]:
        self.parts_read += 1  # called once for each file part
        return super().start_file_streaming(event, total_content_length)

    def parse(self, stream: IO[bytes], boundary: bytes, content_length: int | None) -> Any:
        try:
            return super().parse(stream, boundary, content_length)
        except BodyTooLarge:
            raise
        except RequestEntityTooLarge:
            if self.max_form_parts is not None and self.parts_read >= self.max_form_parts:
                raise TooManyParts() from None
            raise


class GuardedFormParser(FormDataParser):
    """Werkzeug's form parser with the counting multipart parser (as Werkzeug's own method, with
    that one class changed)."""

    def _parse_multipart(self, stream: IO[bytes], mimetype: str, content_length: int | None,
                         options: dict[str, str]) -> tuple[IO[bytes], Any, Any]:
        parser = CountingMultiPartParser(stream_factory=self.stream_factory,
                                         max_form_memory_size=self.max_form_memory_size,
                                         max_form_parts=self.max_form_parts, cls=self.cls)
        boundary = options.get("boundary", "").encode("ascii")
        if not boundary:
            raise ValueError("Missing boundary")
        form, files = parser.parse(stream, boundary, content_length)
        return stream, form, files


class GuardedRequest(Request):
    """Flask's Request with the body stream and form parser of this module (``app.request_class``)."""

    form_data_parser_class = GuardedFormParser

    @cached_property
    def stream(self) -> IO[bytes]:  # type: ignore[override]
        limit, length = self.max_content_length, self.content_length
        if limit is not None and length is not None and length > limit:
            raise BodyTooLarge()
        # With a Content-Length (within the limit) the server or Werkzeug ends the stream there.
        # Without one (chunked), limit + 1: Werkzeug refuses a read once that many bytes came, so a
        # body of exactly ``limit`` bytes passes.
        cap = None if length is not None or limit is None else limit + 1
        inner = get_input_stream(self.environ, max_content_length=cap)
        timeout = current_app.config["IMPASTO_UPLOAD_TIMEOUT"]
        return GuardedStream(inner, self.environ.get("gunicorn.socket"), timeout)  # type: ignore[return-value]


class GuardedStream:
    """A body stream whose reads end by a deadline and turn framing errors into HTTP errors."""

    def __init__(self, inner: IO[bytes], sock: Any, timeout: float | None) -> None:
        self.inner, self.sock, self.timeout = inner, sock, timeout
        self.deadline = None if timeout is None else time.monotonic() + timeout

    def read(self, size: int = -1) -> bytes:
        return self._guarded(self.inner.read, size)

    def readline(self, size: int = -1) -> bytes:
        return self._guarded(self.inner.readline, size)

    def __getattr__(self, name: str) -> Any:  # anything else a reader asks of a stream (close, ...)
        return getattr(self.inner, name)

    def __iter__(self) -> GuardedStream:
        return self

    def __next__(self) -> bytes:
        line = self.readline()
        if not line:
            raise StopIteration
        return line

    def _guarded(self, read: Callable[[int], bytes], size: int) -> bytes:
        if self.deadline is not None:
            left = self.deadline - time.monotonic()
            if left <= 0:
                raise self._timeout()
            if self.sock is not None:
                self.sock.settimeout(left)  # one read may wait at most the time left
        try:
            return read(size)
        except RequestEntityTooLarge:
            raise BodyTooLarge() from None
        except TimeoutError:
            raise self._timeout() from None
        except FRAMING_ERRORS as exc:
            raise BadRequest(f"the request body is malformed ({type(exc).__name__}: {exc})") from None
        finally:
            if self.sock is not None and self.deadline is not None:
                self.sock.settimeout(None)  # gunicorn writes the answer on a blocking socket

    def _timeout(self) -> UploadTimeout:
        return UploadTimeout(f"the upload did not arrive within {self.timeout:g} s (IMPASTO_UPLOAD_TIMEOUT); "
                             "send it again on a faster connection")


def too_large_message(exc: RequestEntityTooLarge, config: Any) -> str:
    """Say which limit a 413 hit: the whole body, one text field, or the number of form parts."""
    if isinstance(exc, BodyTooLarge):
        limit = int(config["MAX_CONTENT_LENGTH"])
        return (f"the upload is larger than the limit of {config['IMPASTO_MAX_UPLOAD_MB']:g} MB "
                f"({limit:,} bytes, IMPASTO_MAX_UPLOAD_MB) for all files of one request together")
    if isinstance(exc, TooManyParts):
        return (f"the form has more than {config.get('MAX_FORM_PARTS') or 1000} parts (fields and files), "
                "the limit on parts per request")
    size = config.get("MAX_FORM_MEMORY_SIZE") or 500_000
    return f"a text field is larger than the limit of {size:,} bytes per field (files go in file parts)"
