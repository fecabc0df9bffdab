"""A model as the list of layers a training step runs: :class:`LayerSpec` and :func:`layers_of`.

Whatever the scenario wrote (a transformer's shape or a preset, a layer list, or only
a parameter count), the step sees one list of layers, each with its parameters, its
forward and backward FLOPs and bytes for one rank's micro-batch, the activation bytes
it keeps for backward and the bytes of its output (what a checkpoint keeps). The
numbers come from ``transformer.py`` (cited there and in docs/workloads.md) or from the
layer list as written.
"""

from __future__ import annotations

from dataclasses import dataclass

from distsim.workload import transformer as tf


@dataclass(frozen=True)
class LayerSpec:
    """One layer of a model, for one step of one rank's micro-batch."""

    name: str  # "embedding", "block0", ..., "head"; "layer0", ... for a layer list
    params: int  # parameters of the layer (tied weights are counted once, where they live)
    fwd_flops: float  # forward FLOPs of the rank's whole micro-batch
    bwd_flops: float  # backward FLOPs (twice forward: Narayanan et al. 2021)
    fwd_bytes: float  # bytes moved to and from device memory by the forward (roofline)
    bwd_bytes: float
    activation_bytes: int  # bytes kept for backward when nothing is recomputed (Korthikanti et al. 2022)
    output_bytes: int  # bytes of the layer's output (what a checkpoint keeps)
    fwd_time: float | None = None  # seconds, when the scenario gives the time instead of FLOPs
    bwd_time: float | None = None


def layers_of(model) -> list[LayerSpec]:
    """The layers of a scenario's ``model``: a transformer (shape or preset), a layer list, or ``params`` alone."""
    if getattr(model, "kind", None) == tf.KIND:
        return transformer_layers(tf.Shape.of(model))
    if model.per_layer or model.layer is not None:
        return _listed_layers(model)
    return _parameters_only(model)


def transformer_layers(shape: tf.Shape) -> list[LayerSpec]:
    """The embedding, L blocks and the output layer (with the final norm) of a transformer."""
    e = shape.element_bytes
    out = tf.hidden_bytes(shape)
    embedding = tf.embedding_params(shape)
    looked_up = out * (2 if shape.positions == "learned" else 1)  # rows of the token (and position) tables
    layers = [LayerSpec(
        "embedding", embedding, 0.0, 0.0,
        fwd_bytes=looked_up + out, bwd_bytes=out + embedding * e,
        activation_bytes=tf.embedding_activation_bytes(shape), output_bytes=out,
    )]
    block, kept, flops = tf.block_params(shape), tf.block_activation_bytes(shape), tf.block_fwd_flops(shape)
    layers += [LayerSpec(
        f"block{i}", block, float(flops), 2.0 * flops,
        fwd_bytes=block * e + kept + out, bwd_bytes=2 * block * e + kept + 2 * out,
        activation_bytes=kept, output_bytes=out,
    ) for i in range(shape.layers)]
    head, logits = tf.head_params(shape), tf.LOGIT_BYTES * shape.tokens * shape.vocab
    projection = shape.vocab * shape.hidden * e  # read even when tied (the embedding's weights)
    flops = tf.head_fwd_flops(shape)
    layers.append(LayerSpec(
        "head", head, float(flops), 2.0 * flops,
        fwd_bytes=projection + out + logits, bwd_bytes=2 * projection + logits + out,
        activation_bytes=tf.head_activation_bytes(shape), output_bytes=logits,
    ))
    return layers


def _listed_layers(model) -> list[LayerSpec]:
    """``layer`` (repeated ``layers`` times) or ``per_layer``, as written: FLOPs or times, activation bytes;
    parameters as each layer says, else ``params`` shared evenly (the remainder to the first layers)."""
    listed = list(model.per_layer) if model.per_layer else [model.layer] * (model.layers or 1)
    shares = _even(model.params or 0, len(listed))
    specs = []
    for i, (layer, share) in enumerate(zip(listed, shares)):
        fwd = layer.fwd_flops or 0.0
        bwd = layer.bwd_flops if layer.bwd_flops is not None else 2.0 * fwd
        bwd_time = layer.bwd_time
        if bwd_time is None and layer.bwd_flops is None and layer.fwd_time is not None and layer.fwd_flops is None:
            bwd_time = 2.0 * layer.fwd_time  # docs/rematerialization.md: backward twice forward
        params = getattr(layer, "params", None)
        size = int(layer.activation)
        specs.append(LayerSpec(f"layer{i}", share if params is None else params, float(fwd), float(bwd), 0.0, 0.0,
                               activation_bytes=size, output_bytes=size, fwd_time=layer.fwd_time, bwd_time=bwd_time))
    return specs


def _parameters_only(model) -> list[LayerSpec]:
    """A model known only by its size: ``layers`` (default 1) layers sharing ``params``, no compute described."""
    count = model.layers or 1
    return [LayerSpec(f"layer{i}", share, 0.0, 0.0, 0.0, 0.0, 0, 0)
            for i, share in enumerate(_even(model.params or 0, count))]


def _even(total: int, parts: int) -> list[int]:
    """``total`` in ``parts`` whole shares differing by at most one, larger first."""
    base, extra = divmod(int(total), parts)
    return [base + (1 if i < extra else 0) for i in range(parts)]
