"""`main.py chat` and `main.py train-prompts`: JSON shape, verdict agreement, one-line errors."""

from __future__ import annotations

import json

import cv2
import pytest
from PIL import Image

from core.chat.cli import chat_main, train_main
from core.chat.training_data import procedural_texture


@pytest.fixture
def tiny_env(monkeypatch, tiny_lm_folder, tmp_path):
    monkeypatch.setenv("INSPECTION_LM_PATH", str(tiny_lm_folder))
    monkeypatch.setenv("INSPECTION_PROMPT_LEARNER", str(tmp_path / "no-learner"))
    return tiny_lm_folder


@pytest.fixture
def images(tmp_path):
    ref = procedural_texture(3, 0, side=128)
    good = procedural_texture(3, 1, side=128)
    bad = good.copy()
    cv2.circle(bad, (40, 36), 14, (10, 10, 10), -1)
    paths = {}
    for name, img in (("ref", ref), ("good", good), ("bad", bad)):
        paths[name] = tmp_path / f"{name}.png"
        Image.fromarray(img).save(paths[name])
    paths["corrupt"] = tmp_path / "corrupt.png"
    paths["corrupt"].write_bytes(b"\x89PNG\r\n\x1a\n broken")
    return paths


def one_line_error(capsys, code):
    _out, err = capsys.readouterr()
    assert code != 0
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:") and "Traceback" not in err, err
    return lines[0]


def test_chat_json_answer_agrees_with_the_verdict(tiny_env, images, capsys):
    code = chat_main(
        ["--ref", str(images["ref"]), str(images["bad"]), "Is there a defect?", "--json", "--max-new-tokens", "4"]
    )
    out, err = capsys.readouterr()
    assert code == 0, err
    d = json.loads(out)
    assert set(d) == {"answer", "verdict", "probability", "regions", "timings_ms"}
    assert d["verdict"] in ("PASS", "FAIL") and 0.0 <= d["probability"] <= 1.0
    assert d["answer"].startswith("Yes" if d["verdict"] == "FAIL" else "No")
    assert d["verdict"] == "PASS" or d["regions"]
    assert {"inspection", "model_load", "answer"} <= set(d["timings_ms"])
    assert "warning: No prompt learner" in err  # the tiny model has none; said once, not fatal


def test_chat_plain_text(tiny_env, images, capsys):
    assert chat_main(["--ref", str(images["ref"]), str(images["good"]), "is it ok?", "--max-new-tokens", "0"]) == 0
    out = capsys.readouterr()[0].strip()
    assert out.startswith(("Yes, the part passes", "No, the part fails")) and "\n" not in out


@pytest.mark.parametrize(
    "argv, words",
    [
        (["IMG", "Is there a defect?"], "no reference images"),
        (["--ref", "REF", "MISSING", "Is there a defect?"], "missing.png"),
        (["--ref", "REF", "CORRUPT", "Is there a defect?"], "corrupt.png"),
        (["--ref", "REF", "IMG", "   "], "question is empty"),
    ],
)
def test_chat_errors_are_one_line(tiny_env, images, capsys, argv, words):
    subst = {
        "IMG": str(images["good"]),
        "REF": str(images["ref"]),
        "CORRUPT": str(images["corrupt"]),
        "MISSING": str(images["ref"].parent / "missing.png"),
    }
    line = one_line_error(capsys, chat_main([subst.get(a, a) for a in argv]))
    assert words in line


def test_chat_without_language_model_is_one_line(monkeypatch, images, capsys, tmp_path):
    monkeypatch.setenv("INSPECTION_LM_PATH", str(tmp_path / "gone"))
    line = one_line_error(capsys, chat_main(["--ref", str(images["ref"]), str(images["good"]), "ok?"]))
    assert "INSPECTION_LM_PATH" in line


def test_train_prompts_writes_weights_and_manifest(tiny_env, tmp_path, capsys):
    out = tmp_path / "learner"
    code = train_main(
        [
            "--fast",
            "--steps",
            "3",
            "--batch",
            "2",
            "--samples",
            "6",
            "--held-out",
            "4",
            "--out",
            str(out),
            "--lm",
            str(tiny_env),
        ]
    )
    _, err = capsys.readouterr()
    assert code == 0, err
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["lm_id"] == "tiny-llama" and manifest["steps_done"] == 3
    assert manifest["command"].startswith("python main.py train-prompts --fast")
    assert {"loss", "yes_no_accuracy"} <= set(manifest["held_out"]) and manifest["data"]["training_samples"] == 6
    assert (out / "prompt_learner.safetensors").stat().st_size < 5e6
    assert "training prompt learner" in err  # progress was shown


def test_train_prompts_bad_arguments(tiny_env, tmp_path, capsys):
    line = one_line_error(capsys, train_main(["--images", str(tmp_path / "none"), "--lm", str(tiny_env)]))
    assert "no such folder" in line
    line = one_line_error(capsys, train_main(["--steps", "0", "--lm", str(tiny_env)]))
    assert "--steps must be at least 1" in line
    empty = tmp_path / "empty"
    empty.mkdir()
    line = one_line_error(capsys, train_main(["--images", str(empty), "--fast", "--lm", str(tiny_env)]))
    assert "at least two normal images" in line
