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
                attn_implementation, ce_chunk_tokens, context_parallel, cpu_offload}}

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

Precision: fp32 on CPU; bf16 autocast over fp32 master weights on CUDA.
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
      plus state.json, renamed into place (atomic: a kill -9 keeps the last
      whole checkpoint); a rerun resumes. Not interchangeable with Go's.
    * config.json (the input's: its rope_theta, max_position_embeddings,
      rope_scaling, with torch_dtype = the saved dtype), model.safetensors
      (or shards + index above 5 GB) in save_dtype (default: the input's
      torch_dtype), the tokenizer files copied.
    * stdout: ``LRMETRIC {json}`` per step, ``LRRESULT {json}`` at the end;
      stderr: ``LRERROR rank=R: message`` (one line) on failure, exit 1.
"""

__all__ = ["cp", "data", "optim", "model", "trainer"]
