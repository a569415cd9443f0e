#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""bench_torch.py - the workloads of bench_core, timed in PyTorch/torchvision.

The PyTorch side of bench/compare: for every lossd function it knows, at
sizes 10^3, 10^5 and 10^6, nanoseconds per element for the forward pass and
for forward + backward in PyTorch 1.13 / torchvision 0.14, float64, one
thread. Shapes, "elements", value distributions and the timing procedure
are bench_core's (see bench/bench_core.c):

  - pointwise losses and activations: input (size,);
  - cross_entropy, nll, focal, poly1, dfl, softmax, log_softmax, info
    measures: rows of 10, N = size / 10 (dfl's targets: reals in [0, 9]);
  - qfl, varifocal: input (size,), targets half exact zeros (negatives);
  - box losses: N = size / 4 boxes, elements = 4 N numbers;
  - pairwise: N = round(sqrt(size)), M = round(size / N), per matrix entry;
  - oriented boxes: N = size / 5 cxcywhr pairs (their rule's sampler's
    distribution), elements = 5 N; their matrices as the pairwise ones.
    Their references are the golden vectors' (tests/data/gen_oriented.py).

Forward: the function on tensors that do not require grad. Forward+grad:
the input requires grad; each call resets input.grad to None (so the
gradient is allocated afresh, as lossd allocates its own), runs the
function and calls .backward() on the reduced loss (reduction "mean"), or
out.backward(ones) for activations. What is timed is what a Python user
pays: at 10^3 elements that is mostly the interpreter and the dispatcher.

Small sizes cycle through independent inputs (>= 65536 elements in all),
as bench_core does, so that neither side is timed on data its branch
predictor has memorised.

Unless --cold-heap, malloc is first warmed as bench_core does (warm_heap());
faults_per_call in --json counts the minor page faults per timed call.

Timing: warm-up calls (>= 2 and ~10 ms), then batches of ~1 ms until at
least 50 ms (15 ms with --quick) and 7 (5) batches; the minimum over
batches of the mean time per call is reported, the median beside it.

Usage: /usr/bin/python3 bench/bench_torch.py [--quick] [--filter PATTERNS]
           [--json] [--min-ms N] [--cold-heap] [--serve]
  --filter: comma-separated substrings of kind/name, "=kind/name" for one.
  --json:   one JSON object per line (bench_core's format).
  --serve:  for bench/compare: read one filter per line on stdin, print its
            JSON lines and then a line "END"; torch is imported only once.
"""

import argparse
import itertools
import json
import math
import os
import resource
import statistics
import sys
import time
import warnings

# One thread everywhere, before torch reads its environment.
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
import torchvision  # noqa: E402
import torchvision.ops as tvops  # noqa: E402
from torchvision.ops._utils import _loss_inter_union  # noqa: E402

# The newer box losses (docs/functions.md) have no PyTorch library function:
# their references are the golden generator's, the very formulas lossd's
# golden vectors come from (tests/data/gen_golden.py; shipped in the tarball).
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "data"))
sys.dont_write_bytecode = True  # no __pycache__ in the source tree
from gen_golden import eiou_parts, nwd_parts, nwd_w2, siou_parts  # noqa: E402

torch.set_num_threads(1)
try:
    torch.set_num_interop_threads(1)
except RuntimeError:
    pass
torch.set_default_dtype(torch.float64)
# F.kl_div's reduction="mean" warns that it is not "batchmean"; it is meant.
warnings.filterwarnings("ignore")

ROW_LEN = 10
BATCH_SECONDS = 1e-3
MAX_BATCHES = 2000
FULL_SIZES = (1000, 100000, 1000000)
# Distinct inputs cycled through, as bench_core: together >= this many elements.
VARIANT_ELEMENTS = 65536
MAX_VARIANTS = 128
DT = torch.float64

# ---------------------------------------------------------------- inputs


class Inputs:
    """Seeded draws with bench_core's distributions."""

    def __init__(self, seed):
        self.gen = torch.Generator().manual_seed(seed)

    def uniform(self, shape, lo, hi):
        return lo + (hi - lo) * torch.rand(shape, generator=self.gen, dtype=DT)

    def index(self, shape, n):
        return torch.randint(0, n, shape, generator=self.gen)

    def distributions(self, n_rows):
        p = self.uniform((n_rows, ROW_LEN), 0.01, 1.0)
        return p / p.sum(-1, keepdim=True)

    def box(self, n, field, lo, hi):
        xy = self.uniform((n, 2), 0, field)
        wh = self.uniform((n, 2), lo, hi)
        return torch.cat([xy, xy + wh], dim=1)

    def box_pairs(self, n):
        """Targets 5..50 wide; predictions jittered by up to 20%, mostly overlapping."""
        t = self.box(n, 500, 5, 50)
        wh = t[:, 2:] - t[:, :2]
        p1 = t[:, :2] + self.uniform((n, 2), -0.2, 0.2) * wh
        p2 = p1 + wh * self.uniform((n, 2), 0.8, 1.2)
        return torch.cat([p1, p2], dim=1), t


def flat(make):
    """Workload of shape (size,): make(inputs, size) -> operands."""
    def build(inputs, size):
        return make(inputs, size), size, "element"
    return build


def rows(make):
    """Workload of rows of 10: make(inputs, n_rows) -> operands."""
    def build(inputs, size):
        n_rows = size // ROW_LEN
        return make(inputs, n_rows), n_rows * ROW_LEN, "element (rows of 10)"
    return build


def boxes(inputs, size):
    n = size // 4
    return list(inputs.box_pairs(n)), 4 * n, "number (N boxes = 4N)"


def pairwise(inputs, size):
    n = int(math.floor(math.sqrt(size) + 0.5))
    m = int(math.floor(size / n + 0.5))
    return [inputs.box(n, 200, 5, 60), inputs.box(m, 200, 5, 60)], n * m, "matrix entry (N x M)"


def oriented(inputs, size):
    """bench_core's oriented pairs (the rule's sampler): targets 5..50 wide in
    500 x 500 at any angle, predictions jittered by 20% of a side and 0.3 rad."""
    n = size // 5
    t = torch.cat([inputs.uniform((n, 2), 0, 500), inputs.uniform((n, 2), 5, 50),
                   inputs.uniform((n, 1), -math.pi, math.pi)], dim=1)
    p = torch.cat([t[:, :2] + inputs.uniform((n, 2), -0.2, 0.2) * t[:, 2:4],
                   t[:, 2:4] * inputs.uniform((n, 2), 0.8, 1.2),
                   t[:, 4:] + inputs.uniform((n, 1), -0.3, 0.3)], dim=1)
    return [p, t], 5 * n, "number (N oriented boxes = 5N)"


def oriented_pairwise(inputs, size):
    n = int(math.floor(math.sqrt(size) + 0.5))
    m = int(math.floor(size / n + 0.5))

    def scene(k):
        return torch.cat([inputs.uniform((k, 2), 0, 200), inputs.uniform((k, 2), 5, 60),
                          inputs.uniform((k, 1), -math.pi, math.pi)], dim=1)
    return [scene(n), scene(m)], n * m, "matrix entry (N x M)"


def logits_flat(i, n):
    return [i.uniform((n,), -4, 4)]


def two_flat(i, n):
    return [i.uniform((n,), -4, 4), i.uniform((n,), -4, 4)]


def logits_probs(i, n):
    return [i.uniform((n,), -4, 4), i.uniform((n,), 0.01, 0.99)]


def scores_classes(i, n_rows):
    return [i.uniform((n_rows, ROW_LEN), -4, 4), i.index((n_rows,), ROW_LEN)]


def logits_quality(i, n):
    """Dense detection targets, as bench_core: half exact zeros (negatives), half in [0.05, 1)."""
    positive = i.index((n,), 2) == 1
    return [i.uniform((n,), -4, 4), torch.where(positive, i.uniform((n,), 0.05, 1.0),
                                                torch.zeros(n, dtype=DT))]


def scores_bins(i, n_rows):
    return [i.uniform((n_rows, ROW_LEN), -4, 4), i.uniform((n_rows,), 0, ROW_LEN - 1)]


# ---------------------------------------------------------------- references


def iou_loss(b1, b2, eps=1e-7):
    """lossd's iou: 1 - I / (U + eps) with torchvision's masked intersection."""
    inter, union = _loss_inter_union(b1, b2)
    return (1 - inter / (union + eps)).mean()


def next_box_loss(parts):
    """A LOSSES-NEXT.md box loss with its defaults, reduction mean."""
    return lambda a, b: parts(a, b)["loss"].mean()


def nwd_matrix(b1, b2, eps=1e-7, constant=12.8):
    return torch.exp(-torch.sqrt(nwd_w2(b1[:, None, :], b2[None, :, :], eps)) / constant)


def softmax_focal(x, t, alpha=0.25, gamma=2.0):
    """-alpha (1 - p_t)^gamma log p_t over softmax, mean over rows (no ignored targets)."""
    logp_t = F.log_softmax(x, dim=-1).gather(1, t.unsqueeze(1)).squeeze(1)
    p_t = logp_t.exp()
    return (-alpha * (1 - p_t) ** gamma * logp_t).mean()


# The golden cases' references (tests/data/gen_golden.py), from the formulas
# docs/functions.md gives: the same arithmetic is timed as is checked.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "data"))
import gen_golden  # noqa: E402
import gen_oriented  # noqa: E402


def oriented_mean(name, **params):
    """gen_oriented's reference of an oriented loss, mean-reduced, default parameters."""
    reference = gen_oriented.ORIENTED_LOSSES[name]
    return lambda x, t: reference(x, t, **params)[0].mean()


def golden_mean(name):
    """gen_golden's reference of loss `name`, mean-reduced, default parameters."""
    reference = gen_golden.LOSSES[name]
    return lambda x, t: reference(x, t, "mean")


def js_divergence(p, q):
    m = 0.5 * (p + q)
    xlogy = torch.special.xlogy
    return (0.5 * (xlogy(p, p) - xlogy(p, m)).sum(-1)
            + 0.5 * (xlogy(q, q) - xlogy(q, m)).sum(-1))


PRELU_WEIGHT = torch.tensor([0.25], dtype=DT)


def activation(fn):
    return {"build": flat(logits_flat), "fn": fn, "grad": True}


# (kind, name) -> build(inputs, size) -> (operands, elements, unit); fn(*operands);
# grad: whether operand 0 gets a gradient.
WORKLOADS = {
    ("loss", "l1"): {"build": flat(two_flat), "fn": F.l1_loss, "grad": True},
    ("loss", "mse"): {"build": flat(two_flat), "fn": F.mse_loss, "grad": True},
    ("loss", "smooth_l1"): {"build": flat(two_flat), "fn": F.smooth_l1_loss, "grad": True},
    ("loss", "huber"): {"build": flat(two_flat), "fn": F.huber_loss, "grad": True},
    ("loss", "bce"): {
        "build": flat(lambda i, n: [i.uniform((n,), 0.01, 0.99), i.uniform((n,), 0.01, 0.99)]),
        "fn": F.binary_cross_entropy, "grad": True},
    ("loss", "bce_with_logits"): {
        "build": flat(logits_probs), "fn": F.binary_cross_entropy_with_logits, "grad": True},
    ("loss", "cross_entropy"): {"build": rows(scores_classes), "fn": F.cross_entropy, "grad": True},
    ("loss", "nll"): {
        "build": rows(lambda i, n: [i.uniform((n, ROW_LEN), 0.01, 1.0).log(),
                                    i.index((n,), ROW_LEN)]),
        "fn": F.nll_loss, "grad": True},
    ("loss", "kl_div"): {
        "build": flat(lambda i, n: [i.uniform((n,), 0.01, 1.0).log(), i.uniform((n,), 0, 1)]),
        "fn": lambda x, t: F.kl_div(x, t, reduction="mean"), "grad": True},
    ("loss", "sigmoid_focal"): {
        "build": flat(lambda i, n: [i.uniform((n,), -4, 4), i.index((n,), 2).to(DT)]),
        "fn": lambda x, t: tvops.sigmoid_focal_loss(x, t, reduction="mean"), "grad": True},
    ("loss", "focal"): {"build": rows(scores_classes), "fn": softmax_focal, "grad": True},
    ("loss", "poly1"): {"build": rows(scores_classes), "fn": golden_mean("poly1"), "grad": True},
    ("loss", "qfl"): {"build": flat(logits_quality), "fn": golden_mean("qfl"), "grad": True},
    ("loss", "varifocal"): {
        "build": flat(logits_quality), "fn": golden_mean("varifocal"), "grad": True},
    ("loss", "dfl"): {"build": rows(scores_bins), "fn": golden_mean("dfl"), "grad": True},
    ("loss", "iou"): {"build": boxes, "fn": iou_loss, "grad": True},
    ("loss", "giou"): {
        "build": boxes, "grad": True,
        "fn": lambda a, b: tvops.generalized_box_iou_loss(a, b, reduction="mean", eps=1e-7)},
    ("loss", "diou"): {
        "build": boxes, "grad": True,
        "fn": lambda a, b: tvops.distance_box_iou_loss(a, b, reduction="mean", eps=1e-7)},
    ("loss", "ciou"): {
        "build": boxes, "grad": True,
        "fn": lambda a, b: tvops.complete_box_iou_loss(a, b, reduction="mean", eps=1e-7)},
    ("loss", "siou"): {"build": boxes, "grad": True, "fn": next_box_loss(siou_parts)},
    ("loss", "eiou"): {"build": boxes, "grad": True, "fn": next_box_loss(eiou_parts)},
    ("loss", "nwd"): {"build": boxes, "grad": True, "fn": next_box_loss(nwd_parts)},
    # rgiou has no vectorised reference (its hull is a Python loop per pair)
    ("loss", "riou"): {"build": oriented, "grad": True, "fn": oriented_mean("riou", geos=False)},
    ("loss", "probiou"): {"build": oriented, "grad": True, "fn": oriented_mean("probiou")},
    ("loss", "gwd"): {"build": oriented, "grad": True, "fn": oriented_mean("gwd")},
    ("loss", "kld"): {"build": oriented, "grad": True, "fn": oriented_mean("kld")},
    ("loss", "kfiou"): {"build": oriented, "grad": True, "fn": oriented_mean("kfiou")},
    ("activation", "relu"): activation(F.relu),
    ("activation", "leaky_relu"): activation(lambda x: F.leaky_relu(x, 0.01)),
    ("activation", "prelu"): activation(lambda x: F.prelu(x, PRELU_WEIGHT)),
    ("activation", "elu"): activation(F.elu),
    ("activation", "celu"): activation(F.celu),
    ("activation", "selu"): activation(F.selu),
    ("activation", "gelu"): activation(F.gelu),
    ("activation", "silu"): activation(F.silu),
    ("activation", "mish"): activation(F.mish),
    ("activation", "sigmoid"): activation(torch.sigmoid),
    ("activation", "tanh"): activation(torch.tanh),
    ("activation", "softsign"): activation(F.softsign),
    ("activation", "relu6"): activation(F.relu6),
    ("activation", "hardsigmoid"): activation(F.hardsigmoid),
    ("activation", "hardswish"): activation(F.hardswish),
    ("activation", "hardtanh"): activation(F.hardtanh),
    ("activation", "softplus"): activation(F.softplus),
    ("activation", "softmax"): {
        "build": rows(lambda i, n: [i.uniform((n, ROW_LEN), -4, 4)]),
        "fn": lambda x: F.softmax(x, dim=-1), "grad": True},
    ("activation", "log_softmax"): {
        "build": rows(lambda i, n: [i.uniform((n, ROW_LEN), -4, 4)]),
        "fn": lambda x: F.log_softmax(x, dim=-1), "grad": True},
    ("info", "self_information"): {
        "build": rows(lambda i, n: [i.distributions(n)]), "fn": lambda p: -torch.log(p),
        "grad": False},
    ("info", "entropy"): {
        "build": rows(lambda i, n: [i.distributions(n)]),
        "fn": lambda p: -torch.special.xlogy(p, p).sum(-1), "grad": False},
    ("info", "cross_entropy"): {
        "build": rows(lambda i, n: [i.distributions(n), i.distributions(n)]),
        "fn": lambda p, q: -torch.special.xlogy(p, q).sum(-1), "grad": False},
    ("info", "kl_divergence"): {
        "build": rows(lambda i, n: [i.distributions(n), i.distributions(n)]),
        "fn": lambda p, q: (torch.special.xlogy(p, p) - torch.special.xlogy(p, q)).sum(-1),
        "grad": False},
    ("info", "js_divergence"): {
        "build": rows(lambda i, n: [i.distributions(n), i.distributions(n)]),
        "fn": js_divergence, "grad": False},
    ("pairwise", "iou"): {"build": pairwise, "fn": tvops.box_iou, "grad": False},
    ("pairwise", "giou"): {"build": pairwise, "fn": tvops.generalized_box_iou, "grad": False},
    ("pairwise", "diou"): {
        "build": pairwise, "fn": lambda a, b: tvops.distance_box_iou(a, b, eps=1e-7),
        "grad": False},
    ("pairwise", "ciou"): {
        "build": pairwise, "fn": lambda a, b: tvops.complete_box_iou(a, b, eps=1e-7),
        "grad": False},
    ("pairwise", "nwd"): {"build": pairwise, "fn": nwd_matrix, "grad": False},
    ("pairwise", "riou"): {
        "build": oriented_pairwise, "grad": False,
        "fn": lambda a, b: gen_oriented.riou_matrix(a, b, geos=False)},
    ("pairwise", "probiou"): {
        "build": oriented_pairwise, "fn": gen_oriented.probiou_matrix, "grad": False},
}

# ---------------------------------------------------------------- timing


def minor_faults():
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def measure(call, min_seconds, min_batches, warm_seconds, n_variants):
    """(min, median) seconds per call of call(), the number of calls and
    the minor page faults per call while timed."""
    clock = time.perf_counter
    calls = 0
    start = clock()
    while True:
        call()
        calls += 1
        elapsed = clock() - start
        if calls >= max(2, n_variants) and elapsed >= warm_seconds:
            break
    per_call = elapsed / calls
    batch = 1 if per_call >= BATCH_SECONDS else int(BATCH_SECONDS / per_call)
    times, total, n_calls = [], 0.0, 0
    faults = minor_faults()
    while len(times) < MAX_BATCHES and (total < min_seconds or len(times) < min_batches):
        t0 = clock()
        for _ in range(batch):
            call()
        t = clock() - t0
        times.append(t / batch)
        total += t
        n_calls += batch
    return min(times), statistics.median(times), n_calls, (minor_faults() - faults) / n_calls


def make_call(spec, variants, grad):
    """A closure running one forward (or forward + backward) evaluation on
    the next input variant, and the tensors whose .grad it fills."""
    fn = spec["fn"]
    turn = itertools.cycle(range(len(variants)))
    if not grad:
        def forward():
            return fn(*variants[next(turn)])
        return forward, None
    sets = [[ops[0].detach().clone().requires_grad_(True)] + list(ops[1:]) for ops in variants]
    probe = fn(*sets[0])
    ones = None if probe.dim() == 0 else torch.ones_like(probe)

    def forward_backward():
        ops = sets[next(turn)]
        ops[0].grad = None
        out = fn(*ops)
        if ones is None:
            out.backward()
        else:
            out.backward(ones)
        return out
    return forward_backward, sets[0][0]


def matches(kind, name, patterns):
    ident = f"{kind}/{name}"
    if not patterns:
        return True
    for p in patterns.split(","):
        if (p.startswith("=") and ident == p[1:]) or (p and not p.startswith("=") and p in ident):
            return True
    return False


def warm_heap():
    """As bench_core's warm_heap(): one 24 MiB block allocated and freed
    raises glibc's mmap and trim thresholds, as in a process that has
    already handled a large tensor, so that outputs are not fresh pages
    faulted in on every call."""
    block = torch.empty((24 << 20) // 8, dtype=DT)
    block[0] = block[-1] = 1
    del block


def run(patterns, args, emit):
    sizes = FULL_SIZES[:2] if args.quick else FULL_SIZES
    min_seconds = args.min_ms * 1e-3 if args.min_ms else (15e-3 if args.quick else 50e-3)
    min_batches = 5 if args.quick else 7
    warm = 3e-3 if args.quick else 10e-3
    checksum = 0.0
    for index, ((kind, name), spec) in enumerate(WORKLOADS.items()):
        if not matches(kind, name, patterns):
            continue
        for s, size in enumerate(sizes):
            inputs = Inputs(0x10bd + 7919 * index + s)
            n_variants = min(MAX_VARIANTS, -(-VARIANT_ELEMENTS // size))
            variants = []
            for _ in range(n_variants):
                operands, elements, unit = spec["build"](inputs, size)
                variants.append(operands)
            modes = ("forward", "grad") if spec["grad"] else ("forward",)
            results = {}
            for mode in modes:
                call, x = make_call(spec, variants, mode == "grad")
                lo, med, n_calls, faults = measure(call, min_seconds, min_batches, warm,
                                                   n_variants)
                out = call()  # one more, read: the results are used
                checksum += float(out.reshape(-1)[0])
                if x is not None and x.grad is not None:
                    checksum += float(x.grad.reshape(-1)[0])
                results[mode] = (lo, med, n_calls, n_variants, faults)
            emit(kind, name, size, elements, unit, results)
    print(f"bench_torch: checksum {checksum!r}", file=sys.stderr)


def emit_json(kind, name, size, elements, unit, results):
    for mode, (lo, med, n_calls, n_variants, faults) in results.items():
        print(json.dumps({"kind": kind, "name": name, "size": size, "mode": mode,
                          "ns_per_element": round(lo * 1e9 / elements, 4),
                          "median_ns_per_element": round(med * 1e9 / elements, 4),
                          "elements": elements, "unit": unit, "calls": n_calls,
                          "variants": n_variants, "faults_per_call": round(faults, 1)}),
              flush=True)


def emit_table(kind, name, size, elements, unit, results):
    cells = []
    for mode in ("forward", "grad"):
        if mode in results:
            lo, med = results[mode][:2]
            cells.append(f"{lo * 1e9 / elements:.3f} ({med * 1e9 / elements:.3f})")
        else:
            cells.append("-")
    print(f"{kind:<10} {name:<17} {elements:>8} {unit:<22} {cells[0]:>19} {cells[1]:>19}",
          flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="sizes 10^3 and 10^5, shorter runs")
    ap.add_argument("--filter", default=None, help="substrings of kind/name, =kind/name exact")
    ap.add_argument("--json", action="store_true", help="one JSON object per line")
    ap.add_argument("--min-ms", type=float, default=None, help="minimum time per figure")
    ap.add_argument("--serve", action="store_true", help="read filters from stdin (bench/compare)")
    ap.add_argument("--list", action="store_true", help="the functions with a PyTorch reference")
    ap.add_argument("--cold-heap", action="store_true", help="leave malloc as a fresh process has it")
    args = ap.parse_args()
    if not args.cold_heap:
        warm_heap()
    if args.list:
        for kind, name in WORKLOADS:
            print(f"{kind}/{name}")
        return
    if args.serve:
        for line in sys.stdin:
            run(line.strip(), args, emit_json)
            print("END", flush=True)
        return
    if args.json:
        run(args.filter, args, emit_json)
        return
    print(f"PyTorch {torch.__version__} / torchvision {torchvision.__version__}, float64, "
          f"{torch.get_num_threads()} thread: ns per element, min over batches (median)")
    print(f"{'kind':<10} {'name':<17} {'elements':>8} {'per':<22} {'forward':>19} "
          f"{'forward+grad':>19}")
    run(args.filter, args, emit_table)


if __name__ == "__main__":
    main()
