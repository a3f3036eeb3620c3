"""The examples run end to end (a few epochs, via FASTGRAD_EXAMPLE_EPOCHS) and print their results."""
import os
import pathlib
import subprocess
import sys

import pytest

pytest.importorskip("sklearn")
pytest.importorskip("matplotlib")
pytest.importorskip("tqdm")

ROOT = pathlib.Path(__file__).resolve().parents[1]


def _run(script, tmp_path, epochs, *args):
    env = dict(os.environ, FASTGRAD_EXAMPLE_EPOCHS=str(epochs), MPLBACKEND="Agg",
               PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    out = tmp_path / "plot.png"
    proc = subprocess.run([sys.executable, str(ROOT / "examples" / script), "--out", str(out), *args], cwd=tmp_path,
                          env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert out.exists() and out.stat().st_size > 1000
    line = [ln for ln in proc.stdout.splitlines() if ln.startswith("Final test accuracy:")][-1]
    return float(line.split()[3])


def test_mlp_example(tmp_path):
    weights = tmp_path / "mlp.safetensors"
    acc = _run("train_digits_mlp.py", tmp_path, 3, "--save", str(weights))
    assert acc > 0.85 and weights.exists()


@pytest.mark.skipif(not os.environ.get("FASTGRAD_SLOW_TESTS"), reason="full 30-epoch run: set FASTGRAD_SLOW_TESTS=1")
def test_mlp_example_full_reaches_95_percent(tmp_path):
    assert _run("train_digits_mlp.py", tmp_path, 30) >= 0.95


def test_cnn_example(tmp_path):
    assert _run("train_digits_cnn.py", tmp_path, 2) > 0.8


def test_char_transformer_example(tmp_path):
    env = dict(os.environ, FASTGRAD_EXAMPLE_STEPS="40",
               PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.run([sys.executable, str(ROOT / "examples" / "char_transformer.py"), "--sample-chars", "40"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = proc.stdout.splitlines()
    initial = float([ln for ln in lines if ln.startswith("Initial loss")][-1].split()[-1])
    final = float([ln for ln in lines if ln.startswith("Final loss:")][-1].split()[2])
    assert final < initial - 1.0  # learnt the character frequencies at least
    sample = lines[lines.index("Sample:") + 1:]
    assert "".join(sample).startswith("def ") and len("\n".join(sample)) >= 40


def test_char_lstm_example(tmp_path):
    env = dict(os.environ, FASTGRAD_EXAMPLE_ITERS="40",
               PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.run([sys.executable, str(ROOT / "examples" / "char_lstm.py"), "--sample", "60"], cwd=tmp_path,
                          env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    line = [ln for ln in proc.stdout.splitlines() if ln.startswith("held-out bits per character:")][-1]
    bpc, uniform = float(line.split()[4]), float(line.split()[6].rstrip(")"))
    assert bpc < 0.75 * uniform  # 40 iterations already learn the character frequencies and more
    assert proc.stdout.rstrip().splitlines()[-1]  # the sample
