"""The payloads of a step: phantoms at scale, or a small numpy network whose result is checked.

In a verification run every rank holds the same tanh MLP (``remat/numpy_exec.py``,
one layer per layer of the model, width 8) and its own micro-batch of one sample;
its gradients come from following the step's rematerialization schedule on real
numbers (``execute``), so the schedule, the buckets, the collectives, the shards and
the optimizer are all on the path. The optimizer is plain SGD, w - lr g. At the end
every rank must hold what one step on the big batch (every rank's sample, the loss
their mean) gives when computed directly, here with one batched backpropagation:
the updated weights (stages 0-2: all of them; stage 3: its shard of each layer), and
under ZeRO-3 every layer's gathered weights must be the weights it started with.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from distsim.engine import Phantom
from distsim.errors import VerificationError
from distsim.remat.numpy_exec import MLP, WIDTH, execute
from distsim.remat.schedule import Schedule

LEARNING_RATE = 0.1


def mlp_layer_params(width: int = WIDTH) -> int:
    """Elements of one MLP layer: its weight matrix and its bias."""
    return width * width + width


@dataclass
class PhantomPayload:
    """Sizes only: what a step at scale carries."""

    ranks: int

    def bucket_tensor(self, rank: int, bucket) -> Phantom:
        return Phantom(bucket.padded)

    def weight_shard(self, rank: int, layer: int, padded: int) -> Phantom:
        return Phantom(padded // self.ranks)

    def updated(self, rank: int, bucket, reduced, shard: bool) -> Phantom:
        return Phantom(bucket.padded // self.ranks if shard else bucket.padded)


class NumpyPayload:
    """Real gradients of every rank's sample, and the weights they update."""

    def __init__(self, schedule: Schedule, ranks: int, seed: int, width: int = WIDTH):
        self.ranks, self.width = ranks, width
        net = MLP(schedule.layers, width, seed)
        rng = np.random.default_rng([seed, 1])
        self.x = rng.standard_normal((width, ranks))  # column r: rank r's sample
        self.y = 0.5 * rng.standard_normal((width, ranks))
        self.net = net
        self.weights = [_flat(net.W[i], net.b[i]) for i in range(1, net.layers + 1)]  # layer (from 0) -> flat
        self.gradients = [self._rank_gradients(schedule, r) for r in range(ranks)]

    def _rank_gradients(self, schedule: Schedule, rank: int) -> list[np.ndarray]:
        """Rank ``rank``'s gradients, layer by layer, from the schedule followed on real numbers."""
        net = self.net
        net.x, net.y = self.x[:, rank].copy(), self.y[:, rank].copy()
        found = execute(schedule, net)
        return [_flat(dw, db) for dw, db in zip(found.weights, found.biases)]

    def bucket_tensor(self, rank: int, bucket) -> np.ndarray:
        return _pieces(self.gradients[rank], bucket)

    def weight_shard(self, rank: int, layer: int, padded: int) -> np.ndarray:
        full = np.zeros(padded)
        full[: self.weights[layer].size] = self.weights[layer]
        return np.split(full, self.ranks)[rank].copy()

    def updated(self, rank: int, bucket, reduced: np.ndarray, shard: bool) -> np.ndarray:
        """SGD on what this rank owns of ``bucket``: all of it, or (``shard``) shard ``rank``."""
        weights = _pieces(self.weights, bucket)
        if shard:
            weights = np.split(weights, self.ranks)[rank]
        return weights - LEARNING_RATE * reduced

    def big_batch_weights(self) -> list[np.ndarray]:
        """Every layer's weights after one SGD step on the mean loss over all ranks' samples, computed directly."""
        net, n = self.net, self.ranks
        a = [self.x]
        for i in range(1, net.layers + 1):
            a.append(np.tanh(net.W[i] @ a[-1] + net.b[i][:, None]))
        u = (a[-1] - self.y) / n  # d(mean loss)/d a_L, one column per sample
        grads = [None] * net.layers
        for i in range(net.layers, 0, -1):
            delta = u * (1.0 - a[i] ** 2)
            grads[i - 1] = _flat(delta @ a[i - 1].T, delta.sum(axis=1))
            u = net.W[i].T @ delta
        return [w - LEARNING_RATE * g for w, g in zip(self.weights, grads)]

    def check(self, results: dict, buckets, zero: int, layer_padded: list[int], names: list[str]) -> None:
        """Every rank's final weights (and, under ZeRO-3, every gathered layer) against the big-batch step;
        VerificationError naming the ranks that differ."""
        want = self.big_batch_weights()
        wrong = []
        for rank, result in results.items():
            if zero == 3:
                held = {b.pieces[0].layer: w for b, w in ((buckets[i], w) for i, w in result["weights"].items())}
                good = all(_close(held[layer], self.weight_shard_of(want, rank, layer, layer_padded[layer]))
                           for layer in range(len(want)))
                good = good and all(_close(w[: self.weights[layer].size], self.weights[layer])
                                    for layer, w in result["gathered"])
            else:
                got = _layers_from_buckets(result["weights"], buckets, [w.size for w in want])
                good = all(_close(g, w) for g, w in zip(got, want))
            if not good:
                wrong.append(names[rank])
        if wrong:
            raise VerificationError(f"payload check failed: {len(wrong)} of {len(results)} ranks ({', '.join(wrong[:8])}) "
                                    "do not end with the weights of one big-batch step computed directly")

    def weight_shard_of(self, weights: list[np.ndarray], rank: int, layer: int, padded: int) -> np.ndarray:
        full = np.zeros(padded)
        full[: weights[layer].size] = weights[layer]
        return np.split(full, self.ranks)[rank]


def _flat(matrix: np.ndarray, bias: np.ndarray) -> np.ndarray:
    return np.concatenate([matrix.ravel(), bias])


def _pieces(per_layer: list[np.ndarray], bucket) -> np.ndarray:
    """A bucket's elements, taken piece by piece from the layers' flat vectors, zero padded."""
    out = np.zeros(bucket.padded)
    at = 0
    for piece in bucket.pieces:
        out[at: at + piece.size] = per_layer[piece.layer][piece.start: piece.stop]
        at += piece.size
    return out


def _layers_from_buckets(by_bucket: dict, buckets, sizes: list[int]) -> list[np.ndarray]:
    """Per-layer vectors put back together from every bucket's full tensor."""
    layers = [np.full(size, np.nan) for size in sizes]
    for bucket in buckets:
        tensor, at = by_bucket[bucket.index], 0
        for piece in bucket.pieces:
            layers[piece.layer][piece.start: piece.stop] = tensor[at: at + piece.size]
            at += piece.size
    return layers


def _close(got, want) -> bool:
    got = np.asarray(got)
    return got.shape == want.shape and bool(np.allclose(got, want, rtol=1e-9, atol=1e-12))
