"""Workload models (issue 9 item 1): the transformer's formulas against the papers, presets, layer lists."""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

import distsim
from distsim.scenario.presets import MODEL_PRESET_DIR, MODEL_PRESET_KEYS, preset_file, preset_names
from distsim.errors import ScenarioError
from distsim.scenario import parse_scenario
from distsim.workload import LayerSpec, Shape, layers_of, state_bytes, transformer_layers
from distsim.workload import transformer as tf

CLUSTER = "cluster: {workers: 4, network: {bandwidth: 100 Gbit/s}}\nstrategy: {kind: ring_allreduce}\n"


def model_of(text: str):
    scenario, _ = parse_scenario(CLUSTER + f"model: {text}\n")
    return scenario.model


GPT_7B = Shape(layers=32, hidden=4096, heads=32, seq=2048, vocab=50257)


# -- parameters against the published counts -------------------------------------------------------

def test_gpt_7b_has_the_published_parameter_count_within_one_percent():
    """GPT-3 6.7B (Brown et al. 2020, Table 2.1): 32 x (12h^2 + 13h) + (V + s) h + 2h, by hand."""
    h = 4096
    by_hand = 32 * (12 * h * h + 13 * h) + (50257 + 2048) * h + 2 * h
    assert by_hand == 6_658_404_352
    assert model_of("{preset: gpt-7b}").params == tf.parameters(GPT_7B) == by_hand
    assert abs(by_hand / 6.7e9 - 1) < 0.01


def test_llama_2_7b_has_exactly_the_released_checkpoints_parameter_count():
    """6,738,415,616: 32 x (4h^2 + 3 h 11008 + 2h) + 2 x 32000 h + h (no biases, RMSNorm, untied output)."""
    h = 4096
    by_hand = 32 * (4 * h * h + 3 * h * 11008 + 2 * h) + 2 * 32000 * h + h
    assert model_of("{preset: llama-2-7b}").params == by_hand == 6_738_415_616


def test_the_exams_13b_model_has_hidden_5120_40_layers_40_heads():
    model = model_of("{preset: gpt-13b}")
    assert (model.hidden, model.layers, model.heads, model.seq) == (5120, 40, 40, 512)
    assert model.params == 40 * (12 * 5120**2 + 13 * 5120) + (50257 + 512) * 5120 + 2 * 5120
    assert abs(model.params / 13e9 - 1) < 0.015


# -- FLOPs: Kaplan's 6N and Narayanan's closed form ------------------------------------------------

@pytest.mark.parametrize("preset", ["gpt-7b", "llama-2-7b", "gpt-13b"])
def test_flops_per_token_are_six_times_the_parameters_within_the_attention_term(preset):
    """Kaplan et al. 2020: C = 6N per token, N the matrix parameters, plus attention: 12 L s h here
    (Narayanan et al. count both QK^T and the product with V, 4 b s^2 h per layer forward)."""
    shape = Shape.of(model_of(f"{{preset: {preset}}}"))
    per_token = Fraction(tf.step_flops(shape), shape.tokens)
    attention = 12 * shape.layers * shape.seq * shape.hidden
    assert per_token == 6 * tf.matrix_params(shape) + attention
    assert abs(per_token - 6 * tf.parameters(shape)) <= attention


def test_a_gpt_step_has_narayanans_flop_count_without_recomputation():
    """Narayanan et al. 2021, eq. (3) without the recomputed forward: 72 b s L h^2 (1 + s/6h + V/12Lh)."""
    for batch in (1, 8):
        shape = Shape(layers=32, hidden=4096, heads=32, seq=2048, vocab=50257, batch=batch)
        b, s, L, h, V = batch, 2048, 32, 4096, 50257
        closed = 72 * b * s * L * h * h * (1 + Fraction(s, 6 * h) + Fraction(V, 12 * L * h))
        assert tf.step_flops(shape) == closed


# -- activations: Korthikanti et al. ----------------------------------------------------------------

@pytest.mark.parametrize("batch, seq", [(1, 2048), (4, 512), (3, 1)])
def test_a_gpt_block_keeps_korthikantis_activation_bytes(batch, seq):
    """Korthikanti et al. 2022, eq. (1): s b h (34 + 5 a s / h) bytes per layer in 16-bit, no recomputation."""
    shape = Shape(layers=32, hidden=4096, heads=32, seq=seq, vocab=50257, batch=batch)
    s, b, h, a = seq, batch, 4096, 32
    assert tf.block_activation_bytes(shape) == s * b * h * (34 + Fraction(5 * a * s, h))


def test_without_dropout_the_masks_and_the_dropout_output_are_not_kept():
    """Attention 10 sbh + 2 a s^2 b, MLP 18 sbh, norms 4 sbh at e = 2: 32 sbh + 2 a s^2 b."""
    shape = Shape(layers=1, hidden=64, heads=4, seq=16, vocab=10, batch=2, dropout=False)
    sbh, as2b = 16 * 2 * 64, 4 * 16 * 16 * 2
    assert tf.block_activation_bytes(shape) == 32 * sbh + 2 * as2b


def test_fp32_doubles_the_tensors_and_not_the_masks():
    shape16 = Shape(layers=1, hidden=64, heads=4, seq=16, vocab=10, batch=2, element_bytes=2)
    shape32 = Shape(layers=1, hidden=64, heads=4, seq=16, vocab=10, batch=2, element_bytes=4)
    sbh, as2b = 16 * 2 * 64, 4 * 16 * 16 * 2
    masks = 2 * sbh + as2b  # attention output, MLP output, softmax
    assert tf.block_activation_bytes(shape32) - masks == 2 * (tf.block_activation_bytes(shape16) - masks)


# -- the layer list a step runs -------------------------------------------------------------------

def test_gpt_tiny_layers_by_hand():
    """b = 1, s = 32, h = 64, a = 4, V = 256, fp32 (the preset's dtype)."""
    layers = layers_of(model_of("{preset: gpt-tiny}"))
    assert [l.name for l in layers] == ["embedding", "block0", "block1", "head"]
    embedding, block, _, head = layers
    assert embedding == LayerSpec("embedding", (256 + 32) * 64, 0.0, 0.0, fwd_bytes=3 * 4 * 32 * 64,
                                  bwd_bytes=4 * 32 * 64 + 4 * (256 + 32) * 64, activation_bytes=32 * 64,
                                  output_bytes=4 * 32 * 64)
    assert block.params == 12 * 64**2 + 13 * 64
    assert block.fwd_flops == 24 * 32 * 64**2 + 4 * 32**2 * 64 and block.bwd_flops == 2 * block.fwd_flops
    kept = 4 * 32 * 64 * 16 + 4 * 2 * 4 * 32 * 32 + 2 * 32 * 64 + 4 * 32 * 32  # tensors (16 sbh, 2 as^2b; e = 4), masks
    assert block.activation_bytes == kept and block.output_bytes == 4 * 32 * 64
    assert head.params == 2 * 64 and head.fwd_flops == 2 * 32 * 64 * 256  # tied: only the final norm's
    assert head.activation_bytes == 2 * 4 * 32 * 64 + 4 * 32 * 256
    assert sum(l.params for l in layers) == model_of("{preset: gpt-tiny}").params == 118_528


def test_a_preset_is_overridden_by_the_keys_written_beside_it():
    model = model_of("{preset: gpt-7b, batch: 4, layers: 2, dtype: fp32}")
    assert (model.batch, model.layers, model.hidden, model.dtype) == (4, 2, 4096, "fp32")
    assert model.params == 2 * (12 * 4096**2 + 13 * 4096) + (50257 + 2048) * 4096 + 2 * 4096
    layers = layers_of(model)
    assert len(layers) == 4 and layers[1].output_bytes == 4 * 4 * 2048 * 4096


def test_the_layer_list_forms_keep_working_and_share_params_evenly():
    model = model_of("{params: 10, layers: 3, layer: {fwd_time: 20 ns, activation: 8 B}}")
    assert [(l.params, l.fwd_time, l.bwd_time, l.activation_bytes) for l in layers_of(model)] == [
        (4, 20e-9, 40e-9, 8), (3, 20e-9, 40e-9, 8), (3, 20e-9, 40e-9, 8)]
    model = model_of("{per_layer: [{fwd_flops: 1e9, activation: 1 kB, params: 7}, {fwd_flops: 2e9, bwd_time: 1 s, activation: 2 kB}]}")
    assert [(l.params, l.fwd_flops, l.bwd_flops, l.bwd_time, l.output_bytes) for l in layers_of(model)] == [
        (7, 1e9, 2e9, None, 1000), (0, 2e9, 4e9, 1.0, 2000)]
    assert [(l.name, l.params) for l in layers_of(model_of("{params: 1e9}"))] == [("layer0", 10**9)]


@given(layers=st.integers(1, 4), hidden_per_head=st.integers(1, 16), heads=st.integers(1, 8), seq=st.integers(1, 64),
       vocab=st.integers(1, 500), batch=st.integers(1, 4), swiglu=st.booleans(), bias=st.booleans(), tied=st.booleans(),
       rotary=st.booleans(), dropout=st.booleans())
def test_any_transformer_layers_add_up_to_the_model(layers, hidden_per_head, heads, seq, vocab, batch, swiglu, bias, tied,
                                                     rotary, dropout):
    shape = Shape(layers, hidden_per_head * heads, heads, seq, vocab, batch, None, "swiglu" if swiglu else "gelu",
                  "layernorm", bias, tied, "rotary" if rotary else "learned", dropout)
    specs = transformer_layers(shape)
    assert sum(l.params for l in specs) == tf.parameters(shape)
    assert sum(l.fwd_flops + l.bwd_flops for l in specs) == tf.step_flops(shape)
    assert all(l.bwd_flops == 2 * l.fwd_flops and l.activation_bytes >= 0 and l.output_bytes > 0 for l in specs)


# -- state per parameter (Rajbhandari et al. 2020) and the preset files ------------------------------

def test_mixed_precision_adam_keeps_16_bytes_per_parameter():
    assert (state_bytes(2, "adam").weights, state_bytes(2, "adam").gradients, state_bytes(2, "adam").optimizer) == (2, 2, 12)
    assert state_bytes(2, "adam").total == 16
    assert (state_bytes(4, "adam").optimizer, state_bytes(4, "adam").total) == (8, 16)
    assert (state_bytes(2, "sgd").optimizer, state_bytes(4, "sgd").optimizer) == (4, 0)


@pytest.mark.parametrize("name", preset_names(MODEL_PRESET_DIR))
def test_every_model_preset_cites_its_sources_and_loads(name):
    data = preset_file(name, MODEL_PRESET_DIR)
    assert set(data) == set(MODEL_PRESET_KEYS) and data["summary"]
    assert any("https://" in source for source in data["sources"]), name
    model = model_of(f"{{preset: {name}}}")
    assert model.kind == "transformer" and model.params == sum(l.params for l in layers_of(model))


@pytest.mark.parametrize("text, message", [
    ("{preset: gpt-7b, params: 7e9}", "model.params: a transformer's shape gives its parameter count"),
    ("{kind: transformer, layers: 2, hidden: 64, heads: 3, seq: 8, vocab: 10}", "model.heads: hidden 64 is not a multiple of 3 heads"),
    ("{kind: transformer, hidden: 64, heads: 4, seq: 8, vocab: 10}", "model.layers: missing required key 'layers'"),
    ("{params: 100, hidden: 64}", "model.hidden: only a transformer has this field"),
    ("{preset: gpt7b}", "did you mean 'gpt-7b'?"),
    ("{preset: gpt-tiny, layer: {fwd_time: 1 s, activation: 1 B}}", "model.layer: a transformer's shape gives a layer list"),
])
def test_a_bad_model_is_a_located_error(text, message):
    with pytest.raises(ScenarioError) as caught:
        model_of(text)
    assert message in str(caught.value) and "<string>:" in str(caught.value)


def test_a_gradient_exchange_of_a_preset_moves_the_presets_parameters():
    scenario, where = distsim.loads(CLUSTER + "model: {preset: llama-2-7b}\n")
    (outcome,) = distsim.run(scenario, where)
    assert outcome.ok and outcome.reconciliation.simulated["total_bytes"] == 2 * 3 * 6_738_415_616 * 2
