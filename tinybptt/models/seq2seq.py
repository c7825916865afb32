"""An attention encoder-decoder (sequence to sequence) model, trained with teacher forcing.

Encoder: ``Embedding -> GRU/LSTM/RNN`` over the source (bidirectional by default); its
outputs are the keys the decoder attends to.  Decoder, one step t (Bahdanau-style):

    c_t, a_t = attention(s_{t-1}, encoder outputs, padding mask)   # a_t: weights over source steps
    s_t      = cell([embed(y_{t-1}); c_t], s_{t-1})
    logits_t = out([s_t; c_t])

with s_0 = tanh(bridge(final encoder states)).  ``attention=None`` drops c_t: a plain
encoder-decoder whose only path from the source is the final encoder state.

Scopes: the encoder runs in ``encoder.l0.fwd/t=k`` (and ``.bwd``), decoder step t in
``decoder/t=t`` with its attention in ``decoder/t=t/attn``, so the rendered graph shows
the edges from every decoder step straight back to the encoder steps.
"""
import numpy as np

from .. import nn, ops
from ..autograd import no_grad, scope
from ..tensor import Tensor, _infer_array

_CELLS = {"gru": (nn.GRU, nn.GRUCell), "lstm": (nn.LSTM, nn.LSTMCell), "rnn": (nn.RNN, nn.RNNCell)}


class Seq2Seq(nn.Module):
    """Attention seq2seq over token ids (batch first).

    Seq2Seq(src_vocab, tgt_vocab, embed_dim=32, hidden_size=64, cell='gru'|'lstm'|'rnn',
    bidirectional=True, attention='additive'|'dot'|'general'|None, pad_idx=0).
    ``forward(src, tgt_in)`` -> (logits (N, T, tgt_vocab), weights (N, T, S)) with teacher
    forcing: step t reads the gold token ``tgt_in[:, t]``.  ``greedy_decode(src, max_len, bos)``
    -> (tokens (N, max_len), weights).  Source positions equal to ``pad_idx`` are padding:
    the encoder skips them (``lengths``) and attention gives them weight 0.
    """

    def __init__(self, src_vocab, tgt_vocab, embed_dim=32, hidden_size=64, cell="gru", bidirectional=True,
                 attention="additive", pad_idx=0, dtype=None):
        super().__init__()
        if cell not in _CELLS:
            raise ValueError(f"Seq2Seq: cell must be one of {sorted(_CELLS)}, got {cell!r}")
        if attention not in ("additive", "dot", "general", None):
            raise ValueError(f"Seq2Seq: attention must be 'additive', 'dot', 'general' or None, got {attention!r}")
        layer, cell_cls = _CELLS[cell]
        self.cell, self.attention_kind, self.pad_idx, self.hidden_size = cell, attention, pad_idx, hidden_size
        enc_dim = hidden_size * (2 if bidirectional else 1)
        self.src_embed = nn.Embedding(src_vocab, embed_dim, padding_idx=pad_idx, dtype=dtype)
        self.tgt_embed = nn.Embedding(tgt_vocab, embed_dim, dtype=dtype)
        self.encoder = layer(embed_dim, hidden_size, batch_first=True, bidirectional=bidirectional, dtype=dtype)
        self.encoder.name = "encoder"  # scope names: encoder.l0.fwd/t=k
        self.bridge = nn.Linear(enc_dim, hidden_size, dtype=dtype)
        if attention == "additive":
            self.attention = nn.AdditiveAttention(hidden_size, enc_dim, hidden_size, dtype=dtype)
        elif attention == "general":
            self.attention = nn.DotAttention(hidden_size, enc_dim, method="general", dtype=dtype)
        elif attention == "dot":
            if enc_dim != hidden_size:
                raise ValueError(f"Seq2Seq: attention='dot' needs encoder outputs of the decoder's size "
                                 f"({enc_dim} != {hidden_size}); use bidirectional=False or 'general'")
            self.attention = nn.DotAttention(hidden_size, method="dot")
        else:
            self.attention = None
        ctx = enc_dim if attention else 0
        self.decoder = cell_cls(embed_dim + ctx, hidden_size, dtype=dtype)
        self.out = nn.Linear(hidden_size + ctx, tgt_vocab, dtype=dtype)

    def encode(self, src):
        """Run the encoder: (outputs (N, S, enc_dim), padding mask (N, S), initial decoder state)."""
        src = _infer_array(src)
        pad = src == self.pad_idx
        lengths = (~pad).sum(1)
        if (lengths == 0).any():
            raise ValueError("Seq2Seq: a source sequence is all padding")
        outputs, h_n = self.encoder(self.src_embed(src), lengths=lengths)
        h_n = h_n[0] if self.cell == "lstm" else h_n
        last = ops.cat(list(h_n[-2:]) if self.encoder.bidirectional else [h_n[-1]], dim=1)  # (N, enc_dim)
        s0 = self.bridge(last).tanh()
        state = (s0, Tensor(np.zeros(s0.shape, s0.dtype))) if self.cell == "lstm" else s0
        return outputs, pad, state

    def _keys(self, memory):
        """What every decoder step reads: the encoder outputs (and, for additive attention, their
        projection W_k k_s + b, computed once per source rather than once per step)."""
        if isinstance(self.attention, nn.AdditiveAttention):
            with scope("decoder"):
                return memory, self.attention.project_keys(memory)
        return memory, None

    def step(self, y_emb, state, keys, pad):
        """One decoder step: (logits, new state, attention weights or None); ``keys`` from ``_keys``."""
        h = state[0] if self.cell == "lstm" else state
        memory, projected = keys
        if self.attention is not None:
            extra = {} if projected is None else {"projected_keys": projected}
            context, weights = self.attention(h, memory, pad, **extra)
            state = self.decoder(ops.cat([y_emb, context], dim=1), state)
            h = state[0] if self.cell == "lstm" else state
            return self.out(ops.cat([h, context], dim=1)), state, weights
        state = self.decoder(y_emb, state)
        h = state[0] if self.cell == "lstm" else state
        return self.out(h), state, None

    def forward(self, src, tgt_in):
        """Teacher forcing: logits (N, T, tgt_vocab) and attention weights (N, T, S) (None without attention)."""
        memory, pad, state = self.encode(src)
        keys = self._keys(memory)
        emb = self.tgt_embed(_infer_array(tgt_in))
        logits, weights = [], []
        with scope("decoder"):
            for t in range(emb.shape[1]):
                with scope(f"t={t}"):
                    out, state, w = self.step(emb[:, t], state, keys, pad)
                logits.append(out)
                weights.append(w)
        return ops.stack(logits, 1), (ops.stack(weights, 1) if self.attention is not None else None)

    @no_grad()
    def greedy_decode(self, src, max_len, bos, eos=None):
        """Feed back the most likely token each step: (tokens (N, max_len) int64, weights (N, max_len, S)).

        After ``eos`` a sequence keeps emitting ``eos``; decoding stops early when all have.
        """
        memory, pad, state = self.encode(src)
        keys = self._keys(memory)
        y = np.full(memory.shape[0], bos, np.int64)
        tokens, weights = [], []
        done = np.zeros(len(y), bool)
        for t in range(max_len):
            with scope("decoder"), scope(f"t={t}"):
                out, state, w = self.step(self.tgt_embed(y), state, keys, pad)
            y = np.where(done, eos if eos is not None else 0, out.detach().numpy().argmax(1))
            tokens.append(y)
            weights.append(None if w is None else w.detach().numpy())
            if eos is not None:
                done |= y == eos
                if done.all():
                    break
        w = np.stack(weights, 1) if self.attention is not None else None
        return Tensor(np.stack(tokens, 1)), (Tensor(w) if w is not None else None)
