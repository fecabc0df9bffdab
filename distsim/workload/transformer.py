"""A transformer's parameters, FLOPs and activation bytes per layer, from its shape, with their sources.

Pure arithmetic on whole numbers; nothing here imports the rest of distsim, so that the
scenario layer can compute a preset's parameter count and the step can time its layers
from one set of formulas. Notation (Korthikanti et al. 2022): L layers, h hidden, a
heads, s sequence, b micro-batch, V vocabulary, f the MLP's inner size, e bytes per
element of the model's dtype.

* **Parameters** of a block: attention 4h² (Q, K, V, output), MLP 2hf (GeLU) or 3hf
  (SwiGLU's gate, up, down), biases and norms as the shape says; GPT's 12h² + 13h
  (Kaplan et al. 2020, Table 1, with biases).
* **FLOPs** are the matrix multiplications' (2 per multiply-add), as Narayanan et al.
  2021 (SC '21, section 5.1) count them: a block's forward is 2bs x (its matrix
  parameters) + 4bs²h (the attention scores QKᵀ and their product with V); the output
  layer's 2bshV; the embedding lookup none. Backward is twice forward (one product for
  the input's gradient, one for the weights'). So a GPT's step is
  72bsLh²(1 + s/6h + V/12Lh) FLOPs, Narayanan's equation without recomputation, and
  per token 6 x (matrix parameters) + 12Lsh: Kaplan's 6N plus the attention term.
* **Activation bytes** kept for backward without recomputation (Korthikanti et al.,
  "Reducing Activation Recomputation in Large Transformer Models", MLSys 2023, section
  4.1): sbh(34 + 5as/h) per GPT block in 16-bit, summed from each kept tensor: attention
  11sbh + 5as²b, MLP 19sbh, two norms 4sbh. Here each tensor is counted with the
  model's e bytes (masks 1 byte), so fp32 doubles the tensors and not the masks; a
  SwiGLU MLP keeps its input and three f-wide tensors (gate, up, their product; the
  SiLU is recomputed from the gate); without dropout there are no masks and no dropout
  output. The embedding keeps its dropout mask; the output layer its two inputs (final
  norm, projection) and the fp32 logits of the loss, 4sbV (section 4.3).
* **Bytes moved** to and from device memory, for the roofline: a first-order count,
  each tensor touched once: forward reads the weights and writes the kept activations
  and the output; backward reads the weights and kept activations and the output's
  gradient, and writes the weights' and the input's gradients. Caches and kernel fusion
  are not modelled (docs/workloads.md).
"""

from __future__ import annotations

from dataclasses import dataclass

KIND = "transformer"  # model: {kind: transformer}
LOGIT_BYTES = 4  # the loss is computed on fp32 logits (Korthikanti et al., section 4.3)
MASK_BYTES = 1  # a dropout mask is one byte per element


@dataclass(frozen=True)
class Shape:
    """A transformer's shape, in plain numbers (read off a scenario's model by :meth:`of`)."""

    layers: int
    hidden: int
    heads: int
    seq: int
    vocab: int
    batch: int = 1
    ffn: int | None = None  # unset: 4 x hidden
    mlp: str = "gelu"  # or "swiglu"
    norm: str = "layernorm"  # or "rmsnorm"
    bias: bool = True
    tied_embeddings: bool = True
    positions: str = "learned"  # or "rotary"
    dropout: bool = True
    element_bytes: int = 2

    @classmethod
    def of(cls, model, element_bytes: int | None = None) -> "Shape":
        """The shape of a scenario's ``model`` (a transformer); its dtype gives the element size."""
        return cls(
            model.layers, model.hidden, model.heads, model.seq, model.vocab, model.batch or 1, model.ffn, model.mlp,
            model.norm, model.bias, model.tied_embeddings, model.positions, model.dropout,
            element_bytes if element_bytes is not None else model.bytes_per_param,
        )

    @property
    def inner(self) -> int:
        """f: the MLP's inner size."""
        return self.ffn if self.ffn is not None else 4 * self.hidden

    @property
    def tokens(self) -> int:
        """b x s: tokens of one rank's micro-batch."""
        return self.batch * self.seq


# -- parameters --------------------------------------------------------------------------------

def norm_params(shape: Shape) -> int:
    """One norm's parameters: a layer norm's scale and shift (2h), or only a scale (RMSNorm, or no biases)."""
    return 2 * shape.hidden if shape.norm == "layernorm" and shape.bias else shape.hidden


def block_matrix_params(shape: Shape) -> int:
    """A block's weight matrices: 4h² for attention, 2hf or 3hf for the MLP."""
    h, f = shape.hidden, shape.inner
    return 4 * h * h + (3 if shape.mlp == "swiglu" else 2) * h * f


def block_params(shape: Shape) -> int:
    """A block's parameters: its matrices, their biases (4h attention; f + h, or 2f + h gated), two norms."""
    h, f = shape.hidden, shape.inner
    biases = 4 * h + (2 * f if shape.mlp == "swiglu" else f) + h if shape.bias else 0
    return block_matrix_params(shape) + biases + 2 * norm_params(shape)


def embedding_params(shape: Shape) -> int:
    """Token embeddings V x h, and learned position embeddings s x h."""
    return shape.vocab * shape.hidden + (shape.seq * shape.hidden if shape.positions == "learned" else 0)


def head_params(shape: Shape) -> int:
    """The final norm, and the output projection h x V unless it shares the embedding's weights."""
    return norm_params(shape) + (0 if shape.tied_embeddings else shape.vocab * shape.hidden)


def parameters(shape: Shape) -> int:
    """The whole model's parameters."""
    return embedding_params(shape) + shape.layers * block_params(shape) + head_params(shape)


def matrix_params(shape: Shape) -> int:
    """Parameters in matrices that multiply activations (Kaplan's N, with the output layer's h x V)."""
    return shape.layers * block_matrix_params(shape) + shape.vocab * shape.hidden


# -- FLOPs -------------------------------------------------------------------------------------

def block_fwd_flops(shape: Shape) -> int:
    """2bs x (matrix parameters) + 4bs²h (Narayanan et al. 2021): 24bsh² + 4bs²h for a GPT block."""
    return 2 * shape.tokens * block_matrix_params(shape) + 4 * shape.batch * shape.seq**2 * shape.hidden


def head_fwd_flops(shape: Shape) -> int:
    """The logits: 2bshV."""
    return 2 * shape.tokens * shape.hidden * shape.vocab


def step_flops(shape: Shape) -> int:
    """Forward and backward (3 x forward) of one rank's micro-batch, every layer."""
    return 3 * (shape.layers * block_fwd_flops(shape) + head_fwd_flops(shape))


# -- activations -------------------------------------------------------------------------------

def attention_activation_bytes(shape: Shape) -> int:
    """Kept by attention: QKV input, Q, K, V, softmax output, output-projection input (e each, per element),
    with dropout the softmax's mask and output and the projection's mask: 11sbh + 5as²b at e = 2."""
    e, sbh, as2b = shape.element_bytes, shape.tokens * shape.hidden, shape.heads * shape.seq**2 * shape.batch
    kept = 5 * e * sbh + e * as2b
    return kept + (MASK_BYTES * as2b + e * as2b + MASK_BYTES * sbh if shape.dropout else 0)


def mlp_activation_bytes(shape: Shape) -> int:
    """Kept by the MLP: its input, then GeLU's input and output (2 x f wide) or SwiGLU's gate, up and product
    (3 x f wide), and the dropout mask: 19sbh for a GPT block at e = 2."""
    e, sb = shape.element_bytes, shape.tokens
    wide = (3 if shape.mlp == "swiglu" else 2) * e * sb * shape.inner
    return e * sb * shape.hidden + wide + (MASK_BYTES * sb * shape.hidden if shape.dropout else 0)


def block_activation_bytes(shape: Shape) -> int:
    """A block's kept activations: attention, MLP and the two norms' inputs; sbh(34 + 5as/h) for GPT in 16-bit."""
    norms = 2 * shape.element_bytes * shape.tokens * shape.hidden
    return attention_activation_bytes(shape) + mlp_activation_bytes(shape) + norms


def embedding_activation_bytes(shape: Shape) -> int:
    """The embedding's dropout mask, sbh (nothing without dropout)."""
    return MASK_BYTES * shape.tokens * shape.hidden if shape.dropout else 0


def head_activation_bytes(shape: Shape) -> int:
    """The final norm's and the projection's inputs, and the fp32 logits of the loss: 2e sbh + 4sbV."""
    return 2 * shape.element_bytes * shape.tokens * shape.hidden + LOGIT_BYTES * shape.tokens * shape.vocab


def hidden_bytes(shape: Shape) -> int:
    """One b x s x h tensor: what an embedding or a block outputs."""
    return shape.element_bytes * shape.tokens * shape.hidden
