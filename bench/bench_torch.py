#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""bench_torch.py - the workloads of bench_core, timed in PyTorch/torchvision.

The PyTorch side of bench/compare: for every function of lossd's catalog
(GET /v1/functions of the built lossd, which it starts) that has a
PyTorch reference here, at sizes 10^3, 10^5 and 10^6, nanoseconds per
element for the forward pass and, for functions with gradients, for
forward + backward in PyTorch 1.13 / torchvision 0.14, float64, one
thread. A function of the catalog without a reference is printed as a gap
("no PyTorch reference: ..."), never skipped in silence.

Shapes, "elements", value distributions and the timing procedure are
bench_core's (see bench/bench_core.c), and, as there, they come from the
operands' rules in the catalog ("operand_specs"), not from the function:

  - operands of any shape, and activations: input (size,);
  - a first operand with a last axis of at least 1 (scores, distributions),
    and functions with a `dim` (softmax): rows of 10, N = size / 10;
  - a fixed last axis (boxes): N = size / 4 boxes, elements = 4 N numbers;
  - pairwise: N = round(sqrt(size)), M = round(size / N), per matrix entry;
  - a second operand is shaped like the first, or one per row of it;
  - values as the rules' samplers draw them: any numbers in [-4, 4),
    probabilities in [0.01, 0.99), class indices below the row's length,
    bin targets in [0, 9], rows that sum to 1, target boxes near the input
    boxes.

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
           [--json] [--min-ms N] [--cold-heap] [--serve] [--list] [--lossd PATH]
  --filter: comma-separated substrings of kind/name, "=kind/name" for one.
  --json:   one JSON object per line (bench_core's format).
  --serve:  for bench/compare: read one filter per line on stdin, print its
            JSON lines and then a line "END"; torch is imported only once.
  --list:   the catalog's functions that have a reference, one per line.
  --lossd:  the lossd whose catalog is read (default: ../lossd from here).
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

HERE = os.path.dirname(os.path.abspath(__file__))
# The newer box losses (docs/functions.md) have no PyTorch library function:
# their references are the golden generator's, the very formulas lossd's
# golden vectors come from (tests/data/gen_golden.py; shipped in the tarball).
sys.path.insert(0, os.path.join(HERE, "..", "tests", "data"))
sys.path.insert(0, os.path.join(HERE, "..", "scripts"))  # catalog.py
sys.dont_write_bytecode = True  # no __pycache__ in the source tree
import catalog  # noqa: E402
import gen_golden  # noqa: E402
import gen_oriented  # noqa: E402
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
    """Seeded draws with the distributions of the rules' samplers (src/core/rules.c)."""

    def __init__(self, seed):
        self.gen = torch.Generator().manual_seed(seed)

    def uniform(self, shape, lo, hi):
        return lo + (hi - lo) * torch.rand(shape, generator=self.gen, dtype=DT)

    def index(self, shape, n):
        return torch.randint(0, n, shape, generator=self.gen)

    def distributions(self, shape):
        p = self.uniform(shape, 0.01, 1.0)
        return p / p.sum(-1, keepdim=True)

    def boxes(self, shape, field, lo, hi):
        n = shape[0]
        xy = self.uniform((n, 2), 0, field)
        wh = self.uniform((n, 2), lo, hi)
        return torch.cat([xy, xy + wh], dim=1)

    def rotated(self, shape, field, lo, hi):
        """cxcywhr boxes lo..hi wide in a field x field image, at any angle."""
        n = shape[0]
        return torch.cat([self.uniform((n, 2), 0, field), self.uniform((n, 2), lo, hi),
                          self.uniform((n, 1), -math.pi, math.pi)], dim=1)

    def rotated_near(self, boxes):
        """Oriented boxes near these: moved by up to 20% of a side, resized by 0.8-1.2,
        turned by up to 0.3 rad (oriented.c's sampler)."""
        return torch.cat([boxes[:, :2] + self.uniform((boxes.shape[0], 2), -0.2, 0.2) * boxes[:, 2:4],
                          boxes[:, 2:4] * self.uniform((boxes.shape[0], 2), 0.8, 1.2),
                          boxes[:, 4:] + self.uniform((boxes.shape[0], 1), -0.3, 0.3)], dim=1)

    def near(self, boxes):
        """Boxes near these: moved by up to 20% of their size, resized by 0.8-1.2."""
        wh = boxes[:, 2:] - boxes[:, :2]
        p1 = boxes[:, :2] + self.uniform(wh.shape, -0.2, 0.2) * wh
        return torch.cat([p1, p1 + wh * self.uniform(wh.shape, 0.8, 1.2)], dim=1)


# What operands of each rule hold, as its sampler draws them (src/core/rules.c,
# src/core/boxes.c): sample(inputs, shape, first) -> tensor, `first` the first
# operand's tensor (for a second operand drawn beside it) or None. A rule
# missing here is a printed gap, as a missing reference is.
def class_indices(i, shape, first):
    return i.index(shape, first.shape[-1])


SAMPLERS = {
    "any": lambda i, shape, first: i.uniform(shape, -4, 4),
    "scores": lambda i, shape, first: i.uniform(shape, -4, 4),
    "probabilities": lambda i, shape, first: i.uniform(shape, 0.01, 0.99),
    "probabilities_or_logs": lambda i, shape, first: i.uniform(shape, 0.01, 0.99),
    "class_indices": class_indices,
    "class_indices_or_probabilities": class_indices,
    "bin_targets": lambda i, shape, first: i.uniform(shape, 0, first.shape[-1] - 1),
    "distributions": lambda i, shape, first: i.distributions(shape),
    "boxes": lambda i, shape, first: (i.near(first) if first is not None
                                      else i.boxes(shape, 500, 5, 50)),
    "box_list": lambda i, shape, first: i.boxes(shape, 200, 5, 60),
    "oriented_boxes": lambda i, shape, first: (i.rotated_near(first) if first is not None
                                               else i.rotated(shape, 500, 5, 50)),
    "oriented_box_list": lambda i, shape, first: i.rotated(shape, 200, 5, 60),
}


def last_axis(spec):
    """The length of an operand's last axis with default parameters (0: any), as bench_core."""
    axis = spec["shape"].get("last_axis", {})
    if "size" in axis:
        return axis["size"]
    return next(iter(axis["sizes"].values())) if "sizes" in axis else 0


def workload(fn):
    """build(inputs, size) -> (operands, elements, unit) for catalog entry fn, shaped as
    bench_core's workload_shapes() shapes it: from the operands' rules."""
    specs = fn["operand_specs"]
    first = specs[0]
    length = last_axis(first)
    rows = "min" in first["shape"].get("last_axis", {}) or any(p["name"] == "dim"
                                                                for p in fn["params"])

    def shapes(size):
        if fn["kind"] == "pairwise":
            n = int(math.floor(math.sqrt(size) + 0.5))
            m = int(math.floor(size / n + 0.5))
            return [(n, length), (m, length)], n * m, "matrix entry (N x M)"
        if length:
            n = size // length
            return [(n, length)] * 2, n * length, f"number (N {first['rule']} = {length}N)"
        if rows:
            n = size // ROW_LEN
            return [(n, ROW_LEN)] * 2, n * ROW_LEN, f"element (rows of {ROW_LEN})"
        return [(size,)] * 2, size, "element"

    def build(inputs, size):
        shape, elements, unit = shapes(size)
        operands = []
        for k, spec in enumerate(specs):
            beside = operands[0] if k > 0 else None
            own = shape[k][:-1] if "rows_of" in spec["shape"] else shape[k]
            operands.append(SAMPLERS[spec["rule"]](inputs, own, beside))
        return operands, elements, unit
    return build


# ---------------------------------------------------------------- references


def iou_loss(b1, b2, eps=1e-7):
    """lossd's iou: 1 - I / (U + eps) with torchvision's masked intersection."""
    inter, union = _loss_inter_union(b1, b2)
    return (1 - inter / (union + eps)).mean()


def next_box_loss(parts):
    """A newer box loss with its defaults, reduction mean."""
    return lambda a, b: parts(a, b)["loss"].mean()


def nwd_matrix(b1, b2, eps=1e-7, constant=12.8):
    return torch.exp(-torch.sqrt(nwd_w2(b1[:, None, :], b2[None, :, :], eps)) / constant)


def softmax_focal(x, t, alpha=0.25, gamma=2.0):
    """-alpha (1 - p_t)^gamma log p_t over softmax, mean over rows (no ignored targets)."""
    logp_t = F.log_softmax(x, dim=-1).gather(1, t.unsqueeze(1)).squeeze(1)
    p_t = logp_t.exp()
    return (-alpha * (1 - p_t) ** gamma * logp_t).mean()


def oriented_mean(name, **params):
    """gen_oriented's reference of an oriented loss, mean-reduced, default parameters
    (riou without its check against GEOS, which is not what is timed)."""
    reference = gen_oriented.ORIENTED_LOSSES[name]
    return lambda x, t: reference(x, t, **params)[0].mean()


# The golden cases' references (tests/data/gen_golden.py), from the formulas
# docs/functions.md gives: the same arithmetic is timed as is checked.
def golden_mean(name):
    """gen_golden's reference of loss `name`, mean-reduced, default parameters."""
    reference = gen_golden.LOSSES[name]
    return lambda x, t: reference(x, t, "mean")


def js_divergence(p, q):
    m = 0.5 * (p + q)
    xlogy = torch.special.xlogy
    return (0.5 * (xlogy(p, p) - xlogy(p, m)).sum(-1)
            + 0.5 * (xlogy(q, q) - xlogy(q, m)).sum(-1))


PRELU_WEIGHT = torch.tensor([0.25], dtype=DT)  # bench_core's value for a required tensor

# (kind, name) -> what lossd's function matches, with its default parameters,
# called on the operands. Which functions are timed, their operands and
# whether a gradient is taken come from the catalog; this says only what
# PyTorch computes for each.
REFERENCES = {
    ("loss", "l1"): F.l1_loss,
    ("loss", "mse"): F.mse_loss,
    ("loss", "smooth_l1"): F.smooth_l1_loss,
    ("loss", "huber"): F.huber_loss,
    ("loss", "bce"): F.binary_cross_entropy,
    ("loss", "bce_with_logits"): F.binary_cross_entropy_with_logits,
    ("loss", "cross_entropy"): F.cross_entropy,
    ("loss", "nll"): F.nll_loss,
    ("loss", "kl_div"): lambda x, t: F.kl_div(x, t, reduction="mean"),
    ("loss", "sigmoid_focal"): lambda x, t: tvops.sigmoid_focal_loss(x, t, reduction="mean"),
    ("loss", "focal"): softmax_focal,
    ("loss", "poly1"): golden_mean("poly1"),
    ("loss", "qfl"): golden_mean("qfl"),
    ("loss", "varifocal"): golden_mean("varifocal"),
    ("loss", "dfl"): golden_mean("dfl"),
    ("loss", "iou"): iou_loss,
    ("loss", "giou"): lambda a, b: tvops.generalized_box_iou_loss(a, b, reduction="mean", eps=1e-7),
    ("loss", "diou"): lambda a, b: tvops.distance_box_iou_loss(a, b, reduction="mean", eps=1e-7),
    ("loss", "ciou"): lambda a, b: tvops.complete_box_iou_loss(a, b, reduction="mean", eps=1e-7),
    ("loss", "siou"): next_box_loss(siou_parts),
    ("loss", "eiou"): next_box_loss(eiou_parts),
    ("loss", "nwd"): next_box_loss(nwd_parts),
    # rgiou has no vectorised reference (its hull is a Python loop per pair): a printed gap
    ("loss", "riou"): oriented_mean("riou", geos=False),
    ("loss", "probiou"): oriented_mean("probiou"),
    ("loss", "gwd"): oriented_mean("gwd"),
    ("loss", "kld"): oriented_mean("kld"),
    ("loss", "kfiou"): oriented_mean("kfiou"),
    ("activation", "relu"): F.relu,
    ("activation", "leaky_relu"): lambda x: F.leaky_relu(x, 0.01),
    ("activation", "prelu"): lambda x: F.prelu(x, PRELU_WEIGHT),
    ("activation", "elu"): F.elu,
    ("activation", "celu"): F.celu,
    ("activation", "selu"): F.selu,
    ("activation", "gelu"): F.gelu,
    ("activation", "silu"): F.silu,
    ("activation", "mish"): F.mish,
    ("activation", "sigmoid"): torch.sigmoid,
    ("activation", "tanh"): torch.tanh,
    ("activation", "softsign"): F.softsign,
    ("activation", "relu6"): F.relu6,
    ("activation", "hardsigmoid"): F.hardsigmoid,
    ("activation", "hardswish"): F.hardswish,
    ("activation", "hardtanh"): F.hardtanh,
    ("activation", "softplus"): F.softplus,
    ("activation", "softmax"): lambda x: F.softmax(x, dim=-1),
    ("activation", "log_softmax"): lambda x: F.log_softmax(x, dim=-1),
    ("info", "self_information"): lambda p: -torch.log(p),
    ("info", "entropy"): lambda p: -torch.special.xlogy(p, p).sum(-1),
    ("info", "cross_entropy"): lambda p, q: -torch.special.xlogy(p, q).sum(-1),
    ("info", "kl_divergence"): lambda p, q: (torch.special.xlogy(p, p)
                                             - torch.special.xlogy(p, q)).sum(-1),
    ("info", "js_divergence"): js_divergence,
    ("pairwise", "iou"): tvops.box_iou,
    ("pairwise", "giou"): tvops.generalized_box_iou,
    ("pairwise", "diou"): lambda a, b: tvops.distance_box_iou(a, b, eps=1e-7),
    ("pairwise", "ciou"): lambda a, b: tvops.complete_box_iou(a, b, eps=1e-7),
    ("pairwise", "nwd"): nwd_matrix,
    ("pairwise", "riou"): lambda a, b: gen_oriented.riou_matrix(a, b, geos=False),
    ("pairwise", "probiou"): gen_oriented.probiou_matrix,
}


def workloads(functions):
    """The catalog's functions as workloads, in registry order: [(kind, name, spec)],
    spec = {"build", "fn", "grad"}; and the gaps, {reason: ["kind/name", ...]}."""
    found, gaps = [], {}
    for f in functions:
        key = (f["kind"], f["name"])
        rules = [s["rule"] for s in f["operand_specs"] if s["rule"] not in SAMPLERS]
        if key not in REFERENCES:
            gaps.setdefault("no PyTorch reference", []).append(f"{key[0]}/{key[1]}")
        elif rules:
            gaps.setdefault("no sampler for rule " + ", ".join(rules), []).append(
                f"{key[0]}/{key[1]}")
        else:
            found.append((*key, {"build": workload(f), "fn": REFERENCES[key], "grad": f["grad"]}))
    listed = {(f["kind"], f["name"]) for f in functions}
    stale = [f"{k}/{n}" for k, n in REFERENCES if (k, n) not in listed]
    if stale:
        gaps.setdefault("a reference for a function lossd does not have", []).extend(stale)
    return found, gaps


def gap_lines(gaps, patterns=None):
    """One line per kind of gap, naming the functions (those `patterns` match) it leaves out."""
    lines = []
    for reason, names in gaps.items():
        names = [n for n in names if matches(*n.split("/", 1), patterns)]
        if names:
            lines.append(f"bench_torch: {reason}: {', '.join(names)}")
    return lines

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


def run(found, patterns, args, emit):
    sizes = FULL_SIZES[:2] if args.quick else FULL_SIZES
    min_seconds = args.min_ms * 1e-3 if args.min_ms else (15e-3 if args.quick else 50e-3)
    min_batches = 5 if args.quick else 7
    warm = 3e-3 if args.quick else 10e-3
    checksum = 0.0
    for index, (kind, name, spec) in enumerate(found):
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
    ap.add_argument("--lossd", default=os.path.join(HERE, "..", "lossd"),
                    help="the lossd whose catalog (GET /v1/functions) says what to time")
    args = ap.parse_args()
    found, gaps = workloads(catalog.functions(args.lossd))
    if not args.cold_heap:
        warm_heap()
    if args.list:
        for kind, name, _ in found:
            print(f"{kind}/{name}")
        return
    # The gaps go to stderr where stdout is read by a program (bench/compare prints its own).
    gap_out = sys.stderr if args.serve or args.json else sys.stdout
    if args.serve:
        for line in gap_lines(gaps):
            print(line, file=gap_out, flush=True)
        for line in sys.stdin:
            run(found, line.strip(), args, emit_json)
            print("END", flush=True)
        return
    if args.json:
        run(found, args.filter, args, emit_json)
    else:
        print(f"PyTorch {torch.__version__} / torchvision {torchvision.__version__}, float64, "
              f"{torch.get_num_threads()} thread: ns per element, min over batches (median)")
        print(f"{'kind':<10} {'name':<17} {'elements':>8} {'per':<22} {'forward':>19} "
              f"{'forward+grad':>19}")
        run(found, args.filter, args, emit_table)
    for line in gap_lines(gaps, args.filter):
        print(line, file=gap_out)


if __name__ == "__main__":
    main()
