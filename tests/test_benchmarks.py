"""benchmarks/accelerator.py runs at tiny sizes on CPU (--quick) and prints every section."""

import re
import subprocess
import sys

import pytest

from tests import subprocesses
from tests.configs import ROOT


@pytest.mark.timeout(300)
def test_accelerator_benchmark_quick_prints_every_section():
    proc = subprocess.run(
        [sys.executable, "benchmarks/accelerator.py", "--quick"],
        cwd=ROOT,
        env=subprocesses.env(),
        capture_output=True,
        text=True,
        timeout=280,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    out = proc.stdout
    for line in (
        "- command: `python benchmarks/accelerator.py --quick`",
        "- versions: jax ",
        "- device: ",
        "- peak: unknown chip (MFU not computed)",  # the CPU has no entry in the peak table
        "## ResNet training: bare flax/optax step vs jaxdl's trainer",
        "## LSTM (benchmarks/lstm_vs_torch.py's model, 1 layer)",
        "## Sweep scaling: R runs as one vmapped program (jaxdl's trainer)",
    ):
        assert line in out, out
    assert "skipped" not in out, out
    number = r"[\d,.]+"
    for dtype in ("float32", "bfloat16"):
        for batch in (4, 8):
            assert re.search(rf"\| ResNet-20 \| 8x8 \| {batch} \| {dtype} \| {number} \|", out)
        assert re.search(rf"\| ResNet-50 \| 32x32 \| 4 \| {dtype} \| {number} \|", out), out
        assert re.search(rf"\| 16 \| 4 \| 8 \| {dtype} \| {number} \|", out), out
        for model, batch in (("digits CNN", 8), ("ResNet-20", 4)):
            for runs, ratio in ((1, r"1\.0x"), (4, rf"{number}x")):
                row = rf"\| {model} \| {batch} \| {dtype} \| {runs} \| {number} \| {ratio} \|"
                assert re.search(row, out), (row, out)


def test_accelerator_benchmark_knows_its_chips():
    from benchmarks import accelerator

    assert accelerator.peak("NVIDIA H100 80GB HBM3")[0] == "H100 SXM"
    assert accelerator.peak("NVIDIA H100 PCIe")[0] == "H100 PCIe"
    assert accelerator.peak("NVIDIA H200")[0] == "H200"
    assert accelerator.peak("NVIDIA A100-SXM4-80GB")[0] == "A100"
    assert accelerator.peak("cpu") is None
    chip = accelerator.peak("NVIDIA H200")
    # 494.7 TFLOP/s of work per second against the TF32 peak of 494.7: 100 %
    assert accelerator.mfu(494.7e12, 1.0, "float32", chip) == "100.0%"
    assert accelerator.mfu(1e12, 1.0, "bfloat16", None) == "n/a"
    assert accelerator.out_of_memory(RuntimeError("RESOURCE_EXHAUSTED: Out of memory while ..."))
    assert not accelerator.out_of_memory(ValueError("shapes differ"))
