"""`impasto backup` while the studio runs, `impasto restore` into a new folder: a real app on the
restored folder serves what the first one did, byte for byte, with its owners, tokens and
sessions; a folder that is not empty, or a file that is not a backup, is refused with one line."""

from __future__ import annotations

import io
import json
import sqlite3
import stat
import tarfile
from contextlib import closing
from pathlib import Path
from typing import Any, Callable

import pytest
from flask import Flask

from impasto.cli import main as cli
from impasto.jobs.tokens import new_token
from tests.dispatch import Gate, Inline, Manual, threads
from tests.web.conftest import form, png_bytes

pytestmark = pytest.mark.usefixtures("clean_backup_env")


@pytest.fixture
def clean_backup_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("IMPASTO_BROKER_URL", "IMPASTO_STORE_URL", "IMPASTO_SECRET_KEY", "IMPASTO_PASSWORD"):
        monkeypatch.delenv(name, raising=False)


def run_cli(monkeypatch: pytest.MonkeyPatch, data_dir: Path, *argv: str) -> int:
    monkeypatch.setenv("IMPASTO_DATA_DIR", str(data_dir))
    return cli(list(argv))


def submit(client: Any, **headers: str) -> dict[str, Any]:
    response = client.post("/api/jobs", data=form(content=png_bytes(), style_name="the_scream"), headers=headers)
    assert response.status_code == 202, response.json
    return response.json


def test_a_backup_taken_while_jobs_run_restores_into_a_studio_that_serves_the_same_bytes(
        make_app: Callable[..., Flask], gate: Gate, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    first = make_app(DISPATCHER=Inline)
    browser = first.test_client()
    token, digest = new_token()
    first.extensions["impasto"].store.add_token("ci", digest)
    done = submit(browser)
    result = browser.get(done["urls"]["result"]).data
    running_app = make_app(DISPATCHER=threads(gate.painter))  # the same data dir, its runner held
    running = submit(running_app.test_client(), Authorization=f"Bearer {token}")
    gate.wait_held()
    queued = submit(running_app.test_client())
    data = Path(first.config["IMPASTO_DATA_DIR"])

    archive = tmp_path / "studio.tar.gz"
    assert run_cli(monkeypatch, data, "backup", str(archive)) == 0
    assert capsys.readouterr().err.startswith("backed up 3 jobs, ")
    gate.open()
    assert stat.S_IMODE(archive.stat().st_mode) == 0o600

    restored = tmp_path / "restored" / "data"
    assert run_cli(monkeypatch, restored, "restore", str(archive)) == 0
    assert "restored 3 jobs" in capsys.readouterr().err
    modes = {stat.S_IMODE(p.stat().st_mode) for p in [restored, *restored.rglob("*")]}
    assert modes <= {0o700, 0o600} and stat.S_IMODE(restored.stat().st_mode) == 0o700

    app = make_app(IMPASTO_DATA_DIR=str(restored), DISPATCHER=Manual)
    client = app.test_client()
    assert client.get(done["urls"]["result"]).data == result
    assert client.get(done["urls"]["self"]).json["state"] == "done"
    assert client.get(running["urls"]["self"]).json["state"] in ("running", "queued")  # re-queued once stale
    assert client.get(queued["urls"]["self"]).json["state"] == "queued"
    assert client.get(queued["urls"]["content"]).data == browser.get(queued["urls"]["content"]).data
    # The session key came along: the browser's cookie still lists its job; the token still works.
    client.set_cookie("impasto_session", browser.get_cookie("impasto_session").value)
    assert [job["id"] for job in client.get("/api/jobs").json["jobs"]] == [done["id"]]
    script = app.test_client(use_cookies=False)
    listed = script.get("/api/jobs", headers={"Authorization": f"Bearer {token}"}).json["jobs"]
    assert [job["id"] for job in listed] == [running["id"]]


def test_without_the_secret_key_the_archive_has_none(make_app: Callable[..., Flask], tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    app = make_app(DISPATCHER=Inline)
    submit(app.test_client())
    archive = tmp_path / "studio.tar"
    assert run_cli(monkeypatch, Path(app.config["IMPASTO_DATA_DIR"]), "backup", "--without-secret-key",
                   str(archive)) == 0
    with tarfile.open(archive) as tar:
        names = tar.getnames()
        about = json.load(tar.extractfile("manifest.json"))
    assert names[0] == "manifest.json" and "data/secret_key" not in names and "data/jobs.sqlite3" in names
    assert (about["format"], about["format_version"], about["store"], about["secret_key"]) == (
        "impasto-backup", 1, "sqlite", False)
    assert {"impasto", "created", "schema"} <= set(about)


@pytest.fixture
def archive(make_app: Callable[..., Flask], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    app = make_app(DISPATCHER=Inline)
    submit(app.test_client())
    path = tmp_path / "studio.tgz"
    assert run_cli(monkeypatch, Path(app.config["IMPASTO_DATA_DIR"]), "backup", str(path)) == 0
    return path


def one_error_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("impasto: error: "), err
    return err.strip()


def test_restore_refuses_a_folder_that_is_not_empty(archive: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "busy"
    target.mkdir()
    (target / "notes.txt").write_text("mine")
    capsys.readouterr()
    assert run_cli(monkeypatch, target, "restore", str(archive)) == 2
    assert "is not empty; restore only into an empty or new folder" in one_error_line(capsys)
    assert [p.name for p in target.iterdir()] == ["notes.txt"]


def _tar(entries: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:
        for name, data in entries.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


MANIFEST = json.dumps({"format": "impasto-backup", "format_version": 1, "store": "sqlite"}).encode()


@pytest.mark.parametrize("content, said", [
    (b"", "is not an Impasto backup (not a tar archive)"),
    (b"\x89PNG\r\n\x1a\n" + bytes(600), "is not an Impasto backup (not a tar archive)"),
    (_tar({"notes.txt": b"hello"}), "is not an Impasto backup (it does not start with its manifest.json)"),
    (_tar({"manifest.json": b'{"format": "zip"}'}), "is not an Impasto backup (its manifest.json is of something"),
    (_tar({"manifest.json": MANIFEST.replace(b"1,", b"9,")}), "was written by a newer Impasto"),
    (_tar({"manifest.json": MANIFEST, "data/../../evil": b"x"}), "which no Impasto backup has; refused"),
    (_tar({"manifest.json": MANIFEST, "data/jobs.sqlite3": b"not a database"}), "jobs.sqlite3 is damaged"),
    (_tar({"manifest.json": MANIFEST}), "the backup holds no jobs.sqlite3; refused"),
])
def test_restore_refuses_what_is_not_a_backup_and_leaves_the_folder_empty(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], content: bytes,
        said: str) -> None:
    bad = tmp_path / "bad.tar"
    bad.write_bytes(content)
    target = tmp_path / "new"
    capsys.readouterr()
    assert run_cli(monkeypatch, target, "restore", str(bad)) == 2
    assert said in one_error_line(capsys)
    assert not target.exists()


def test_restore_of_an_embedded_backup_needs_an_embedded_studio(archive: Path, tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("IMPASTO_BROKER_URL", "redis://127.0.0.1:1/0")
    capsys.readouterr()
    assert run_cli(monkeypatch, tmp_path / "new", "restore", str(archive)) == 2
    assert "unset IMPASTO_BROKER_URL" in one_error_line(capsys)


def test_backup_of_a_folder_with_no_studio_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli(monkeypatch, tmp_path / "nothing", "backup", str(tmp_path / "b.tar")) == 2
    assert "holds no job database (jobs.sqlite3): nothing to back up" in one_error_line(capsys)
    assert not (tmp_path / "b.tar").exists() and list(tmp_path.iterdir()) == []


def _rewrite(archive: Path, target: Path, change: Callable[[str, bytes], bytes | None]) -> Path:
    """``archive`` copied to ``target`` with each entry's bytes passed through ``change`` (None drops it)."""
    kept = {}
    with tarfile.open(archive) as tar:
        for member in tar:
            data = change(member.name, tar.extractfile(member).read())
            if data is not None:
                kept[member.name] = data
    target.write_bytes(_tar(kept))
    return target


def test_files_the_archive_lacks_are_dropped_and_the_rows_own_paths_are_not_trusted(
        archive: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, make_app: Callable[..., Flask]) -> None:
    def change(name: str, data: bytes) -> bytes | None:
        if name.endswith("/result.png"):
            return None  # as if the job was deleted between the snapshot and the read
        if name == "data/jobs.sqlite3":  # a row that points out of its folder
            path = tmp_path / "rows.sqlite3"
            path.write_bytes(data)
            with closing(sqlite3.connect(path)) as db:
                db.execute("""UPDATE jobs SET files=json_set(files, '$."content.png"', '../../../etc/passwd')""")
                db.commit()
            return path.read_bytes()
        return data

    bad = _rewrite(archive, tmp_path / "edited.tar", change)
    restored = tmp_path / "restored"
    assert run_cli(monkeypatch, restored, "restore", str(bad)) == 0
    app = make_app(IMPASTO_DATA_DIR=str(restored))
    job = app.extensions["impasto"].store.recent()[0]
    assert "result.png" not in job.files and app.test_client().get(f"/api/jobs/{job.id}/result").status_code == 404
    content = app.test_client().get(f"/api/jobs/{job.id}/content").data
    assert content == (restored / "jobs" / job.id / "content.png").read_bytes()
