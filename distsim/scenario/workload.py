"""The model as a shape: ``model: {kind: transformer, layers, hidden, heads, seq, batch, vocab}`` or a preset.

Beside the layer list (``layer`` / ``per_layer``, what rematerialization runs) and a
bare ``params`` (what a gradient exchange moves), a model can be written as a
transformer's shape, or named by a preset (``model: {preset: gpt-7b}``) that
supplies the shape; any key written beside the preset overrides it. The formulas
that turn a shape into parameters, FLOPs and activation bytes per layer live in
``distsim/workload/`` (docs/workloads.md); this layer only checks that the shape is
complete and consistent, each problem located at its field, and computes ``params``
so that every strategy that exchanges gradients sees the model's size.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from distsim.scenario.cluster import MISSING, fail
from distsim.scenario.fields import MAX_LAYERS, Section
from distsim.scenario.presets import MODEL_PRESET_DIR, ModelPresetName, with_preset
from distsim.workload.transformer import KIND as TRANSFORMER
from distsim.workload.transformer import Shape, parameters

REQUIRED = ("layers", "hidden", "heads", "seq", "vocab")
SHAPE_ONLY = ("hidden", "heads", "seq", "batch", "vocab", "ffn", "mlp", "norm", "bias", "tied_embeddings", "positions",
              "dropout")
MAX_WIDTH = 2**24


class TransformerShape(Section):
    """The fields of a transformer model (``kind: transformer``); see docs/workloads.md."""

    preset: ModelPresetName | None = Field(
        None, description="a model shipped with distsim (docs/workloads.md); every key written here overrides the preset's"
    )
    kind: Literal["transformer"] | None = Field(
        None, description="'transformer': layers, hidden, heads, seq, vocab give the model; unset: a layer list or params"
    )
    hidden: int | None = Field(None, ge=1, le=MAX_WIDTH, description="transformer: hidden size h (d_model)")
    heads: int | None = Field(None, ge=1, le=MAX_WIDTH, description="transformer: attention heads a (h must be a multiple)")
    seq: int | None = Field(None, ge=1, le=MAX_WIDTH, description="transformer: sequence length s (tokens per sample)")
    batch: int | None = Field(None, ge=1, le=MAX_WIDTH, description="transformer: micro-batch b of one rank (samples per step); unset: 1")
    vocab: int | None = Field(None, ge=1, le=MAX_WIDTH, description="transformer: vocabulary size V")
    ffn: int | None = Field(None, ge=1, le=MAX_WIDTH, description="transformer: MLP inner size; unset: 4 x hidden")
    mlp: Literal["gelu", "swiglu"] = Field("gelu", description="transformer: 'gelu' (two matrices, GPT) or 'swiglu' (three, Llama)")
    norm: Literal["layernorm", "rmsnorm"] = Field("layernorm", description="transformer: 'layernorm' (2h parameters) or 'rmsnorm' (h)")
    bias: bool = Field(True, description="transformer: linear layers and norms have biases (GPT) or not (Llama)")
    tied_embeddings: bool = Field(True, description="transformer: the output layer shares the input embedding's weights")
    positions: Literal["learned", "rotary"] = Field("learned", description="transformer: learned position embeddings (s x h parameters) or rotary (none)")
    dropout: bool = Field(True, description="transformer: dropout layers, whose masks are kept for backward (Korthikanti et al.)")


def with_model_preset(data: object) -> object:
    """A ``model`` section as written, merged over its preset's (a pydantic before-validator)."""
    return with_preset(data, "model", MODEL_PRESET_DIR) if isinstance(data, dict) else data


def check_transformer(model) -> None:
    """Every problem of a model's shape, each at its field; a transformer's ``params`` computed (not counted as
    written, so that a sweep that dumps and reloads the scenario computes it again)."""
    written = model.model_fields_set
    if model.kind != TRANSFORMER:
        fail([((key,), "only a transformer has this field: add kind: transformer (or a preset)", getattr(model, key))
              for key in SHAPE_ONLY if key in written])
        return
    errors = [((key,), MISSING, None) for key in REQUIRED if getattr(model, key) is None]
    for key, what in (("layer", "a layer list"), ("per_layer", "a layer list"), ("params", "its parameter count")):
        if key in written and getattr(model, key) is not None:
            errors.append(((key,), f"a transformer's shape gives {what}; leave {key!r} out", getattr(model, key)))
    if model.hidden is not None and model.heads is not None and model.hidden % model.heads:
        errors.append((("heads",), f"hidden {model.hidden} is not a multiple of {model.heads} heads", model.heads))
    if model.layers is not None and model.layers > MAX_LAYERS:
        errors.append((("layers",), f"at most {MAX_LAYERS:,} layers", model.layers))
    fail(errors)
    object.__setattr__(model, "params", parameters(Shape.of(model)))
