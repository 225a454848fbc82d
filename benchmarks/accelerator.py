"""Accelerator benchmark: jaxdl's training speed against the chip's peak, float32 and bfloat16.

Prints markdown tables (fit to paste into README as they are):

1. ResNet-20 (32x32 images, batch 128 and 1024) and ResNet-50 (224x224, batch 128): images/s of
   a bare jitted flax/optax step beside jaxdl's trainer (``jaxdl.train.loop``'s chunk of steps,
   in the strategy the backend policy picks: one ``lax.scan`` of 10 steps on accelerators), the
   trainer's time per step over the bare step's, the FLOPs of one step from XLA's cost analysis
   of the bare step, and the model FLOPs utilisation (MFU) of both.
2. The LSTM of benchmarks/lstm_vs_torch.py (jaxdl's StackedRNN, hand-derived BPTT, 1 layer,
   64 inputs, 100 steps, a 64-way head at every step, Adam) at H = 1024, batch 256: tokens/s and
   MFU. Its FLOPs are counted by hand (forward and backward: 6 x the multiply-adds per token):
   XLA's cost analysis counts a loop's body once.
3. Sweep scaling: 1, 8, 64 and 256 runs (seeds) of the digits CNN (experiments/digits_cnn.py,
   batch 64) and of ResNet-20 (batch 128) as ONE vmapped program of jaxdl's trainer: summed
   images/s, and its ratio to one run's.

bfloat16 is ``train.compute_dtype=bfloat16`` (``jaxdl.train.precision``: float32 parameters,
matmuls and convolutions in bfloat16); the bare step makes the same casts by hand. float32 runs at
JAX's default matmul precision, which on NVIDIA GPUs multiplies in TF32: its MFU is against the
TF32 tensor-core peak. MFU = FLOPs per step x steps/s / the chip's dense peak; the peaks are the
vendor's datasheet numbers for the chips in ``PEAKS`` (another chip prints "unknown chip"). A
configuration that runs out of device memory prints "skipped: out of memory" and the script goes
on; past its share of ``--budget`` seconds (sections 1 and 2 stop at 50 % and 60 %) a row prints
"skipped: time budget". Times exclude compilation (each program runs once before it is timed);
``--cache_dir`` keeps the compiled programs for a second run.

Run:  PYTHONPATH=. python benchmarks/accelerator.py            (one GPU: under 3 minutes;
                                                                --budget SECONDS, default 170)
      PYTHONPATH=. python benchmarks/accelerator.py --quick    (tiny sizes on CPU, seconds; the
                                                                tests run it)
"""

import argparse
import dataclasses
import gc
import importlib.metadata
import importlib.util
import math
import os
import shlex
import sys
import time
from typing import Any, Callable

import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax

from jaxdl import backend, models
from jaxdl.nn import recurrent
from jaxdl.tasks import classify
from jaxdl.train import loop, optim, precision, steps, sweep
from jaxdl.train.problem import Problem
from jaxdl.train.state import hparams_to_arrays

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DTYPES = ("float32", "bfloat16")

# device_kind substring -> (name, dense peak TFLOP/s per compute dtype). float32 is the TF32
# tensor-core peak (JAX's default precision for float32 matmuls on these GPUs); the plain FP32
# peak is printed beside it for reference. NVIDIA datasheets, without sparsity.
PEAKS = (
    ("H200", "H200", {"bfloat16": 989.4, "float32": 494.7, "fp32 (no TF32)": 66.9}),
    ("H100 PCIe", "H100 PCIe", {"bfloat16": 756.0, "float32": 378.0, "fp32 (no TF32)": 51.2}),
    ("H100", "H100 SXM", {"bfloat16": 989.4, "float32": 494.7, "fp32 (no TF32)": 66.9}),
    ("A100", "A100", {"bfloat16": 312.0, "float32": 156.0, "fp32 (no TF32)": 19.5}),
)


@dataclasses.dataclass(frozen=True)
class Sizes:
    """What the script measures; :data:`FULL` on an accelerator, :data:`QUICK` for a smoke run."""

    resnet20: dict[str, Any]  # models.get("cifar_resnet", ...) arguments
    resnet20_image: int
    resnet20_batches: tuple[int, ...]
    resnet50: dict[str, Any]  # models.get("resnet50", ...) arguments
    resnet50_image: int
    resnet50_batch: int
    lstm: tuple[int, int, int, int, int]  # H, B, T, D, V
    sweep_runs: tuple[int, ...]
    cnn_variant: str | None  # experiments/digits_cnn.py's variant
    sweep_batches: tuple[int, int]  # digits CNN, ResNet-20
    chunk: int  # trainer steps per chunk (loop.fit's log_every)
    min_time: float  # seconds each timing spans at least
    budget: float  # seconds before the remaining rows are skipped


FULL = Sizes(
    resnet20={"depth": 20},
    resnet20_image=32,
    resnet20_batches=(128, 1024),
    resnet50={},
    resnet50_image=224,
    resnet50_batch=128,
    lstm=(1024, 256, 100, 64, 64),
    sweep_runs=(1, 8, 64, 256),
    cnn_variant=None,
    sweep_batches=(64, 128),
    chunk=10,
    min_time=0.5,
    budget=170.0,
)
QUICK = Sizes(
    resnet20={"depth": 2, "width": 4},
    resnet20_image=8,
    resnet20_batches=(4, 8),
    resnet50={"stage_sizes": (1,), "width": 4},
    resnet50_image=32,
    resnet50_batch=4,
    lstm=(16, 4, 8, 8, 8),
    sweep_runs=(1, 4),
    cnn_variant="tiny",
    sweep_batches=(8, 4),
    chunk=2,
    min_time=0.0,
    budget=600.0,
)


class Budget:
    """Seconds since the start, against ``Sizes.budget``."""

    def __init__(self, seconds: float):
        self.start, self.seconds = time.perf_counter(), seconds

    def spent(self, share: float = 1.0) -> bool:
        """Whether the first ``share`` of the budget is used up (a section that starts early
        leaves its time to the next ones)."""
        return time.perf_counter() - self.start > share * self.seconds


def out_of_memory(err: Exception) -> bool:
    """Whether ``err`` is XLA's out-of-device-memory error."""
    text = str(err)
    return "RESOURCE_EXHAUSTED" in text or "out of memory" in text.lower()


def peak(kind: str) -> tuple[str, dict[str, float]] | None:
    """(chip name, peaks) for a ``device_kind``, None for a chip not in :data:`PEAKS`."""
    for key, name, peaks in PEAKS:
        if key.lower() in kind.lower():
            return name, peaks
    return None


def mfu(flops: float | None, seconds: float, dtype: str, chip) -> str:
    """FLOPs per step x steps/s over the chip's peak for ``dtype``, as a percentage cell."""
    if chip is None or not flops:
        return "n/a"
    return f"{100 * flops / seconds / (chip[1][dtype] * 1e12):.1f}%"


def gflops(flops: float | None) -> str:
    """A GFLOP cell: two decimals, or two significant digits below 0.01 (the --quick sizes)."""
    if not flops:
        return "n/a"
    value = flops / 1e9
    return f"{value:,.2f}" if value >= 0.01 else f"{value:.2g}"


def timed(run: Callable[[Any], Any], state: Any, steps_per_call: int, min_time: float):
    """Seconds per step of ``state = run(state)``: one untimed call (compilation), then calls in
    doubling groups until a group spans ``min_time``. Returns (seconds per step, state)."""
    state = jax.block_until_ready(run(state))
    calls = 1
    while True:
        start = time.perf_counter()
        for _ in range(calls):
            state = run(state)
        state = jax.block_until_ready(state)
        elapsed = time.perf_counter() - start
        if elapsed >= min_time:
            return elapsed / (calls * steps_per_call), state
        calls *= 2


def cast_params(params: Any, dtype: str) -> Any:
    """The hand-written half of mixed precision for the bare steps: float32 leaves in ``dtype``."""
    return precision.cast_floating(params, jnp.dtype(dtype), only=jnp.float32)


def cost_flops(compiled) -> float | None:
    """FLOPs of a compiled program by XLA's cost analysis (None where the backend has none)."""
    try:
        cost = compiled.cost_analysis()
    except Exception:  # pylint: disable=broad-except
        return None
    if isinstance(cost, (list, tuple)):
        cost = cost[0] if cost else {}
    return float(cost.get("flops", 0.0)) or None


# ----------------------------------------------------------------------------- classification


def random_images(n: int, size: int, classes: int, seed: int = 0) -> dict[str, np.ndarray]:
    """``n`` random images (size, size, 3) and labels: speed does not depend on the pixels."""
    rng = np.random.default_rng(seed)
    return {
        "x": rng.standard_normal((n, size, size, 3), dtype=np.float32),
        "y": rng.integers(0, classes, n).astype(np.int32),
    }


def sgd_config() -> ml_collections.ConfigDict:
    """The residual nets' recipe (SGD, momentum 0.9, weight decay 5e-4), constant rate 0.1."""
    return ml_collections.ConfigDict(
        {
            "name": "momentum",
            "lr": 0.1,
            "momentum": 0.9,
            "weight_decay": 5e-4,
            "schedule": "constant",
        }
    )


def classification_problem(model: nn.Module, data: dict[str, np.ndarray], compute_dtype: str):
    """A :class:`Problem` of ``model`` on ``data`` with classify's loss (softmax cross-entropy
    through ``classify.apply_model``) and :func:`sgd_config`'s optimizer."""
    example = jnp.zeros((1,) + data["x"].shape[1:], jnp.float32)

    def init(key, hparams):
        return model.init({"params": key, "dropout": key}, example, train=False)

    def loss(params, model_state, batch, rng, hparams):
        logits, model_state = classify.apply_model(
            model, params, model_state, batch["x"], True, rng
        )
        ce = optax.softmax_cross_entropy_with_integer_labels(logits, batch["y"]).mean()
        return ce, ({"accuracy": jnp.mean(jnp.argmax(logits, -1) == batch["y"])}, model_state)

    def evaluate(params, model_state, batch, hparams):
        return {"count": jnp.asarray(batch["y"].shape[0])}

    tx = optim.make_optimizer(sgd_config(), 1)
    return Problem(init, loss, evaluate, tx, data, {}, compute_dtype=compute_dtype)


def bare_classifier_step(model: nn.Module, data: dict[str, np.ndarray], batch: int, dtype: str):
    """The same training step written as plain flax/optax: (run, state, FLOPs per step)."""
    x, y = jnp.asarray(data["x"][:batch]), jnp.asarray(data["y"][:batch])
    variables = dict(model.init({"params": jax.random.key(0)}, x[:1], train=False))
    params = variables.pop("params")
    tx = optax.chain(optax.add_decayed_weights(5e-4), optax.sgd(0.1, momentum=0.9))
    low = jnp.dtype(dtype)

    def step(state, x, y):
        params, model_state, opt_state = state

        def loss_fn(p):
            inputs = x if low == jnp.float32 else x.astype(low)
            logits, updates = model.apply(
                {"params": cast_params(p, dtype), **model_state},
                inputs,
                train=True,
                mutable=list(model_state),
                rngs={"dropout": jax.random.key(1)},
            )
            logits = logits.astype(jnp.float32)
            ce = optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()
            return ce, precision.cast_floating(updates, jnp.float32)

        (_, model_state), grads = jax.value_and_grad(loss_fn, has_aux=True)(params)
        updates, opt_state = tx.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), model_state, opt_state

    state = (params, variables, tx.init(params))
    compiled = jax.jit(step, donate_argnums=0).lower(state, x, y).compile()
    return (lambda s: compiled(s, x, y)), state, cost_flops(compiled)


def trainer_run(
    problem: Problem,
    batch: int,
    runs: int,
    chunk: int,
    policy: backend.Policy,
    hparams: tuple[float, float] = (0.1, 5e-4),
):
    """jaxdl's trainer: ``loop``'s chunk of ``chunk`` steps, in the policy's strategy, over
    ``runs`` runs (seeds) vmapped in one program (``runs`` = 0: a single run, not vmapped), at
    ``hparams`` = (learning rate, weight decay). Returns (run, state)."""
    strategy = policy.strategies(sweep.is_convolutional(problem))[0]
    vmapped = runs > 0
    lr, decay = hparams
    hps = [{"seed": s, "opt.lr": lr, "opt.weight_decay": decay} for s in range(max(runs, 1))]
    hps = [{k: v for k, v in h.items() if k in problem.traced} for h in hps]
    if vmapped:
        state = jax.jit(jax.vmap(steps.init_state, in_axes=(None, 0)), static_argnums=0)(
            problem, loop.stack_hparams(hps)
        )
    else:
        state = jax.jit(steps.init_state, static_argnums=0)(problem, hparams_to_arrays(hps[0]))
    data = {k: jax.device_put(v) for k, v in problem.train_data.items()}

    def run(state):
        return loop._run_chunk(  # pylint: disable=protected-access
            problem, state, data, chunk, batch, vmapped, strategy, None, policy
        )[0]

    return run, state


def emit(rows: list[str], row: str) -> None:
    """Prints ``row`` now (a slow section shows its progress) and keeps it in ``rows``."""
    rows.append(row)
    print(row, flush=True)


def resnet_rows(sizes: Sizes, chip, budget: Budget, policy: backend.Policy) -> list[str]:
    """Section 1's rows, printed as they are measured."""
    configs = [
        ("ResNet-20", "cifar_resnet", sizes.resnet20, sizes.resnet20_image, 10, b)
        for b in sizes.resnet20_batches
    ] + [
        (
            "ResNet-50",
            "resnet50",
            sizes.resnet50,
            sizes.resnet50_image,
            1000,
            sizes.resnet50_batch,
        )
    ]
    rows = []
    for label, name, kwargs, image, classes, batch in configs:
        for dtype in DTYPES:
            head = f"| {label} | {image}x{image} | {batch} | {dtype} |"
            if budget.spent(0.5):
                emit(rows, f"{head} skipped: time budget |||||")
                continue
            try:
                model = models.get(name, num_classes=classes, **kwargs)
                data = random_images(2 * batch, image, classes)
                run, state, flops = bare_classifier_step(model, data, batch, dtype)
                bare, state = timed(run, state, 1, sizes.min_time)
                del state
                problem = classification_problem(model, data, dtype)
                run, state = trainer_run(problem, batch, 0, sizes.chunk, policy)
                ours, state = timed(run, state, sizes.chunk, sizes.min_time)
                del state
            except Exception as err:  # pylint: disable=broad-except
                if not out_of_memory(err):
                    raise
                emit(rows, f"{head} skipped: out of memory |||||")
                gc.collect()
                continue
            gflop = gflops(flops)
            emit(
                rows,
                f"{head} {batch / bare:,.0f} | {batch / ours:,.0f} | {ours / bare:.3f} | "
                f"{gflop} | {mfu(flops, bare, dtype, chip)} | {mfu(flops, ours, dtype, chip)} |",
            )
    return rows


# ----------------------------------------------------------------------------- LSTM


class LSTMLM(nn.Module):
    """benchmarks/lstm_vs_torch.py's model: jaxdl's LSTM stack + a linear head at every step."""

    hidden: int
    vocab: int
    num_layers: int = 1

    @nn.compact
    def __call__(self, x_BTD):
        """Logits (B, T, vocab) of inputs (B, T, D)."""
        layout = backend.current().model_overrides(recurrent.StackedRNN)
        _, h = recurrent.StackedRNN(self.hidden, self.num_layers, "lstm", **layout)(x_BTD)
        return nn.Dense(self.vocab)(h)


def lstm_rows(sizes: Sizes, chip, budget: Budget) -> list[str]:
    """Section 2's rows (printed as they are measured): tokens/s of a bare jitted Adam step."""
    H, B, T, D, V = sizes.lstm
    # per token: input and recurrent matmuls 2 (D + H) 4H, head 2 H V; forward + backward = 3x
    flops = 3 * B * T * (2 * (D + H) * 4 * H + 2 * H * V)
    rows = []
    for dtype in DTYPES:
        head = f"| {H} | {B} | {T} | {dtype} |"
        if budget.spent(0.6):
            emit(rows, f"{head} skipped: time budget |||")
            continue
        try:
            rng = np.random.default_rng(0)
            x = jnp.asarray(rng.standard_normal((B, T, D), dtype=np.float32))
            y = jnp.asarray(rng.integers(0, V, (B, T)).astype(np.int32))
            model = LSTMLM(H, V)
            params = model.init(jax.random.key(0), x[:1])["params"]
            tx = optax.adam(1e-3)
            low = jnp.dtype(dtype)

            def step(state, x, y):
                params, opt_state = state

                def loss_fn(p):
                    logits = model.apply({"params": cast_params(p, dtype)}, x.astype(low))
                    ce = optax.softmax_cross_entropy_with_integer_labels(
                        logits.astype(jnp.float32), y
                    )
                    return ce.mean()

                grads = jax.grad(loss_fn)(params)
                updates, opt_state = tx.update(grads, opt_state, params)
                return optax.apply_updates(params, updates), opt_state

            state = (params, tx.init(params))
            compiled = jax.jit(step, donate_argnums=0).lower(state, x, y).compile()
            seconds, state = timed(lambda s: compiled(s, x, y), state, 1, sizes.min_time)
            del state
        except Exception as err:  # pylint: disable=broad-except
            if not out_of_memory(err):
                raise
            emit(rows, f"{head} skipped: out of memory |||")
            gc.collect()
            continue
        cells = f"{B * T / seconds:,.0f} | {gflops(flops)} | {mfu(flops, seconds, dtype, chip)}"
        emit(rows, f"{head} {cells} |")
    return rows


# ----------------------------------------------------------------------------- sweep scaling


def digits_cnn_problem(variant: str | None, compute_dtype: str) -> Problem:
    """experiments/digits_cnn.py's problem: the classify task on bundled digits."""
    spec = importlib.util.spec_from_file_location(
        "digits_cnn", os.path.join(ROOT, "experiments", "digits_cnn.py")
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    config = module.get_config(variant)
    config.train.compute_dtype = compute_dtype
    return sweep.with_compute_dtype(classify.make_problem)(config)


def sweep_rows(sizes: Sizes, budget: Budget, policy: backend.Policy) -> list[str]:
    """Section 3's rows (printed as they are measured): summed images/s of R runs in one vmapped
    program, against R = 1."""
    cnn_batch, resnet_batch = sizes.sweep_batches
    rows = []
    for label in ("digits CNN", "ResNet-20"):
        for dtype in DTYPES:
            if label == "digits CNN":  # its recipe: Adam at 2e-3, no weight decay
                problem = digits_cnn_problem(sizes.cnn_variant, dtype)
                batch, hparams = cnn_batch, (2e-3, 0.0)
            else:  # the residual nets' recipe: SGD with momentum at 0.1, weight decay 5e-4
                data = random_images(2 * resnet_batch, sizes.resnet20_image, 10)
                model = models.get("cifar_resnet", num_classes=10, **sizes.resnet20)
                problem = classification_problem(model, data, dtype)
                batch, hparams = resnet_batch, (0.1, 5e-4)
            one = None
            for runs in sizes.sweep_runs:
                head = f"| {label} | {batch} | {dtype} | {runs} |"
                if budget.spent():
                    emit(rows, f"{head} skipped: time budget ||")
                    continue
                # steps per timed chunk: about 20k images, 2 to sizes.chunk
                chunk = max(2, min(sizes.chunk, math.ceil(20_000 / (runs * batch))))
                try:
                    run, state = trainer_run(problem, batch, runs, chunk, policy, hparams)
                    seconds, state = timed(run, state, chunk, sizes.min_time)
                    del state
                except Exception as err:  # pylint: disable=broad-except
                    if not out_of_memory(err):
                        raise
                    emit(rows, f"{head} skipped: out of memory ||")
                    gc.collect()
                    continue
                rate = runs * batch / seconds
                one = rate if runs == 1 else one
                ratio = f"{rate / one:.1f}x" if one else "n/a"
                emit(rows, f"{head} {rate:,.0f} | {ratio} |")
    return rows


# ----------------------------------------------------------------------------- main


def _version(package: str) -> str:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def header(chip, sizes: Sizes) -> list[str]:
    """Versions, device and command, so that the output can go into README as it is."""
    versions = ", ".join(f"{name} {_version(name)}" for name in ("jax", "jaxlib", "flax", "optax"))
    devices = jax.devices()
    lines = [
        f"command: `python {' '.join(shlex.quote(a) for a in sys.argv)}`",
        f"versions: {versions}",
        f"device: {devices[0].device_kind} ({devices[0].platform}), {len(devices)} device(s)",
    ]
    if sizes != FULL:
        lines.append(
            f"sizes: ResNet-20 = cifar_resnet({sizes.resnet20}), ResNet-50 = "
            f"resnet50({sizes.resnet50}), LSTM (H, B, T, D, V) = {sizes.lstm}, "
            f"digits CNN = experiments/digits_cnn.py:{sizes.cnn_variant}"
        )
    if chip is None:
        lines.append("peak: unknown chip (MFU not computed)")
    else:
        peaks = ", ".join(f"{k} {v:g}" for k, v in chip[1].items())
        lines.append(f"peak: {chip[0]}, dense TFLOP/s: {peaks}; float32 MFU is against TF32")
    return lines


def main(argv: list[str] | None = None) -> None:
    """Parses the flags, prints the header and the three sections."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes (CPU smoke run)")
    parser.add_argument(
        "--budget", type=float, default=None, help="seconds before remaining rows are skipped"
    )
    parser.add_argument("--cache_dir", default="", help="JAX's persistent compilation cache")
    args = parser.parse_args(argv)
    if args.cache_dir:
        jax.config.update("jax_compilation_cache_dir", args.cache_dir)
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 0)
    sizes = QUICK if args.quick else FULL
    if args.budget is not None:
        sizes = dataclasses.replace(sizes, budget=args.budget)
    policy = backend.for_platform(cpu_devices=None)
    policy.setup_process()
    chip = peak(jax.devices()[0].device_kind)
    budget = Budget(sizes.budget)
    print("# jaxdl accelerator benchmark" + (" (--quick: tiny sizes)" if args.quick else ""))
    print()
    for line in header(chip, sizes):
        print(f"- {line}")
    with backend.use(policy):
        print("\n## ResNet training: bare flax/optax step vs jaxdl's trainer\n")
        print(
            "| model | image | batch | dtype | bare img/s | jaxdl img/s | jaxdl/bare time | "
            "GFLOP/step | MFU bare | MFU jaxdl |"
        )
        print("|---|---|---|---|---|---|---|---|---|---|", flush=True)
        resnet_rows(sizes, chip, budget, policy)
        print("\n## LSTM (benchmarks/lstm_vs_torch.py's model, 1 layer)\n")
        print("| H | batch | steps | dtype | tokens/s | GFLOP/step | MFU |")
        print("|---|---|---|---|---|---|---|", flush=True)
        lstm_rows(sizes, chip, budget)
        print("\n## Sweep scaling: R runs as one vmapped program (jaxdl's trainer)\n")
        print("| model | batch | dtype | runs | summed img/s | vs one run |")
        print("|---|---|---|---|---|---|", flush=True)
        sweep_rows(sizes, budget, policy)
    print(f"\ntotal: {time.perf_counter() - budget.start:.0f} s")


if __name__ == "__main__":
    main()
