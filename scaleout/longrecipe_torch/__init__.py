"""longrecipe_torch: the PyTorch backend of ``longrecipe train --backend torch``.

Contract
--------
Entry point: ``python -m longrecipe_torch train --job JOB.json`` (one
process, or one per rank under ``torchrun`` / ``accelerate launch``).
``torchlaunch`` (Go) writes the job file and starts the launcher; the file
can also be written by hand.

Job file (JSON)::

    {"from": MODEL_DIR, "data": SHARD_DIR_or_JSONL, "output": OUT_DIR,
     "checkpoint_every": 10, "save_dtype": "", "force": false,
     "hyper": {...train.Hyper JSON: steps, batch, grad_accum, schedule, lr, warmup,
               min_lr, adamw{beta1,beta2,eps,weight_decay,decay_all}, grad_clip, seed, extra},
     "launch": {...torchlaunch.Launch JSON: sharding, precision, activation_checkpointing,
                attn_implementation, ce_chunk_tokens, context_parallel, cpu_offload,
                collective_timeout_s}}

Reads
    * MODEL_DIR: a Hugging Face llama / mistral / qwen2 folder (config.json,
      safetensors, tokenizer files), loaded with AutoModelForCausalLM in fp32.
    * the rows as they are: a shard folder of ``longrecipe prepare`` (native
      LRSHARD1 shards, JSONL, Parquet; each data file's CRC-32C is checked
      against the manifest before its first row is used) or a JSONL file: input_ids, position_ids (default 0..n-1),
      loss_mask or labels (-100). Nothing is re-tokenised or re-positioned.

Semantics that equal the Go trainer (train/), checked by the parity tests:
    * step s trains rows s*B*K .. s*B*K+B*K-1 in file order, modulo the row
      count; loss = mean next-token NLL over every predicted token of those
      rows (sums and counts added over micro-steps and ranks);
    * AdamW (torch, single-tensor) with betas/eps/weight decay, no decay on
      biases and norm weights unless decay_all (train.NoDecay);
    * constant / linear / cosine schedules with warm-up and min_lr, the rate
      of step s being At(s) (train.Schedule);
    * global-norm clipping max/(norm+1e-6) below 1, grad_clip 0 = off;
    * no random numbers are drawn (no dropout); seed seeds torch anyway.
    Rows are fed one per forward pass (batch 1, no padding): ``batch`` only
    groups rows, as the sums are the same.

Layout: sharding "fsdp" (the default) is FSDP2 fully_shard on every decoder
layer and the root, with ANY number of ranks — one process gets a process
group of its own — so cpu_offload (FSDP2 CPUOffloadPolicy) and mixed
precision apply on one GPU too; "ddp" replicates, "none" is one plain
process. What actually runs is read back from the wrapped model into
OUT_DIR/torch-layout.json (mesh size, offload and mixed-precision
policies, parameter dtypes and devices).

Precision: "auto" is bf16 on CUDA, fp32 on CPU. bf16 under fsdp is FSDP2's
MixedPrecisionPolicy(param_dtype=bf16, reduce_dtype=fp32): fp32 master
weights and AdamW states, bf16 compute copies gathered per unit, gradients
reduced in fp32, no autocast; under ddp/none it is autocast over the fp32
parameters.

Loading: under fsdp the model is built on the meta device, sharded, and
rank 0 alone reads the safetensors (fp32) and broadcasts them; each rank
keeps its shard, so host memory holds one copy per node, not one per rank.
ddp/none load with from_pretrained on every rank.
Attention: flash_attention_2 when flash-attn is importable on CUDA, else
sdpa; every row is ONE causal span whatever its position ids (see
longrecipe_torch.model: the packed-sequence trap).

Long rows: context_parallel = N splits every row over N ranks (longrecipe_torch.cp:
zigzag ring attention, exact for gapped position ids, loss sums and counts
added over ranks). world = dp x N; CP groups are runs of N consecutive ranks;
FSDP2 shards over all ranks; rows are dealt to the dp groups. N must divide
the world size and needs sharding fsdp; rows are padded to a multiple of 2N.
With activation checkpointing the per-GPU activations grow linearly with the
tokens a GPU holds (row / N); `longrecipe plan` computes it and picks N (and
cpu_offload) when a row does not fit. CUDA out of memory is reported with the
row length and these settings.

Writes (OUT_DIR, rank 0 unless noted)
    * metrics.jsonl: one line per step, the Go keys: step, loss, lr,
      grad_norm, tokens, predicted, tokens_per_s, elapsed_s;
    * checkpoints/step-NNNNNNNN/: torch.distributed.checkpoint (all ranks)
      plus state.json and, written last, manifest.json (bytes and SHA-256 of
      every file, each rank hashing its share), renamed into place (atomic:
      a kill -9 keeps the last whole checkpoint). A rerun verifies the
      manifest and resumes — on any number of ranks (DCP reshards); a
      missing manifest or a file that differs from it is refused in one
      line naming the file. Not interchangeable with Go's.
    * torch-layout.json: what runs (see Layout).
    * config.json (the input's: its rope_theta, max_position_embeddings,
      rope_scaling, with torch_dtype = the saved dtype), model.safetensors
      (or shards + index above 5 GB) in save_dtype (default: the input's
      torch_dtype), the tokenizer files copied.
    * stdout: ``LRMETRIC {json}`` per step, ``LRRESULT {json}`` at the end,
      ``LRRSS {"rank", "peak_rss_mib"}`` per rank on exit;
      stderr: ``LRERROR rank=R: message`` (one line: a StageError as it is,
      else the first real cause of the exception) on failure, exit 1.

Stops: SIGTERM or SIGINT sets a flag that the ranks check together (one
small all-reduce) before every row, so a stop waits for one row, not a
whole step: they write the checkpoint of the step they are in (the
weights not yet updated, the partial gradients dropped) and exit 128 + the
signal (143 for SIGTERM). Every collective times out after
collective_timeout_s (default 1800): a rank that stops answering fails the
others instead of hanging them.
"""

__all__ = ["cp", "data", "optim", "model", "trainer"]
