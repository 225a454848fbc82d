"""Input pipeline throughput: images/s from CIFAR binary files and from a PNG folder to device
batches (jaxdl.data.pipeline on grain) with 0, 1 and 2 worker processes, next to the rate at which
a ResNet-20 training step at 32x32 consumes images, measured in the same process.

Files are generated in a temporary folder: CIFAR-10 binary files (jaxdl.data.cifar.write_random)
and a folder of 32x32 PNGs (10 class folders). Each pipeline makes batches of 128 with the
training augmentation (random crop of the 4-pixel zero-padded image + horizontal flip) and scales
them to float32; every batch is put on the default device and waited for. Worker start-up (new
processes importing numpy and grain) is timed apart, and the rate is taken after the batches the
workers' buffers hold, in the steady state.

The consumer is jaxdl's ResNet-20 (option A, 0.27M parameters) trained by a jitted SGD-momentum
step on a fixed device batch of 128 (donated buffers, warm-up steps excluded). The ratio
pipeline / step says how many times over the pipeline could feed the step when each has the
machine to itself; "fed" runs the step on the pipeline's batches (both sharing the cores), the
end-to-end rate. For PNGs it also times Pillow's decode + resize alone, one process, which is
what bounds that pipeline.

  PYTHONPATH=. python benchmarks/input_pipeline.py           # 40 batches per measurement
  PYTHONPATH=. python benchmarks/input_pipeline.py --quick   # 12 batches
"""

import argparse
import functools
import os
import sys
import tempfile
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from jaxdl import models  # noqa: E402
from jaxdl.data import cifar, image_folder, pipeline  # noqa: E402

BATCH = 128
BUFFER = 2  # batches each worker prepares ahead (jaxdl.data.pipeline's default)


def make_png_folder(root: str, count: int, seed: int = 0) -> str:
    """``count`` random 32x32 RGB PNGs in 10 class folders under ``root/png``."""
    rng = np.random.default_rng(seed)
    folder = os.path.join(root, "png")
    for i in range(count):
        class_dir = os.path.join(folder, f"class_{i % 10}")
        os.makedirs(class_dir, exist_ok=True)
        pixels = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(os.path.join(class_dir, f"{i}.png"))
    return folder


def pipeline_rate(source, workers: int, num_batches: int) -> tuple[float, float]:
    """(start-up seconds, images/s) of ``num_batches`` device batches in the steady state: after
    the first batch and as many more as the workers' buffers hold."""
    skip = 1 + workers * BUFFER
    ds = pipeline.batches(
        source,
        batch_size=BATCH,
        num_steps=skip + num_batches + 1,  # never exhausted: its end waits on the workers
        seed=0,
        augment="crop_flip",
        worker_count=workers,
        worker_buffer_size=BUFFER,
        shard=(0, 1),
    )
    start = time.perf_counter()
    iterator = iter(ds)
    batches = pipeline.device_batches(iterator)
    jax.block_until_ready(next(batches))
    startup = time.perf_counter() - start
    for _ in range(skip - 1):
        jax.block_until_ready(next(batches))
    start = time.perf_counter()
    for _ in range(num_batches):
        jax.block_until_ready(next(batches))
    rate = num_batches * BATCH / (time.perf_counter() - start)
    if hasattr(iterator, "close"):
        iterator.close()
    return startup, rate


def resnet20_step():
    """A jitted SGD-momentum training step of ResNet-20 and its initial state."""
    model = models.get("resnet20", num_classes=10)
    variables = model.init(jax.random.key(0), jnp.zeros((1, 32, 32, 3)), train=False)
    tx = optax.sgd(0.1, momentum=0.9)
    params, batch_stats = variables["params"], variables["batch_stats"]

    @functools.partial(jax.jit, donate_argnums=(0,))
    def step(state, batch):
        params, batch_stats, opt_state = state

        def loss_fn(p):
            logits, updates = model.apply(
                {"params": p, "batch_stats": batch_stats},
                batch["x"],
                train=True,
                mutable=["batch_stats"],
            )
            loss = optax.softmax_cross_entropy_with_integer_labels(logits, batch["y"]).mean()
            return loss, updates["batch_stats"]

        (loss, new_stats), grads = jax.value_and_grad(loss_fn, has_aux=True)(params)
        updates, opt_state = tx.update(grads, opt_state, params)
        return (optax.apply_updates(params, updates), new_stats, opt_state), loss

    return step, (params, batch_stats, tx.init(params))


def step_rate(num_steps: int) -> float:
    """Images/s ResNet-20's training step consumes on a fixed device batch."""
    step, state = resnet20_step()
    rng = np.random.default_rng(0)
    batch = jax.device_put(
        {
            "x": rng.random((BATCH, 32, 32, 3), dtype=np.float32),
            "y": rng.integers(0, 10, BATCH).astype(np.int32),
        }
    )
    for _ in range(2):  # compile and warm up
        state, loss = step(state, batch)
    jax.block_until_ready(loss)
    start = time.perf_counter()
    for _ in range(num_steps):
        state, loss = step(state, batch)
    jax.block_until_ready(loss)
    return num_steps * BATCH / (time.perf_counter() - start)


def fed_rate(source, workers: int, num_steps: int) -> float:
    """Images/s of ResNet-20 training steps fed by the pipeline (after 2 warm-up steps)."""
    step, state = resnet20_step()
    ds = pipeline.batches(
        source,
        batch_size=BATCH,
        num_steps=num_steps + 3,
        seed=0,
        augment="crop_flip",
        worker_count=workers,
        shard=(0, 1),
    )
    iterator = iter(ds)
    batches = pipeline.device_batches(iterator)
    for _ in range(2):
        state, loss = step(state, next(batches))
    jax.block_until_ready(loss)
    start = time.perf_counter()
    for _ in range(num_steps):
        state, loss = step(state, next(batches))
    jax.block_until_ready(loss)
    rate = num_steps * BATCH / (time.perf_counter() - start)
    if hasattr(iterator, "close"):
        iterator.close()
    return rate


def decode_rate(source, count: int) -> float:
    """Images/s of Pillow's decode + resize alone, in this process."""
    start = time.perf_counter()
    for i in range(count):
        image_folder.decode_image(source.files[i % len(source)], source.size)
    return count / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="12 batches per measurement")
    parser.add_argument("--workers", default="0,1,2", help="worker counts to measure")
    args = parser.parse_args()
    num_batches = 12 if args.quick else 40
    workers = [int(w) for w in args.workers.split(",")]
    print(
        f"jax {jax.__version__}, {jax.default_backend()} ({jax.devices()[0].device_kind}), "
        f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at start; batch {BATCH}, "
        f"crop + flip, float32, {num_batches} batches per measurement"
    )
    with tempfile.TemporaryDirectory() as root:
        cifar.write_random(root, num_train=2_000 if args.quick else 10_000, num_test=10)
        binary = cifar.sources(root, "cifar10")[0]
        png = image_folder.sources(make_png_folder(root, 2 * BATCH), 32, 0.01)[0]

        # the pipelines first: XLA:CPU's threads keep spinning a while after a training step
        rates = {
            (name, w): pipeline_rate(source, w, num_batches)
            for name, source in (("CIFAR binary", binary), ("PNG folder", png))
            for w in workers
        }
        consumed = step_rate(num_batches)
        print(f"ResNet-20 training step (32x32x3, batch {BATCH}): {consumed:8.0f} images/s")
        print(f"{'source':<16}{'workers':>8}{'start-up s':>12}{'images/s':>10}{'/ step':>9}")
        for (name, w), (startup, rate) in rates.items():
            print(f"{name:<16}{w:>8}{startup:>12.1f}{rate:>10.0f}{rate / consumed:>8.1f}x")
        decoded = decode_rate(png, 4 * BATCH)
        print(
            f"PNG: Pillow's decode + resize alone, one process: {decoded:.0f} images/s "
            f"({1e6 / decoded:.0f} us an image); the PNG pipeline is bounded by it times the "
            "worker processes the cores can run"
        )
        for w in workers:
            fed = fed_rate(binary, w, num_batches)
            print(
                f"ResNet-20 fed by the CIFAR binary pipeline, {w} workers: {fed:8.0f} images/s "
                f"({fed / consumed:.2f} of the fixed-batch step)"
            )
    print(f"load average {os.getloadavg()[0]:.1f} at the end")


if __name__ == "__main__":
    main()
