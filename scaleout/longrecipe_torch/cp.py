"""Context parallelism: one long row split over the N ranks of a CP group.

Contract
--------
A row of n tokens is padded to ``padded_len(n, N)`` (the least multiple of
2·N that is >= n; padding tokens are id 0, repeat the last position id and
predict nothing) and cut into 2·N equal chunks. CP rank r holds chunks r and
2·N-1-r (the zigzag / head-tail split of ring-flash-attn and torchtitan, so
that every rank has the same causal work). Each rank runs the whole model on
its padded_len(n, N)/N tokens:

* RoPE is applied inside transformers with each token's own position id
  (the row's position ids are split with the tokens), so LongRecipe's gapped
  position ids are honoured exactly as on one process;
* attention is ``ring_attention``: the key/value blocks travel round the
  ring (torch.distributed isend/irecv on the CP group; gloo on the CPU, NCCL
  on CUDA) and every query attends to every key at or before it *in token
  order* — the causal mask is by token index, never by position value, the
  same one causal span per row as longrecipe_torch.model on one process;
  padding sits after every real token, so no real token attends to it;
* in the forward the next key/value block travels while the current one is
  computed;
* the backward pass is written out (flash-attention style: the log-sum-exp
  of the forward, then the key/value gradients travel round the ring with
  their blocks and come home after N hops), so gradients are exact, and
  activation checkpointing may recompute the forward;
* the loss is each rank's sum over its own tokens; the trainer adds sums and
  predicted-token counts over all ranks (all-reduce), and FSDP's gradient
  reduction over all ranks adds the CP ranks' partial gradients. A rank
  whose part predicts nothing still runs its backward (RowLoss adds a zero
  term), since the ring and FSDP need every rank.

Device mesh: world = dp · cp. CP groups are runs of cp consecutive ranks
(rank = dp_rank·cp + cp_rank), so a group stays on one node while cp divides
the GPUs per node; FSDP2 shards parameters over *all* ranks (as torchtitan
does with its dp_shard·cp mesh): weights and optimizer states are divided
by the world size, and each gradient reduce-scatter also sums the CP ranks'
partial gradients. Rows are dealt to the dp groups.

Block kernels: the attention of one query block against one key/value block
is computed by plain torch matmuls (in the inputs' dtype, with float32
scores, softmax statistics and gradients), a tile of queries at a time so
that a tile's scores take at most SCORE_BYTES. This is the tested path (CPU,
gloo, fp32) and runs on CUDA as well (bf16 matmuls, NCCL) but is not
measured there; it is not a fused kernel: the scores make a round trip
through memory. longrecipe plan counts the ring's transfers, not this, so
its assumed MFU is optimistic for CP. Not used: torch's experimental
``context_parallel`` (it runs on CUDA SDPA kernels only, through DTensor,
and shards the inputs itself, so it cannot be proven on the CPU nor take
the row's split as given) and ``ring-flash-attn`` (it needs flash-attn;
neither is installed where this was tested).

Exactness (scaleout/tests/test_cp.py): per-token log-probs and parameter
gradients of gapped 4k-token rows equal one process within 1e-5 (fp32) for
CP 2 and 4; a wrong split fails the same comparison.
"""

from __future__ import annotations

import torch
import torch.distributed as dist

ATTN_NAME = "longrecipe_ring"
SCORE_BYTES = 1 << 28  # float32 scores of one tile of queries against a block (all heads)


class Ring:
    """The CP group of this rank: ``ranks`` are its members' global ranks in
    ring order, ``index`` this rank's place among them."""

    def __init__(self, group, ranks: list[int], index: int):
        self.group, self.ranks, self.index = group, list(ranks), index
        self.size = len(self.ranks)

    @property
    def next(self) -> int:
        return self.ranks[(self.index + 1) % self.size]

    @property
    def prev(self) -> int:
        return self.ranks[(self.index - 1) % self.size]


def mesh(world: int, rank: int, cp: int) -> tuple[Ring | None, int, int]:
    """Builds the CP groups (every rank must call it: new_group is
    collective) and returns (this rank's Ring or None when cp == 1, dp_rank,
    dp_size)."""
    if cp < 1 or world % cp:
        raise ValueError(f"context_parallel {cp} does not divide the world size {world}")
    if cp == 1:
        return None, rank, world
    mine = None
    for g in range(world // cp):
        ranks = list(range(g * cp, (g + 1) * cp))
        group = dist.new_group(ranks)
        if rank in ranks:
            mine = Ring(group, ranks, ranks.index(rank))
    return mine, rank // cp, world // cp


# ---------------------------------------------------------------- the split

def padded_len(n: int, cp: int) -> int:
    """The least multiple of 2·cp that is >= max(n, 1)."""
    m = 2 * cp
    return max(m, (n + m - 1) // m * m)


def zigzag_index(n_pad: int, cp: int, rank: int) -> torch.Tensor:
    """Token indices of CP rank `rank` in a padded row: chunks rank and
    2·cp-1-rank of 2·cp equal chunks, in increasing order."""
    s = n_pad // (2 * cp)
    a = torch.arange(rank * s, (rank + 1) * s)
    b = torch.arange((2 * cp - 1 - rank) * s, (2 * cp - rank) * s)
    return torch.cat([a, b])


def shard_row(ids: torch.Tensor, pos: torch.Tensor, targets: torch.Tensor, ring: Ring):
    """This rank's part of one row (tensors of shape [1, n]): ids, position
    ids and targets padded (id 0, the last position id, target -100) and
    taken at zigzag_index; returns (ids, pos, targets, index)."""
    n = ids.shape[1]
    n_pad = padded_len(n, ring.size)
    if n_pad > n:
        extra = n_pad - n
        ids = torch.cat([ids, ids.new_zeros((1, extra))], dim=1)
        pos = torch.cat([pos, pos[:, -1:].expand(1, extra)], dim=1)
        targets = torch.cat([targets, targets.new_full((1, extra), -100)], dim=1)
    idx = zigzag_index(n_pad, ring.size, ring.index).to(ids.device)
    return ids[:, idx], pos[:, idx], targets[:, idx], idx


# ---------------------------------------------------------------- block kernels
# q: [Hkv, g, Tq, D] (query head h = kv head h // g, as transformers'
# repeat_kv), k, v: [Hkv, Tk, D]. causal: query i sees key j <= i (the block
# is square and q, k are the same tokens). The matmuls take the inputs'
# dtype (bf16 under autocast on CUDA, fp32 in the tests); scores, softmax
# statistics, outputs and gradients are float32. Queries go a tile at a
# time, the tile chosen so that its scores take at most SCORE_BYTES.


def _tile(q, k) -> int:
    return max(1, SCORE_BYTES // (4 * k.shape[-2] * q.shape[0] * q.shape[1]))


def _scores(q, k, scale, causal, q0):
    s = torch.matmul(q, k.transpose(-1, -2)[:, None]).float() * scale
    if causal:
        tq, tk = q.shape[-2], k.shape[-2]
        i = torch.arange(q0, q0 + tq, device=q.device)[:, None]
        j = torch.arange(tk, device=q.device)[None, :]
        s = s.masked_fill(j > i, float("-inf"))
    return s


def block_forward(q, k, v, scale: float, causal: bool):
    """(out, lse): softmax(q·kᵀ·scale)·v for this block alone, and the
    log-sum-exp of each query's scores."""
    out = q.new_empty(q.shape, dtype=torch.float32)
    lse = q.new_empty(q.shape[:-1], dtype=torch.float32)
    tile = _tile(q, k)
    for a in range(0, q.shape[-2], tile):
        b = min(q.shape[-2], a + tile)
        s = _scores(q[..., a:b, :], k, scale, causal, a)
        m = torch.logsumexp(s, dim=-1)
        lse[..., a:b] = m
        out[..., a:b, :] = torch.matmul(torch.exp(s - m[..., None]).to(v.dtype), v[:, None]).float()
    return out, lse


def block_backward(dout, q, k, v, lse, delta, scale: float, causal: bool):
    """(dq, dk, dv) of this block given the *row's* final lse and
    delta = rowsum(dout · out) (the flash-attention backward)."""
    f32 = torch.float32
    dq = torch.zeros_like(q, dtype=f32)
    dk = torch.zeros_like(k, dtype=f32)
    dv = torch.zeros_like(v, dtype=f32)
    dt = q.dtype
    tile = _tile(q, k)
    for a in range(0, q.shape[-2], tile):
        b = min(q.shape[-2], a + tile)
        qa, da = q[..., a:b, :], dout[..., a:b, :]
        p = torch.exp(_scores(qa, k, scale, causal, a) - lse[..., a:b, None])
        dv += torch.matmul(p.to(dt).transpose(-1, -2), da).float().sum(1)
        ds = p * (torch.matmul(da, v.transpose(-1, -2)[:, None]).float() - delta[..., a:b, None])
        ds = ds.to(dt)
        dq[..., a:b, :] = torch.matmul(ds, k[:, None]).float() * scale
        dk += torch.matmul(ds.transpose(-1, -2), qa).float().sum(1) * scale
    return dq, dk, dv


def _merge(out, lse, bout, blse):
    """Combines a block's (out, lse) into the running ones, in place."""
    new = torch.logaddexp(lse, blse)
    out.mul_(torch.exp(lse - new)[..., None]).add_(bout * torch.exp(blse - new)[..., None])
    lse.copy_(new)


def _exchange(ring: Ring, tensors):
    """Sends tensors to the next rank and returns those of the previous one."""
    return _post(ring, tensors)()


def _post(ring: Ring, tensors):
    """Starts sending tensors to the next rank and receiving the previous
    one's; returns a function that waits and returns the received tensors.
    One message per dtype each way (tagged), the tensors packed into it; the
    sends and receives go as one batch (batch_isend_irecv: one NCCL group, so
    two ranks sending to each other do not wait on each other's receive)."""
    dtypes = list(dict.fromkeys(t.dtype for t in tensors))
    got, ops = [], []
    for tag, dt in enumerate(dtypes):
        flat = torch.cat([t.reshape(-1) for t in tensors if t.dtype == dt])
        buf = torch.empty_like(flat)
        ops.append(dist.P2POp(dist.isend, flat, ring.next, group=ring.group, tag=tag))
        ops.append(dist.P2POp(dist.irecv, buf, ring.prev, group=ring.group, tag=tag))
        got.append(buf)
    reqs = dist.batch_isend_irecv(ops)
    shapes = [(t.dtype, t.shape, t.numel()) for t in tensors]

    def wait():
        for r in reqs:
            r.wait()
        out, offs = [], [0] * len(dtypes)
        for dt, shape, n in shapes:
            i = dtypes.index(dt)
            out.append(got[i][offs[i]:offs[i] + n].view(shape))
            offs[i] += n
        del ops[:]  # the send buffers may go now
        return out

    return wait


# ---------------------------------------------------------------- ring attention

class _RingAttention(torch.autograd.Function):
    """Zigzag ring attention over ring (see the module doc). At step t the
    rank holds the key/value block of ring member src = index - t: t = 0 is
    its own block (causal); a lower src's first chunk is wholly before both
    of this rank's chunks and its second wholly after them; a higher src's
    chunks are wholly before this rank's second chunk and after its first."""

    @staticmethod
    def forward(ctx, q, k, v, ring: Ring, scale: float):
        dt = q.dtype
        r, n, s = ring.index, ring.size, q.shape[-2] // 2
        # The next block travels while this one is computed.
        pending = _post(ring, [k, v]) if n > 1 else None
        out, lse = block_forward(q, k, v, scale, causal=True)
        for t in range(1, n):
            kv = pending()
            if t < n - 1:
                pending = _post(ring, kv)
            if (r - t) % n < r:
                bo, bl = block_forward(q, kv[0][:, :s], kv[1][:, :s], scale, causal=False)
                _merge(out, lse, bo, bl)
            else:
                bo, bl = block_forward(q[..., s:, :], kv[0], kv[1], scale, causal=False)
                _merge(out[..., s:, :], lse[..., s:], bo, bl)
        ctx.save_for_backward(q, k, v, out, lse)
        ctx.ring, ctx.scale, ctx.dt = ring, scale, dt
        return out.to(dt)  # bf16 under autocast, as SDPA's output

    @staticmethod
    def backward(ctx, dout):
        q, k, v, out, lse = ctx.saved_tensors
        ring, scale = ctx.ring, ctx.scale
        r, n, s = ring.index, ring.size, q.shape[-2] // 2
        delta = (dout.float() * out).sum(-1)
        dout = dout.to(q.dtype)
        dq, dk, dv = block_backward(dout, q, k, v, lse, delta, scale, causal=True)
        kv = [k, v]
        for t in range(1, n):
            # The gradients of block src = r-t+1 go on with it; block r-t arrives.
            got = _exchange(ring, kv + [dk, dv])
            kv, (dk, dv) = got[:2], got[2:]
            if (r - t) % n < r:
                a, b, c = block_backward(dout, q, kv[0][:, :s], kv[1][:, :s], lse, delta, scale, causal=False)
                dq += a
                dk[:, :s] += b
                dv[:, :s] += c
            else:
                a, b, c = block_backward(dout[..., s:, :], q[..., s:, :], kv[0], kv[1], lse[..., s:],
                                         delta[..., s:], scale, causal=False)
                dq[..., s:, :] += a
                dk += b
                dv += c
        if n > 1:  # one more hop brings this rank's own block's gradients home
            dk, dv = _exchange(ring, [dk, dv])
        return dq.to(q.dtype), dk.to(k.dtype), dv.to(v.dtype), None, None


def ring_attention(q, k, v, ring: Ring, scale: float) -> torch.Tensor:
    """Attention of this rank's queries over the whole row. q: [1, H, T, D],
    k, v: [1, Hkv, T, D] (T = this rank's tokens, zigzag order). Returns
    [1, T, H, D]."""
    _, h, t, d = q.shape
    hkv = k.shape[1]
    qg = q[0].reshape(hkv, h // hkv, t, d)
    o = _RingAttention.apply(qg, k[0], v[0], ring, float(scale))
    return o.reshape(h, t, d).transpose(0, 1)[None]


# ---------------------------------------------------------------- transformers hook

def _attention(module, query, key, value, attention_mask, scaling=None, dropout=0.0, **kwargs):
    """The transformers attention function registered as ATTN_NAME: ring
    attention when the forward was given cp_ring=Ring, else an error (the
    model was switched to CP and must only be run through it)."""
    ring = kwargs.get("cp_ring")
    if ring is None:
        raise RuntimeError(f"attention {ATTN_NAME} needs cp_ring=Ring in the forward's keyword arguments")
    if dropout:
        raise RuntimeError("context parallelism does not support attention dropout")
    if kwargs.get("sliding_window") is not None:
        raise RuntimeError("context parallelism does not support sliding-window attention")
    scale = scaling if scaling is not None else query.shape[-1] ** -0.5
    return ring_attention(query, key, value, ring, scale), None


def _no_mask(*args, **kwargs):
    return None  # the ring applies the causal order itself


def enable(lm) -> None:
    """Switches a transformers causal LM to ring attention (its forward then
    needs cp_ring=Ring); refuses a model with sliding-window attention."""
    from transformers import AttentionInterface
    from transformers.masking_utils import AttentionMaskInterface

    cfg = lm.config
    sliding = any(getattr(m, "sliding_window", None) for m in lm.modules())
    if sliding or (cfg.model_type == "mistral" and getattr(cfg, "sliding_window", None)):
        raise ValueError(f"context_parallel: {cfg.model_type} attends within a sliding window "
                         f"(sliding_window {cfg.sliding_window}), which the ring attention does not implement; "
                         f"set context_parallel = 1")

    AttentionInterface.register(ATTN_NAME, _attention)
    AttentionMaskInterface.register(ATTN_NAME, _no_mask)
    lm.config._attn_implementation = ATTN_NAME
