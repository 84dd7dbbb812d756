"""A job's paintings: uploads stored with the job, built-ins referenced by name and content hash.

A built-in painting is the same file for every job, so a job does not store a copy of it: its meta
holds ``style_names`` (the built-in's name per painting, None for an upload, in blend order) and
``style_sha256`` (the built-in file's hash then), and the runner loads the file by name. Painting
``i`` of a job is its stored file STYLE_FILES[i] when there is one (uploads, and built-ins of jobs
from before references), else the built-in named in its meta.
"""

from __future__ import annotations

from dataclasses import dataclass

from impasto.jobs.store import STYLE_FILES, Job, JobStore, style_files, style_names
from impasto.styles import Style, catalog


@dataclass(frozen=True)
class Painting:
    """One painting of a job. ``file`` is its slot (style.png, style_2.png …, also its URL kind)."""

    file: str
    name: str | None  # the built-in's name; None for an upload
    sha256: str | None  # for a referenced built-in: its file's hash when the job was submitted
    stored: bool  # the job holds the image itself (an upload, or a built-in of an older job)

    @property
    def builtin(self) -> Style | None:
        return catalog().get(self.name or "")


def job_paintings(job: Job) -> list[Painting]:
    """The paintings of ``job`` in blend order."""
    names = style_names(job)
    hashes = list(job.meta.get("style_sha256") or [])
    count = max(len(style_files(job.files)), len(names))
    result = []
    for index, file in enumerate(STYLE_FILES[:count]):
        name = names[index] if index < len(names) else None
        sha = hashes[index] if index < len(hashes) else None
        result.append(Painting(file, name, None if file in job.files else sha, file in job.files))
    return result


def painting_bytes(store: JobStore, job: Job, painting: Painting) -> bytes | None:
    """The painting's file: the job's stored copy, or the built-in's own file (None if gone)."""
    if painting.stored:
        return store.get_file(job.id, painting.file)
    style = painting.builtin
    return style.read() if style is not None else None


def reference_meta(names: list[str | None]) -> dict[str, list]:
    """The meta entries for paintings in blend order (a name for each referenced built-in)."""
    return {"style_names": names,
            "style_sha256": [catalog()[name].sha256 if name else None for name in names]}
