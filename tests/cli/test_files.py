"""Files refused at the door: every file a command takes is checked before anything is served,
with one line naming the file and what to do, exit code 2 and no traceback."""

from __future__ import annotations

from pathlib import Path

import pytest
from openmm import app

from costeer.cli.files import new_recording
from costeer.cli.main import main
from costeer.recording import RecordingReader, RecordingWriter

VILLIN = Path(app.__file__).parent / "data" / "test.pdb"


class Served(AssertionError):
    """Raised by the stand-in server: the command got as far as serving."""


@pytest.fixture(autouse=True)
def no_serving(monkeypatch: pytest.MonkeyPatch) -> None:
    """A command that is not refused fails the test at once instead of serving for ever."""
    import costeer.server.app

    def refuse(*args: object, **kwargs: object) -> None:
        raise Served("the command started serving instead of refusing its file")

    monkeypatch.setattr(costeer.server.app, "CosteerServer", refuse)


def refused(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    """Run ``costeer ARGV``; check it was refused with one line; that line."""
    assert main(list(argv)) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "Traceback" not in err, err
    assert err.startswith(f"costeer {argv[0]}: error: "), err
    return err


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory, shared_data: Path) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("door")
    made = {
        "text": folder / "notes.pdb",
        "binary": folder / "noise.pdb",
        "empty": folder / "empty.pdb",
        "not-a-zip": folder / "notes.nanover.zip",
        "other-zip": folder / "photos.zip",
        "cut-short": folder / "cut.nanover.zip",
        "no-frames": folder / "quiet.nanover.zip",
        "bad-forcefield": folder / "broken-ff.xml",
        "complete": shared_data / "recordings" / "nanotube-methane-01.nanover.zip",
    }
    made["text"].write_text("hello\nthis is not a structure\n")
    made["binary"].write_bytes(bytes(range(256)) * 8)
    made["empty"].write_text("")
    made["not-a-zip"].write_text("not a zip")
    import zipfile

    with zipfile.ZipFile(made["other-zip"], "w") as archive:
        archive.writestr("holiday.txt", "sunny")
    whole = made["complete"].read_bytes()
    made["cut-short"].write_bytes(whole[: len(whole) // 2])
    with RecordingWriter(made["no-frames"]) as writer:
        writer.write({"state": {"updates": {"simulation.name": "quiet"}, "removals": []}})
    made["bad-forcefield"].write_text('<?xml version="1.0"?>\n<ForceField><Residues>')
    return made


@pytest.mark.parametrize("kind", ["text", "binary", "empty"])
def test_serve_refuses_a_pdb_that_is_not_one(capsys, files, kind: str) -> None:
    err = refused(capsys, "serve", "--pdb", str(files[kind]))
    assert f"{files[kind]} is not a PDB file" in err and "give a PDB file" in err


def test_serve_refuses_a_cut_short_recording_with_the_readers_advice(capsys, files) -> None:
    err = refused(capsys, "serve", "--playback", str(files["cut-short"]))
    assert f"run `costeer recording repair {files['cut-short']}`" in err


@pytest.mark.parametrize(("kind", "reason"), [("not-a-zip", "not a zip file"), ("other-zip", "no messages.msgpack")])
def test_serve_refuses_a_playback_that_is_not_a_recording(capsys, files, kind: str, reason: str) -> None:
    err = refused(capsys, "serve", "--playback", str(files[kind]))
    assert f"{files[kind]} is not a .nanover.zip recording ({reason}" in err


def test_serve_refuses_a_recording_with_nothing_to_play(capsys, files) -> None:
    err = refused(capsys, "serve", "--playback", str(files["no-frames"]))
    assert f"{files['no-frames']} holds no frame with particle positions" in err


def test_serve_refuses_a_folder(capsys, tmp_path) -> None:
    assert f"--playback {tmp_path} is a folder" in refused(capsys, "serve", "--playback", str(tmp_path))


def test_serve_refuses_omm_xml_that_is_not_xml(capsys, files) -> None:
    assert f"{files['text']} is not well-formed XML" in refused(capsys, "serve", "--omm", str(files["text"]))


@pytest.mark.parametrize("kind", ["bad-forcefield", "missing"])
def test_serve_refuses_a_force_field_it_cannot_load(capsys, files, tmp_path, kind: str) -> None:
    forcefield = str(files[kind]) if kind in files else "no-such-forcefield.xml"
    err = refused(capsys, "serve", "--pdb", str(VILLIN), "--strip-water", "--forcefield", forcefield)
    assert f"cannot load the force field {forcefield}" in err and "amber14-all.xml" in err


def test_serve_refuses_a_recording_under_a_file(capsys, files, tmp_path) -> None:
    blocker = tmp_path / "sessions"
    blocker.write_text("a file where a folder should be")
    err = refused(capsys, "serve", "--record", str(blocker / "today.nanover.zip"))
    assert f"{blocker} is a file, not a folder" in err


def test_record_refuses_an_existing_output_before_connecting(capsys, files) -> None:
    err = refused(capsys, "record", "ws://127.0.0.1:9", str(files["complete"]))
    assert "exists already" in err and "refused" not in err  # no connection was tried


def test_repair_refuses_a_file_that_is_not_a_recording(capsys, files, tmp_path) -> None:
    err = refused(capsys, "recording", "repair", str(files["not-a-zip"]), "-o", str(tmp_path / "fixed.nanover.zip"))
    assert f"cannot repair {files['not-a-zip']}" in err


def test_repair_never_overwrites_another_recording(capsys, files, tmp_path) -> None:
    other = tmp_path / "other.nanover.zip"
    other.write_bytes(b"precious")
    err = refused(capsys, "recording", "repair", str(files["cut-short"]), "-o", str(other))
    assert f"{other} exists already" in err
    assert other.read_bytes() == b"precious"


def test_repair_into_a_folder_writes_a_new_recording_there(capsys, files, tmp_path) -> None:
    folder = tmp_path / "repaired"
    folder.mkdir()
    assert main(["recording", "repair", str(files["cut-short"]), "-o", str(folder)]) == 0
    (repaired,) = folder.iterdir()
    assert repaired.name.endswith(".nanover.zip") and str(repaired) in capsys.readouterr().out
    assert RecordingReader(repaired).frame_count > 0


def test_dataset_build_checks_every_recording_before_building(capsys, files, tmp_path) -> None:
    output = tmp_path / "dataset"
    err = refused(
        capsys, "dataset", "build", str(files["complete"]), str(files["other-zip"]), "--task", "nanotube", "-o", str(output)
    )
    assert f"{files['other-zip']} is not a .nanover.zip recording" in err
    assert not output.exists()
    err = refused(capsys, "dataset", "build", str(tmp_path / "absent.nanover.zip"), "--task", "nanotube", "-o", str(output))
    assert f"no such file: {tmp_path / 'absent.nanover.zip'}" in err


def test_demo_refuses_an_existing_output(capsys, files) -> None:
    assert "exists already" in refused(capsys, "demo", "--output", str(files["complete"]))


def test_export_refuses_a_pdb_that_is_not_one(capsys, files, tmp_path) -> None:
    output = tmp_path / "out.xml"
    err = refused(capsys, "export", "--pdb", str(files["text"]), "-o", str(output))
    assert f"{files['text']} is not a PDB file" in err and not output.exists()


def test_a_recording_folder_gets_a_new_time_stamped_file_each_time(tmp_path) -> None:
    first = new_recording(tmp_path, option="--record")
    first.write_bytes(b"taken")
    second = new_recording(tmp_path, option="--record")
    assert first.parent == second.parent == tmp_path
    assert first.name.startswith("session-") and first.name.endswith(".nanover.zip")
    assert second != first and not second.exists()


def test_an_existing_recording_file_is_still_refused(tmp_path) -> None:
    taken = tmp_path / "session.nanover.zip"
    taken.write_bytes(b"taken")
    with pytest.raises(FileExistsError, match="never overwritten"):
        new_recording(taken, option="--record")


@pytest.fixture
def outputs(tmp_path: Path) -> dict[str, Path]:
    """A file where a folder is asked for, a folder where a file is, and the inputs the commands check first."""
    (tmp_path / "taken.txt").write_text("precious")
    (tmp_path / "folder").mkdir()
    (tmp_path / "start.pt").write_bytes(b"a checkpoint, for dagger's first check")
    (tmp_path / "dataset" / "meta").mkdir(parents=True)
    (tmp_path / "dataset" / "meta" / "info.json").write_text("{}")
    return {"file": tmp_path / "taken.txt", "folder": tmp_path / "folder", "policy": tmp_path / "start.pt",
            "dataset": tmp_path / "dataset"}


@pytest.mark.parametrize("argv, wrong, says", [
    (["train", "--dataset", "{dataset}", "--policy", "mlp", "-o", "{folder}"], "folder", "is a folder: give a file name"),
    (["evaluate", "--baselines", "none", "--rollouts", "1", "--json", "{folder}"], "folder", "is a folder: give a file name"),
    (["evaluate", "--baselines", "none", "--rollouts", "1", "--plot", "{file}"], "file", "is a file: give a folder"),
    (["evaluate", "--policy", "{policy}", "--with-person", "synthetic", "--plot", "{file}/co.png"], "file",
     "is a file, not a folder"),
    (["dagger", "--policy", "{policy}", "--dataset", "{dataset}", "-o", "{file}"], "file", "is a file: give a folder"),
    (["demonstrate", "--offline", "--episodes", "1", "-o", "{file}"], "file", "is a file: give a folder"),
    (["dataset", "build", "{recording}", "--task", "nanotube", "-o", "{file}"], "file", "is a file: give a folder"),
    (["dataset", "plot", "{dataset}", "-o", "{file}"], "file", "is a file: give a folder"),
    (["export", "--task", "nanotube", "-o", "{folder}"], "folder", "is a folder: give a file name"),
    (["export", "--task", "nanotube", "--topology", "{folder}"], "folder", "is a folder: give a file name"),
])
def test_an_output_of_the_wrong_kind_is_refused_before_the_work_that_fills_it(capsys, files, outputs, argv, wrong, says) -> None:
    values = {**{key: str(path) for key, path in outputs.items()}, "recording": str(files["complete"])}
    err = refused(capsys, *(part.format(**values) for part in argv))
    assert f"{outputs[wrong]}" in err and says in err
    assert outputs["file"].read_text() == "precious" and list(outputs["folder"].iterdir()) == []
