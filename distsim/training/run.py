"""The training-step kind's hooks for the run-kind table (``kinds.KINDS``): fits, simulate, analyze.

``run_training`` places the ranks on the cluster as a gradient exchange does, builds
the step's plan once (``plan.py``), runs every rank's program (the ``data_parallel``
strategy) with phantom tensors at the model's real sizes, and, when it is cheap,
runs the same program again on a small numpy network with real payloads and checks
every rank's result against one big-batch step (``verify.py``).
"""

from __future__ import annotations

import math
import time
from collections import Counter
from dataclasses import dataclass, field, replace

from distsim.analysis.step_forms import LayerCost, Remat, Roofline
from distsim.analysis.training import TrainingInputs, reconcile_training
from distsim.collectives import AUTO, refusal
from distsim.collectives.catalog import node_boxes
from distsim.collectives.ops import Options, resolve
from distsim.collectives.tuner import ranking
from distsim.communication import hardware_text, inputs_for, platform_of
from distsim.devices import apply_slowdowns, device_of
from distsim.engine import World, faults
from distsim.errors import OutOfMemoryError, ScenarioError
from distsim.runner import RunResult, layout, nodes_and_tiers
from distsim.scenario.problems import problems_from_validation
from distsim.scenario.slowdown import straggler_factors
from distsim.training.plan import StepPlan, chain_of, plan_step, remat_of
from distsim.training.verify import NumpyPayload, PhantomPayload, mlp_layer_params
from distsim.workload import layers_of, state_bytes

AUTO_VERIFY_RANKS = 64  # verify on real numbers by default up to this many ranks (about a second at 64)
VERIFY_BUCKETS = 16  # at most this many buckets in a verification run (enough to cut layers and to queue)


@dataclass
class TrainJob:
    """What the step's rank programs receive: the world, the plan, the payloads, the algorithms."""

    world: World
    plan: StepPlan
    payload: object
    requested: str  # the scenario's algorithm, or auto
    nodes: tuple
    tiers: object
    fixed: dict = field(default_factory=dict)  # op -> algorithm to use whatever auto would say (verification runs)
    chosen: dict = field(default_factory=dict)  # (op, elements) -> algorithm, as resolved

    def __post_init__(self):
        self.workers = list(range(self.world_size))
        self.group = tuple(self.workers)
        self.verifying = not isinstance(self.payload, PhantomPayload)  # real numbers: keep what the check needs

    def __getattr__(self, name):  # the plan's fields: layers, buckets, schedule, ...
        if name == "plan":
            raise AttributeError(name)
        return getattr(self.plan, name)

    @property
    def world_size(self) -> int:
        return len(self.world.contexts)

    def context(self, rank: int):
        return self.world.contexts[rank]

    def algorithm(self, op: str, elements: int) -> str:
        """The algorithm of a collective on ``elements``: the scenario's, or auto's choice for that buffer."""
        key = (op, elements)
        if key not in self.chosen:
            name = self.fixed.get(op, self.requested)
            options = Options(nodes=self.nodes, tiers=self.tiers)
            self.chosen[key] = resolve(op, name, self.group, elements * self.plan.element_bytes, options)
        return self.chosen[key]

    def bucket_tensor(self, rank: int, bucket):
        return self.payload.bucket_tensor(rank, bucket)

    def weight_shard(self, rank: int, layer: int):
        return self.payload.weight_shard(rank, layer, self.plan.layer_padded[layer])

    def updated(self, rank: int, bucket, reduced, zero: int):
        return self.payload.updated(rank, bucket, reduced, zero >= 1)

    @property
    def optimizer_bytes_per_element(self) -> int:
        return self.plan.optimizer_bytes


def fits_training(scenario, strategy, spec, where) -> list:
    """Located problems, all of them: no model layers, no network, a schedule or algorithm that cannot run, ranks
    that cannot be placed."""
    problems, origin = [], spec.origin
    model = scenario.model
    described = getattr(model, "kind", None) == "transformer" or bool(model.per_layer) or model.layer is not None
    if not described:
        problems.append(where.problem(("model",), "a training step needs the model's layers: a preset "
                                      "(model: {preset: gpt-7b}), a transformer's shape (kind: transformer) or a layer list",
                                      at_key=True))
    networked = scenario.cluster.workers == 1 or scenario.cluster.network is not None or scenario.cluster.nodes is not None
    if not networked:
        problems.append(where.problem(("cluster",), "missing required key 'network' (the ranks exchange gradients)", at_key=True))
    remat, found, invalid = remat_of(strategy)
    problems += [where.problem(origin + path, message) for path, message in found]
    if invalid is not None:
        problems += problems_from_validation(invalid, where, _remat_params_class(strategy), prefix=origin + ("remat",))
    algorithm = strategy.algorithm_problems()
    problems += [where.problem(origin + path, message) for path, message in algorithm]
    if remat is not None and described:
        strategy.remat = remat  # built once, with the step's strategy
        chain = chain_of(layers_of(model), scenario.cluster)
        problems += [where.problem(origin + ("remat", name), message)
                     for name, message in faults.call(remat.problems, "problems()", chain)]
    if networked:
        try:
            where_ranks = layout(scenario, strategy, where)
        except ScenarioError as error:  # names in a graph, unconnected endpoints
            return problems + list(error.problems)
        if not algorithm:
            problems += _algorithm_refusals(scenario, strategy, spec, where, where_ranks)
    return problems


def _remat_params_class(strategy):
    from distsim.strategies.registry import get

    return get(strategy.params.remat["kind"]).Params


def _algorithm_refusals(scenario, strategy, spec, where, where_ranks) -> list:
    """An algorithm named in the scenario that cannot run on this group (a power of two, equal nodes, ...)."""
    name = strategy.params.algorithm
    if name == AUTO:
        return []
    n = scenario.cluster.workers
    nodes, _ = nodes_and_tiers(scenario, where_ranks)
    boxes = tuple(len(box) for box in node_boxes(tuple(range(n)), nodes))
    for op in strategy.ops:
        why = refusal(op, name, n, box_sizes=boxes)
        if why:
            return [where.problem(spec.origin + ("algorithm",), why)]
    return []


def run_training(scenario, strategy, where, monitor=None) -> RunResult:
    """Simulate one training step of ``strategy`` on ``scenario``; verify it on real numbers when cheap."""
    started = time.perf_counter()
    n = scenario.cluster.workers
    remat = getattr(strategy, "remat", None) or remat_of(strategy)[0]
    plan = plan_step(scenario, strategy, remat=remat)
    where_ranks = layout(scenario, strategy, where)
    world = _world(scenario, where_ranks, copies=False)
    apply_slowdowns(world, scenario)
    nodes, tiers = nodes_and_tiers(scenario, where_ranks)
    job = TrainJob(world, plan, PhantomPayload(n), strategy.params.algorithm, nodes, tiers)
    if monitor is not None:
        monitor(world)
    _run(world, strategy, job)
    verify = should_verify(scenario)
    if verify:
        _verify(scenario, strategy, remat, plan, where_ranks, job)
    facts = _facts(job, strategy)
    world.trace.meta.update(
        strategy=strategy.name, workers=n, seed=scenario.run.seed, verified=verify, zero=strategy.params.zero,
        overlap=strategy.params.overlap, bucket_bytes=strategy.params.bucket, buckets=len(plan.buckets),
        layers=[layer.name for layer in plan.layers], layer_params=[layer.params for layer in plan.layers],
        schedule=plan.schedule.summary, remat=remat.name,
        algorithms={f"{op}:{elements}": name for (op, elements), name in job.chosen.items()},
    )
    peaks = {world.ranks[c.rank]: c.memory_peak for c in world.contexts}
    return RunResult(scenario, strategy, world.trace, verify, time.perf_counter() - started, peaks, where_ranks, facts)


def _world(scenario, where_ranks, copies: bool) -> World:
    return World(where_ranks.topology, where_ranks.ranks, where_ranks.placement, device_of(scenario.cluster),
                 scenario.model.bytes_per_param, copies_payloads=copies, network=scenario.cluster.network_model)


def _run(world: World, strategy, job: TrainJob) -> dict:
    programs = faults.programs(strategy, job, world.ranks)
    for rank, program in programs.items():
        world.spawn(rank, program)
    try:
        return world.run()
    except OutOfMemoryError as error:
        error.trace = world.trace  # what happened until then: the report shows it
        world.trace.meta.update(strategy=strategy.name, out_of_memory=str(error))
        raise


def should_verify(scenario) -> bool:
    if scenario.run.verify_payload is not None:
        return scenario.run.verify_payload
    return scenario.cluster.workers <= AUTO_VERIFY_RANKS


def _verify(scenario, strategy, remat, plan: StepPlan, where_ranks, job: TrainJob) -> None:
    """The same program on a small numpy network (one MLP layer per model layer, cut into as many buckets as the
    timed run, at most VERIFY_BUCKETS), each collective with the algorithm the timed run used most; every rank's
    result against one big-batch step."""
    n = scenario.cluster.workers
    width = mlp_layer_params()
    layers = [_small(layer, width) for layer in plan.layers]
    buckets = len(plan.buckets) or 1
    capacity = max(1, math.ceil(width * len(layers) / min(buckets, VERIFY_BUCKETS)))
    small = plan_step(scenario, strategy, layers=layers, remat=remat, bucket_elements=capacity)
    world = _world(scenario, where_ranks, copies=True)
    payload = NumpyPayload(small.schedule, n, scenario.run.seed)
    fixed = {op: counter.most_common(1)[0][0] for op, counter in _used(job).items()}
    check_job = TrainJob(world, small, payload, strategy.params.algorithm, job.nodes, job.tiers, fixed=fixed)
    results = _run(world, strategy, check_job)
    payload.check(results, small.buckets, strategy.params.zero, list(small.layer_padded), world.ranks)


def _small(layer, params: int):
    """A model layer with a numpy MLP layer's parameters (its costs and activations kept: only the payloads matter here)."""
    return replace(layer, params=params)


def _used(job: TrainJob) -> dict[str, Counter]:
    """Op -> how many distinct buffer sizes each algorithm ran it on."""
    used: dict[str, Counter] = {}
    for (op, _), name in job.chosen.items():
        used.setdefault(op, Counter())[name] += 1
    return used


def _facts(job: TrainJob, strategy) -> dict:
    """The algorithms the run used, per collective, and for auto the tuner's runner-up on the largest buffer."""
    facts = {"requested": strategy.params.algorithm,
             "algorithms": {op: dict(counter) for op, counter in _used(job).items()}}
    if strategy.params.algorithm == AUTO and job.chosen:
        (op, elements) = max(job.chosen, key=lambda key: key[1])
        ranked = ranking(op, elements * job.plan.element_bytes, job.group, job.tiers)
        facts.update(op=op, algorithm=ranked[0].algorithm, predicted_s=ranked[0].seconds)
        if len(ranked) > 1:
            facts.update(runner_up=ranked[1].algorithm, runner_up_predicted_s=ranked[1].seconds)
    return facts


def describe_training(scenario, path) -> str:
    """The first line of ``distsim run`` for a training step: the cluster and the model."""
    model = scenario.model
    layers = layers_of(model)
    params = sum(layer.params for layer in layers)
    return (f"{path}: {hardware_text(scenario)}; a model of {len(layers)} layers, {params:,} parameters in {model.dtype}, "
            f"optimizer {model.optimizer}")


def analyze_training(result: RunResult, scenario, strategy):
    return reconcile_training(result.trace, training_inputs(scenario, strategy, result))


def training_inputs(scenario, strategy, result: RunResult) -> TrainingInputs:
    """What the closed forms may know: the model's layers, the GPU, the stage, the stragglers, the platform and the
    algorithms the run resolved — never the trace's times."""
    q, n = strategy.params, scenario.cluster.workers
    layers = layers_of(scenario.model)
    chain = chain_of(layers, scenario.cluster)
    e = scenario.model.bytes_per_param
    state = state_bytes(e, scenario.model.optimizer)
    gpu = scenario.cluster.gpu
    run = scenario.run
    remat = getattr(strategy, "remat", None) or remat_of(strategy)[0]
    comm = inputs_for(scenario, _Exchange(), None)
    if result.layout:
        comm = replace(comm, platform=platform_of(result.layout, scenario.cluster.network_model))
    algorithms = {(op, int(elements)): name for key, name in result.trace.meta.get("algorithms", {}).items()
                  for op, elements in [key.split(":")]}
    nodes, _ = nodes_and_tiers(scenario, result.layout) if result.layout else ((), None)
    return TrainingInputs(
        workers=n,
        layers=tuple(LayerCost(l.params, l.fwd_flops, l.bwd_flops, l.fwd_bytes, l.bwd_bytes, l.fwd_time, l.bwd_time)
                     for l in layers),
        activation_sizes=chain.sizes, element_bytes=e, state_bytes=(state.weights, state.gradients, state.optimizer),
        zero=q.zero, overlap=q.overlap, capacity=max(1, int(q.bucket // e)),
        remat=remat_form(remat, chain),
        gpu=Roofline(gpu.flops, gpu.efficiency, gpu.memory_bandwidth),
        slowdown=tuple(straggler_factors(run.stragglers, n)), jitter=run.jitter is not None,
        comm=comm, algorithms=algorithms, nodes=nodes, prefetch=q.prefetch,
    )


def remat_form(remat, chain) -> Remat:
    """What the closed forms know of the step's schedule: its kind, its k, the checkpoint tier's times."""
    k = getattr(remat.params, "k", None)
    return Remat(remat.name, k if remat.name == "checkpoint_every_k" else None, chain.memory.store_time,
                 chain.memory.load_time)


class _Exchange:
    """What ``inputs_for`` reads of a strategy, for the collectives of a step (no strategy parameters of its own)."""

    name = "collective"
    params = None
