"""Training steps replayed as CUDA graphs (trainer.cuda_graphs=true).

On a GPU at BERT-base size an eager training step spends most of its time issuing kernels, not
running them: an ST-A step dispatches ~3,000 ops; on an H200 it takes 26 ms eagerly and 8.4 ms
captured as one graph (results/bench/gpu). Here the step's forward, backward and gradient
clipping are captured once per batch shape and then replayed. The optimizer step stays eager
(fused AdamW: a few kernels), so the loop still reads the loss and the gradient norm after each
replay and refuses non-finite values before they reach the weights, as it does without graphs.

What a graph needs, and where it gets it:
- static shapes: the collator pads every batch to a multiple of PAD_MULTIPLE tokens (a handful
  of shapes per task); a batch of another size (an epoch's last) runs eagerly;
- static memory: a batch is copied into the input buffers the graph reads; gradients are zeroed
  in place at the start of every step and never set to None, so each replay writes the same
  tensors the eager optimizer step then reads;
- nothing that waits for the GPU inside the step (the loss is read after the replay).

A shape is captured after WARMUP eager steps of it (lazy allocations, library workspaces and the
gradients themselves exist by then); those eager steps are ordinary training steps.
"""

import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

import torch

from afuse.errors import AfuseError, ConfigError

log = logging.getLogger(__name__)

PAD_MULTIPLE = 32  # tokens: with max_length 128, at most four shapes per batch size
WARMUP = 2  # eager steps of a shape before it is captured

# What one step returns: the task loss, the extra loss (zero without one) and the gradient norm,
# all still on the device.
StepOutputs = tuple[torch.Tensor, torch.Tensor, torch.Tensor]
StepBody = Callable[[dict], StepOutputs]
# capture(body, inputs) -> (outputs, replay): `outputs` are tensors that each replay() refills
# with body(inputs) for the inputs' current values.
Capture = Callable[[StepBody, dict], tuple[StepOutputs, Callable[[], None]]]


def check_supported(cfg, device: torch.device, scaler, multitask: bool = False) -> None:
    """Refuse settings a captured step cannot honour, with what to change."""
    problems = []
    if device.type != "cuda":
        problems.append(f"it needs a CUDA device, and this run trains on {device} (trainer.device)")
    if cfg.grad_accum_steps != 1:
        problems.append(f"it captures one batch per step; trainer.grad_accum_steps is {cfg.grad_accum_steps}")
    if scaler is not None:
        problems.append(
            "fp16 loss scaling checks every step for inf on the host, and this GPU has no bf16; "
            "use trainer.amp=false (fp32)"
        )
    if multitask:
        problems.append("MT-A's batches come from a different task each step (train-multitask)")
    if problems:
        raise ConfigError(
            "trainer.cuda_graphs=true is not possible here: "
            + "; ".join(problems)
            + ". Run with trainer.cuda_graphs=false (the default), which trains the same way eagerly."
        )


def cuda_graph_capture() -> Capture:
    """Captures into CUDA graphs that share one memory pool, so that a task's few shapes cost the
    activation memory of one step, not of each. A graph's replay may overwrite memory another
    graph's outputs live in; that is safe here because the loop reads a step's outputs before the
    next replay, and what outlives a replay (input buffers, weights, gradients, cached source
    stacks) was allocated outside the pool, by the eager warm-up steps."""
    pool = torch.cuda.graph_pool_handle()

    def capture(body: StepBody, inputs: dict):
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph, pool=pool):
            outputs = body(inputs)
        return outputs, graph.replay

    return capture


def stand_in_capture(model: torch.nn.Module | None = None) -> Capture:
    """What a CUDA graph computes, without CUDA, for tests and the GPU check's CPU mode: capture
    runs the step with the RNG put back (a capture runs nothing, so it draws no dropout mask);
    each replay runs the step again on the input buffers and refills the same output tensors.
    A graph writes the gradients it was captured with: given the model, each replay checks that
    its gradients are still those tensors."""

    def capture(body: StepBody, inputs: dict):
        with torch.random.fork_rng(devices=[]):
            outputs = tuple(t.clone() for t in body(inputs))
        captured = [p.grad for p in model.parameters()] if model is not None else None

        def replay():
            fresh = body(inputs)
            moved = captured is not None and any(
                p.grad is not g for p, g in zip(model.parameters(), captured, strict=True)
            )
            if moved:
                raise AssertionError("a replayed step's gradients are not the tensors it was captured with")
            for static, value in zip(outputs, fresh, strict=True):
                static.copy_(value)

        return outputs, replay

    return capture


@dataclass
class Graphed:
    inputs: dict[str, torch.Tensor]  # the buffers the graph reads
    outputs: StepOutputs  # the tensors each replay refills
    replay: Callable[[], None]


class GraphedSteps:
    """Runs `body(batch)` (zero gradients, forward, backward, clip) for each batch: eagerly for the
    first WARMUP full batches of a shape and for batches of another size, as a captured graph's
    replay after that."""

    def __init__(self, body: StepBody, batch_size: int, capture: Capture | None = None):
        self.body, self.batch_size = body, batch_size
        self.capture = capture or cuda_graph_capture()
        self.seen: Counter = Counter()
        self.graphs: dict[tuple, Graphed] = {}

    def __call__(self, batch: dict) -> StepOutputs:
        key = shape_of(batch)
        graphed = self.graphs.get(key)
        if graphed is None:
            if rows(batch) != self.batch_size or self.seen[key] < WARMUP:
                self.seen[key] += 1
                return self.body(batch)
            graphed = self.graphs[key] = self._capture(batch, key)
        for name, buffer in graphed.inputs.items():
            buffer.copy_(batch[name], non_blocking=True)
        graphed.replay()
        return graphed.outputs

    def _capture(self, batch: dict, key: tuple) -> Graphed:
        inputs = {name: value.clone() for name, value in batch.items()}
        try:
            outputs, replay = self.capture(self.body, inputs)
        except RuntimeError as exc:  # e.g. an op that waits for the GPU, which a capture forbids
            raise AfuseError(
                f"capturing the training step as a CUDA graph failed ({str(exc).splitlines()[0][:200]}); "
                "rerun with trainer.cuda_graphs=false, which trains eagerly (from the last checkpoint, if any)"
            ) from exc
        log.info("CUDA graph captured for batches of shape %s", _describe(key))
        return Graphed(inputs, outputs, replay)


def shape_of(batch: dict) -> tuple:
    if not all(torch.is_tensor(v) for v in batch.values()):
        raise AfuseError("a captured training step takes tensors only; this batch has other entries")
    return tuple(sorted((name, tuple(value.shape), value.dtype) for name, value in batch.items()))


def rows(batch: dict) -> int:
    return len(batch["labels"])


def _describe(key: tuple) -> str:
    return ", ".join(f"{name} {'×'.join(map(str, shape))}" for name, shape, _ in key if name != "labels")
