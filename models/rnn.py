"""The LSTM language model under both the text and the music voice, and its sampling tools."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

State = tuple[torch.Tensor, torch.Tensor]  # (h, c), each (layers, B, hidden)


class LSTMLM(nn.Module):
    """Tokens (B, T) -> next-token logits (B, T, V): embedding, stacked LSTM, linear head."""

    half_step = True  # step() reads float16 copies of the LSTM weights on CPU

    def __init__(self, vocab_size: int, n_embd: int, hidden: int, layers: int, dropout: float):
        super().__init__()
        self.wte = nn.Embedding(vocab_size, n_embd)
        self.drop = nn.Dropout(dropout)
        self.lstm = nn.LSTM(n_embd, hidden, layers, batch_first=True,
                            dropout=dropout if layers > 1 else 0.0)
        self.head = nn.Linear(hidden, vocab_size)
        self._fused: list[tuple[torch.Tensor, torch.Tensor]] | None = None

    def forward(self, idx: torch.Tensor, state: State | None = None) -> tuple[torch.Tensor, State]:
        x = self.drop(self.wte(idx))  # (B, T, n_embd)
        y, state = self.lstm(x, state)  # (B, T, hidden)
        return self.head(self.drop(y)), state  # (B, T, V)

    def train(self, mode: bool = True) -> LSTMLM:
        self._fused = None  # weights may change while training: rebuild the fast path after
        return super().train(mode)

    @torch.inference_mode()
    def step(self, tok: int, state: State | None) -> tuple[torch.Tensor, State]:
        """One token at batch 1 -> logits (V,), same maths as forward.

        nn.LSTM on CPU costs milliseconds per call at T=1 (oneDNN set-up); one fused
        matrix-vector product per layer is memory-bound, so on CPU the fused weights are
        kept in float16 (half the bytes to read per character); state stays float32.
        """
        dev = self.wte.weight.device
        wdt = torch.float16 if dev.type == "cpu" and self.half_step else torch.float32
        if self._fused is None:
            self._fused = [
                (torch.cat([getattr(self.lstm, f"weight_ih_l{k}"),
                            getattr(self.lstm, f"weight_hh_l{k}")], 1).detach().to(wdt),
                 (getattr(self.lstm, f"bias_ih_l{k}") + getattr(self.lstm, f"bias_hh_l{k}"))
                 .detach().clone())
                for k in range(self.lstm.num_layers)
            ]
        n, hsz = self.lstm.num_layers, self.lstm.hidden_size
        if state is None:
            z = torch.zeros(n, 1, hsz, device=dev)
            state = (z, z.clone())
        h, c = state
        x = self.wte.weight[tok]  # (n_embd,)
        hs, cs = [], []
        for k, (w, b) in enumerate(self._fused):
            xh = torch.cat([x, h[k, 0]]).to(w.dtype)
            gates = torch.mv(w, xh).float().add_(b)  # (4*hidden,) order i, f, g, o
            sg = torch.sigmoid(gates)  # g's sigmoid is wasted; one op beats three
            ck = torch.addcmul(sg[hsz : 2 * hsz] * c[k, 0], sg[:hsz], torch.tanh(gates[2 * hsz : 3 * hsz]))
            x = sg[3 * hsz :] * torch.tanh(ck)
            hs.append(x)
            cs.append(ck)
        logits = F.linear(x, self.head.weight, self.head.bias)  # (V,)
        return logits, (torch.stack(hs).unsqueeze(1), torch.stack(cs).unsqueeze(1))


def sample_logits(logits: torch.Tensor | np.ndarray, temperature: float, top_p: float,
                  rng: np.random.Generator) -> int:
    """Draw one index from logits (V,) at a temperature, keeping the top-p nucleus.

    NumPy, not torch: for a few hundred entries each torch op costs tens of
    microseconds at batch 1, more than the whole draw costs here.
    """
    z = np.asarray(logits, dtype=np.float64)
    if temperature <= 0:
        return int(np.argmax(z))
    z = (z - z.max()) / max(temperature, 1e-4)
    p = np.exp(z)  # -inf logits give exactly 0
    idx = None
    if top_p < 1.0:
        idx = np.argsort(-p, kind="stable")
        p = p[idx]
        c = np.cumsum(p)
        keep = int(np.searchsorted(c, top_p * c[-1], side="left")) + 1  # smallest nucleus
        idx, p = idx[:keep], p[:keep]
    c = np.cumsum(p)
    j = min(int(np.searchsorted(c, rng.random() * c[-1], side="right")), len(c) - 1)
    return int(idx[j]) if idx is not None else j
