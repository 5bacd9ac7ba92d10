"""P8: 10 seeds trained at once against one after another (digits MLP and CNN).

Both loops are :func:`mushin_nb.train.train_seeds`: ``vectorize=False`` (each seed with
its own torch.optim optimizer, the reference) and ``vectorize=True`` (all seeds in one
loop over stacked parameters, on batched kernels or vmap), in the same run, rounds
interleaved so that load on the machine hits both alike; the figure is the fastest round
of each (on a shared machine the others measure the neighbours), with process CPU time
beside it. The weights of the two are compared too (they must agree to float tolerance:
a relative difference below 1e-3). For reference, the plain loop most training code runs
(a seeded DataLoader and torch.optim.Adam, one seed after another, as the quickstart's
train_fn did) is timed too. Then evaluation: the 10 trained models scored on the digits
test split one by one against one stacked forward and one metric update per batch
(:func:`mushin_nb.metrics.evaluate_many`).

Targets on 2 CPU threads: training >= 5x (MLP) and >= 3x (CNN), evaluation >= 3x; on a
GPU >= 10x. Run ``python bench/seeds_vectorized.py`` (exit status 1 when a target is
missed); it trains on CUDA when there is one.
"""

from __future__ import annotations

import functools
import sys
import time

import torch

from mushin_nb.experiments.digits import digits_loaders
from mushin_nb.experiments.zoo import digits_cnn, digits_mlp
from mushin_nb.metrics import evaluate_many
from mushin_nb.train import train_seeds

SEEDS = list(range(10))
ROUNDS = 3
CASES = [("mlp", digits_mlp, 5, 5.0), ("cnn", digits_cnn, 2, 3.0)]  # name, build, epochs, target
EVAL_TARGET, EVAL_PASSES = 3.0, 5
GPU_TARGET = 10.0
WEIGHT_TOLERANCE = 1e-3  # relative; see _max_diff


def _timed(fn):
    wall, cpu = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - wall, time.process_time() - cpu


def _max_diff(one, other) -> float:
    """The largest weight difference, relative to the largest weight of its tensor.

    Adam divides by the root of the squared gradients, so a weight whose gradient is ~0
    moves by up to ``lr`` on float rounding alone: an absolute bound says little."""
    return max(float((p - q).abs().max() / p.abs().max().clamp_min(1e-12)) for s in one
               for p, q in zip(one[s].state_dict().values(), other[s].state_dict().values()))


def _plain_loop(build, train, epochs, device) -> None:
    """The usual per-seed loop: a DataLoader seeded with the seed, torch.optim.Adam."""
    for seed in SEEDS:
        loader = torch.utils.data.DataLoader(train.dataset, batch_size=train.batch_size,
                                             shuffle=True,
                                             generator=torch.Generator().manual_seed(seed))
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            model = build().to(device)
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
        for _ in range(epochs):
            for x, y in loader:
                optimizer.zero_grad()
                loss = torch.nn.functional.cross_entropy(model(x.to(device)), y.to(device))
                loss.backward()
                optimizer.step()


def _train_case(build, epochs, train, device) -> dict:
    times = {False: [], True: [], "plain": []}
    models = {}
    for _ in range(ROUNDS):
        _, wall, cpu = _timed(functools.partial(_plain_loop, build, train, epochs, device))
        times["plain"].append((wall, cpu))
        for vectorize in (False, True):
            out, wall, cpu = _timed(functools.partial(
                train_seeds, build, train, SEEDS, epochs=epochs, vectorize=vectorize,
                device=device, progress=False))
            times[vectorize].append((wall, cpu))
            models[vectorize] = out
    seq = [min(t[i] for t in times[False]) for i in (0, 1)]
    vec = [min(t[i] for t in times[True]) for i in (0, 1)]
    plain = min(t[0] for t in times["plain"])
    return {"seq": seq, "vec": vec, "plain": plain, "diff": _max_diff(models[False], models[True]),
            "models": models[True], "note": models[True].note}


def _evaluate(named, test, device, vectorize):
    for _ in range(EVAL_PASSES):
        out = evaluate_many(named, test, num_classes=10, device=device, vectorize=vectorize)
    return out


def _eval_case(models, test, device) -> tuple[float, float]:
    named = {seed: model for seed, model in models.items()}
    for vectorize in (False, True):  # warm-up: first calls load the metric code
        evaluate_many(named, test, num_classes=10, device=device, vectorize=vectorize)
    times = {False: [], True: []}
    for _ in range(ROUNDS):
        for vectorize in (False, True):
            out, wall, cpu = _timed(functools.partial(_evaluate, named, test, device,
                                                      vectorize))
            times[vectorize].append((wall, cpu))
            if vectorize:
                vec_out = out
            else:
                seq_out = out
    assert all(abs(seq_out[s][k] - vec_out[s][k]) < 1e-6 for s in seq_out for k in seq_out[s])
    return ([min(t[i] for t in times[False]) for i in (0, 1)],
            [min(t[i] for t in times[True]) for i in (0, 1)])


def main() -> int:
    torch.set_num_threads(2)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    gpu = device.type == "cuda"
    print(f"device: {torch.cuda.get_device_name(device) if gpu else 'CPU, 2 threads'}"
          f"{'' if gpu else ' (no GPU available)'}; {len(SEEDS)} seeds; fastest of "
          f"{ROUNDS} interleaved rounds")
    train, test = digits_loaders(batch_size=64)
    ok = True
    print(f"{'case':<10} {'sequential s':>13} {'vectorized s':>13} {'ratio':>7} "
          f"{'cpu ratio':>10} {'target':>7}  max rel |w diff|")
    for name, build, epochs, target in CASES:
        target = GPU_TARGET if gpu else target
        r = _train_case(build, epochs, train, device)
        ratio, cpu_ratio = r["seq"][0] / r["vec"][0], r["seq"][1] / r["vec"][1]
        ok &= ratio >= target and r["diff"] < WEIGHT_TOLERANCE
        print(f"{name + f' x{epochs}ep':<10} {r['seq'][0]:13.2f} {r['vec'][0]:13.2f} "
              f"{ratio:6.1f}x {cpu_ratio:9.1f}x {target:6.1f}x  {r['diff']:.1e}")
        print(f"{name + ' plain':<10} {r['plain']:13.2f} {r['vec'][0]:13.2f} "
              f"{r['plain'] / r['vec'][0]:6.1f}x {'':>10} {'':>7}  (DataLoader + torch.optim "
              "loop, one seed after another; not gated)")
        seq, vec = _eval_case(r["models"], test, device)
        eval_target = GPU_TARGET if gpu else EVAL_TARGET
        ok &= seq[0] / vec[0] >= eval_target
        print(f"{name + ' eval':<10} {seq[0]:13.3f} {vec[0]:13.3f} {seq[0] / vec[0]:6.1f}x "
              f"{seq[1] / vec[1]:9.1f}x {eval_target:6.1f}x  ({EVAL_PASSES} passes over the "
              "test split)")
    print("P8", "met" if ok else "MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
