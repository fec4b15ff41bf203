"""Character-level LSTM: the text voice. A network in a page, and its streaming sampler."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from models.rnn import LSTMLM, State, sample_logits

Snapshot = tuple[State | None, np.ndarray | None]  # a sampler's position: LSTM state, next logits


@dataclass
class TextConfig:
    """Architecture of a char-LSTM; stored in the weights card."""

    vocab: str = ""  # every character the model knows, in token order
    n_embd: int = 64
    hidden: int = 512
    layers: int = 3
    dropout: float = 0.2

    def __post_init__(self) -> None:
        if not self.vocab:
            raise ValueError("vocab must hold at least one character")
        if len(set(self.vocab)) != len(self.vocab):
            raise ValueError("vocab has repeated characters")

    def to_dict(self) -> dict:
        return asdict(self)


class TextRNN(LSTMLM):
    """idx (B, T) of character ids -> logits (B, T, V) and the LSTM state."""

    def __init__(self, cfg: TextConfig) -> None:
        super().__init__(len(cfg.vocab), cfg.n_embd, cfg.hidden, cfg.layers, cfg.dropout)
        self.cfg = cfg
        self.stoi = {ch: i for i, ch in enumerate(cfg.vocab)}

    def encode(self, text: str) -> list[int]:
        """Characters -> ids; characters outside the vocabulary are skipped."""
        return [self.stoi[ch] for ch in text if ch in self.stoi]

    def decode(self, ids: list[int]) -> str:
        return "".join(self.cfg.vocab[i] for i in ids)


class TextSampler:
    """Streams one character at a time from a TextRNN, keeping its state between calls."""

    def __init__(self, model: TextRNN, seed: int = 0) -> None:
        self.model = model.eval()
        self.seed = seed
        self.rng = np.random.default_rng(seed)
        self.reset()

    def reset(self) -> None:
        """Forget everything fed or sampled so far (the random stream goes on)."""
        self.state: State | None = None
        self.logits: np.ndarray | None = None

    def _feed(self, i: int) -> None:
        logits, self.state = self.model.step(i, self.state)
        self.logits = logits.cpu().numpy()  # no copy on CPU; a CUDA model works too

    def feed(self, i: int) -> None:
        """Feed one character id (constrained decoding chooses it itself)."""
        self._feed(i)

    def snapshot(self) -> Snapshot:
        """The position reached (state and next logits), to come back to with restore()."""
        return (self.state, self.logits)  # step() makes new tensors: no copy needed

    def restore(self, snap: Snapshot) -> None:
        """Go back to a snapshot (the random stream goes on)."""
        self.state, self.logits = snap

    def draw(self, temperature: float, top_p: float, banned: np.ndarray | None = None) -> int:
        """Sample the next character id without feeding it; `banned` ids get no probability."""
        if self.logits is None:
            self.prime("\n" if "\n" in self.model.stoi else self.model.cfg.vocab[0])
        assert self.logits is not None
        logits = self.logits
        if banned is not None and banned.any():
            logits = np.where(banned, -np.inf, logits)
        return sample_logits(logits, temperature, top_p, self.rng)

    def prime(self, text: str) -> int:
        """Feed text (unknown characters skipped); return how many characters were fed."""
        ids = self.model.encode(text)
        for i in ids:
            self._feed(i)
        return len(ids)

    def next_char(self, temperature: float = 1.0, top_p: float = 1.0) -> str:
        """Sample the next character and feed it back."""
        if self.logits is None:  # nothing fed yet: start as after a line break if we can
            self.prime("\n" if "\n" in self.model.stoi else self.model.cfg.vocab[0])
        assert self.logits is not None
        i = sample_logits(self.logits, temperature, top_p, self.rng)
        self._feed(i)
        return self.model.cfg.vocab[i]

    def generate(self, n: int, temperature: float = 1.0, top_p: float = 1.0) -> str:
        return "".join(self.next_char(temperature, top_p) for _ in range(n))
