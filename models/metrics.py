"""Held-out figures for the three kinds: SWD for images, cross-entropy and key for music, nats/char."""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from models.gan import ImageGenerator, build_generator
from models.images import CropSampler, ImageSet
from models.music_data import EventVocab, NoteCorpus, encode_notes, ngram_counts
from models.music_rnn import MusicConfig, MusicRNN, MusicSampler, events_to_notes
from models.text_rnn import TextRNN

# ----------------------------------------------------------------------------- images: SWD


def _binomial(x: torch.Tensor) -> torch.Tensor:
    k1 = torch.tensor([1.0, 4.0, 6.0, 4.0, 1.0], device=x.device) / 16
    k = (k1[:, None] * k1[None, :]).expand(x.shape[1], 1, 5, 5)
    return F.conv2d(F.pad(x, [2, 2, 2, 2], mode="reflect"), k, groups=x.shape[1])


def laplacian_pyramid(x: torch.Tensor, min_res: int = 16) -> list[torch.Tensor]:
    """(B, C, R, R) -> band-pass levels at R, R/2, ... and the low-pass residual at min_res."""
    levels = []
    while x.shape[-1] > min_res:
        down = _binomial(x)[..., ::2, ::2]
        up = F.interpolate(down, scale_factor=2.0, mode="bilinear", align_corners=False)
        levels.append(x - up)
        x = down
    levels.append(x)
    return levels


def _patches(x: torch.Tensor, n: int, size: int, gen: torch.Generator) -> torch.Tensor:
    """n random size x size patches per image -> (B*n, C*size*size), normalised per channel."""
    b, c, h, w = x.shape
    ys = torch.randint(0, h - size + 1, (b, n), generator=gen)
    xs = torch.randint(0, w - size + 1, (b, n), generator=gen)
    off = torch.arange(size)
    iy = (ys[..., None] + off)[..., :, None].expand(b, n, size, size)  # (b, n, s, s)
    ix = (xs[..., None] + off)[..., None, :].expand(b, n, size, size)
    bi = torch.arange(b)[:, None, None, None].expand(b, n, size, size)
    p = x.permute(0, 2, 3, 1)[bi, iy, ix]  # (b, n, s, s, C)
    p = p.permute(0, 1, 4, 2, 3).reshape(b * n, c, size * size)
    p = (p - p.mean(dim=(0, 2), keepdim=True)) / (p.std(dim=(0, 2), keepdim=True) + 1e-8)
    return p.reshape(b * n, -1)


def _swd(a: torch.Tensor, b: torch.Tensor, gen: torch.Generator, dirs: int = 256) -> float:
    proj = torch.randn(dirs, a.shape[1], generator=gen)
    proj /= proj.norm(dim=1, keepdim=True)
    pa, _ = torch.sort(proj @ a.T, dim=1)  # (dirs, N): sorting along contiguous rows is fast
    pb, _ = torch.sort(proj @ b.T, dim=1)
    return float((pa - pb).abs().mean())


def swd(a: torch.Tensor, b: torch.Tensor, seed: int = 0, per_image: int = 64) -> float:
    """Sliced Wasserstein distance (x1e3) on 7x7 Laplacian-pyramid patches, averaged over levels."""
    gen = torch.Generator().manual_seed(seed)
    la, lb = laplacian_pyramid(a.float().cpu()), laplacian_pyramid(b.float().cpu())
    d = [_swd(_patches(x, per_image, 7, gen), _patches(y, per_image, 7, gen), gen)
         for x, y in zip(la, lb, strict=True)]
    return 1e3 * sum(d) / len(d)


@torch.no_grad()
def generate(g: ImageGenerator, n: int, seed: int, device: str | torch.device,
             batch: int = 128) -> torch.Tensor:
    """n images of g from latents of a fixed seed, (n, 3, R, R) float on the CPU."""
    gen = torch.Generator().manual_seed(seed)
    z = torch.randn(n, g.cfg.nz, generator=gen)
    g.eval()
    return torch.cat([g(z[i : i + batch].to(device)).float().cpu() for i in range(0, n, batch)])


def diversity(x: torch.Tensor, grid: int = 16) -> tuple[float, float]:
    """(mean, smallest) pairwise RMS distance of images, at 32 px: the mean over all pairs, the
    smallest within each grid of `grid` images (a repeat in a sample grid shows as ~0)."""
    small = F.interpolate(x.float(), size=(32, 32), mode="area").flatten(1)  # (n, 3*32*32)
    d = torch.cdist(small, small) / math.sqrt(small.shape[1])  # (n, n) RMS in [-1, 1] units
    n = len(small)
    mean = d.sum().item() / max(n * (n - 1), 1)
    eye = torch.eye(grid, dtype=torch.bool)
    mins = [d[i:i + grid, i:i + grid].masked_fill(eye, float("inf")).min().item()
            for i in range(0, n - grid + 1, grid)]
    return mean, (sum(mins) / len(mins) if mins else float("nan"))


def gan_metrics(g: ImageGenerator, ims: ImageSet, n: int = 512,
                device: str | torch.device = "cpu") -> dict[str, float]:
    """SWD of G vs held-out crops, beside real-vs-real and an untrained G; the gap closed.

    The crops are drawn as in training (ims.crop_min: a built data set's manifest says it).
    """
    res = g.cfg.resolution
    crops = CropSampler(ims, res)
    real_a = crops.sample(n, torch.Generator().manual_seed(10_001))  # crop seeds unseen in training
    real_b = crops.sample(n, torch.Generator().manual_seed(10_002))
    torch.manual_seed(0)
    untrained = build_generator(g.cfg.to_dict()).to(device)
    fake = generate(g, n, 1, device)
    s_fake = swd(fake, real_a)
    s_real = swd(real_b, real_a)
    s_untr = swd(generate(untrained, n, 1, device), real_a)
    gap = (s_untr - s_fake) / max(s_untr - s_real, 1e-9)
    (div_fake, near_fake), (div_real, near_real) = diversity(fake), diversity(real_a)
    return {"swd": round(s_fake, 3), "swd_real_vs_real": round(s_real, 3),
            "swd_untrained": round(s_untr, 3), "gap_closed": round(gap, 4), "n_images": n,
            # Mode collapse shows as diversity_ratio well below 1; a repeat in a 16-image grid
            # as nearest_in_grid near 0 (real crops give nearest_in_grid_real).
            "diversity": round(div_fake, 4), "diversity_real": round(div_real, 4),
            "diversity_ratio": round(div_fake / max(div_real, 1e-9), 4),
            "nearest_in_grid": round(near_fake, 4), "nearest_in_grid_real": round(near_real, 4)}


# ----------------------------------------------------------------------------- text


@torch.no_grad()
def text_nats_per_char(model, ids: torch.Tensor, device: str | torch.device = "cpu",
                       streams: int = 32, chunk: int = 256) -> float:
    """Validation cross-entropy: ids split into parallel streams, state carried across chunks."""
    model.eval()
    n = (len(ids) - 1) // streams
    x = ids[: n * streams].view(streams, n).long()
    y = ids[1 : n * streams + 1].view(streams, n).long()
    state, total = None, 0.0
    for i in range(0, n, chunk):
        logits, state = model(x[:, i : i + chunk].to(device), state)
        total += float(F.cross_entropy(logits.float().flatten(0, 1),
                                       y[:, i : i + chunk].to(device).flatten(), reduction="sum"))
    return total / (n * streams)


def text_baselines(train_ids: torch.Tensor, val_ids: torch.Tensor, vocab: int) -> dict[str, float]:
    """Unigram (add-one) and bigram (interpolated) nats per character of val under train's counts.

    The bigram's weight is the best of a few on val itself: the strongest such baseline.
    """
    tr = train_ids.numpy().astype(np.int64)
    va = val_ids.numpy().astype(np.int64)
    uni = np.bincount(tr[1:], minlength=vocab).astype(float) + 1
    pu = uni / uni.sum()
    big = np.zeros((vocab, vocab))
    np.add.at(big, (tr[:-1], tr[1:]), 1)
    rows = big.sum(1, keepdims=True)
    pb = np.divide(big, rows, out=np.zeros_like(big), where=rows > 0)
    prev, nxt = va[:-1], va[1:]
    out = {"unigram_nats_per_char": float(-np.log(pu[nxt]).mean())}
    out["bigram_nats_per_char"] = min(
        float(-np.log(lam * pb[prev, nxt] + (1 - lam) * pu[nxt]).mean())
        for lam in (0.5, 0.7, 0.8, 0.9, 0.95, 0.98))
    return out


def text_metrics(model: TextRNN, train_ids: torch.Tensor, val_ids: torch.Tensor,
                 device: str | torch.device = "cpu") -> dict[str, float]:
    """Validation nats per character beside the unigram and bigram baselines of the data."""
    out: dict[str, float] = {"val_nats_per_char": round(text_nats_per_char(model, val_ids, device), 4),
                             "val_chars": len(val_ids)}
    base = text_baselines(train_ids, val_ids, len(model.cfg.vocab))
    out.update({k: round(v, 4) for k, v in base.items()})
    return out


# ----------------------------------------------------------------------------- music

KK_MAJOR = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
KK_MINOR = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])
SCALE = {"major": (0, 2, 4, 5, 7, 9, 11), "minor": (0, 2, 3, 5, 7, 8, 10, 11)}  # minor: + leading tone


def estimate_key(pitches: np.ndarray) -> tuple[int, str]:
    """Krumhansl-Schmuckler key finding: (tonic pitch class, 'major' or 'minor')."""
    h = np.bincount(np.asarray(pitches) % 12, minlength=12).astype(float)
    best = (-2.0, 0, "major")
    for mode, prof in (("major", KK_MAJOR), ("minor", KK_MINOR)):
        for t in range(12):
            r = np.corrcoef(h, np.roll(prof, t))[0, 1] if h.std() > 0 else 0.0
            if r > best[0]:
                best = (r, t, mode)
    return best[1], best[2]


def key_stats(pitch_lists: list[np.ndarray]) -> tuple[np.ndarray, float]:
    """Mean tonic-aligned pitch-class histogram, and the fraction of notes in each piece's key."""
    hists, inkey, total = [], 0, 0
    for p in pitch_lists:
        if len(p) < 8:
            continue
        tonic, mode = estimate_key(p)
        pc = (np.asarray(p) - tonic) % 12
        hists.append(np.bincount(pc, minlength=12) / len(pc))
        inkey += int(np.isin(pc, SCALE[mode]).sum())
        total += len(pc)
    if not hists:
        return np.full(12, 1 / 12), 0.0
    return np.mean(hists, axis=0), inkey / max(total, 1)


def music_streams(nc: NoteCorpus, vocab: EventVocab, tick_div: int, val: bool) -> list[np.ndarray]:
    """Event tokens of the held-out (val) or the training pieces."""
    return [encode_notes(nc.piece(i), vocab, int(nc.piece_style[i]), tick_div)
            for i in range(len(nc)) if nc.is_val(i) == val]


@torch.no_grad()
def music_ce(model: MusicRNN, seqs: list[np.ndarray], device, batch: int = 32,
             max_len: int = 2048) -> float:
    """Cross-entropy per event of the model on sequences (first token = style, not scored)."""
    model.eval()
    tot, cnt = 0.0, 0
    seqs = sorted((s[: max_len + 1] for s in seqs), key=len)
    for i in range(0, len(seqs), batch):
        grp = seqs[i : i + batch]
        t = max(len(s) for s in grp)
        x = torch.zeros(len(grp), t, dtype=torch.long)
        y = torch.full((len(grp), t), -100, dtype=torch.long)
        for j, s in enumerate(grp):
            x[j, : len(s)] = torch.from_numpy(s.astype(np.int64))
            y[j, : len(s) - 1] = torch.from_numpy(s[1:].astype(np.int64))
        y[y >= model.cfg.vocab.style0] = -100
        logits, _ = model(x.to(device))
        tot += float(F.cross_entropy(logits.float().flatten(0, 1), y.to(device).flatten(),
                                     ignore_index=-100, reduction="sum"))
        cnt += int((y != -100).sum())
    return tot / max(cnt, 1)


def ngram_baselines(uni_counts: np.ndarray, big: np.ndarray, val: list[np.ndarray],
                    style0: int) -> dict[str, float]:
    """Unigram (add-one) and bigram (interpolated with the unigram) cross-entropy on val.

    uni_counts (V,) and big (V, V) count the training targets and token pairs.
    """
    uni = uni_counts.astype(float) + 1  # add-one
    uni[style0:] = 0
    pu = uni / uni.sum()
    rows = big.sum(1, keepdims=True)
    pb = np.divide(big, rows, out=np.zeros_like(big, dtype=float), where=rows > 0)
    prev = np.concatenate([s[:-1] for s in val]).astype(np.int64)
    nxt = np.concatenate([s[1:] for s in val]).astype(np.int64)
    keep = nxt < style0
    prev, nxt = prev[keep], nxt[keep]
    out = {"unigram_ce": float(-np.log(pu[nxt]).mean())}
    best = math.inf
    for lam in (0.5, 0.7, 0.8, 0.9, 0.95, 0.98):  # the strongest bigram: tuned on val itself
        p = lam * pb[prev, nxt] + (1 - lam) * pu[nxt]
        best = min(best, float(-np.log(p).mean()))
    out["bigram_ce"] = best
    return out


def _train_counts(nc: NoteCorpus, cfg: MusicConfig) -> tuple[np.ndarray, np.ndarray]:
    """(unigram, bigram) counts of the training pieces: from the pieces, or a held-out cache's."""
    key = (cfg.vocab.n_styles, cfg.max_shift, cfg.n_velocity, cfg.steps_per_beat)
    if any(not nc.is_val(i) for i in range(len(nc))):
        return ngram_counts(nc, cfg.vocab, cfg.steps_per_beat).dense(cfg.vocab.size)
    if nc.ngram is None:
        raise ValueError("the music data has no training pieces and no n-gram counts for the "
                         "baselines: pass the full cache (python -m models.music_data)")
    if nc.ngram.key != key:
        raise ValueError(f"the held-out cache's n-gram counts are for the vocabulary {nc.ngram.key} "
                         f"(styles, max_shift, n_velocity, steps_per_beat), the model's is {key}: "
                         "pass the full cache (python -m models.music_data)")
    return nc.ngram.dense(cfg.vocab.size)


def music_metrics(model: MusicRNN, nc: NoteCorpus, device="cpu", samples_per_style: int = 4,
                  events: int = 400, seed: int = 0) -> dict[str, float]:
    """Validation CE beside unigram/bigram baselines; pitch-class and key figures of samples."""
    cfg = model.cfg
    tick_div = nc.ticks_per_beat // cfg.steps_per_beat
    val = music_streams(nc, cfg.vocab, tick_div, True)
    if not val:
        raise ValueError("the music data has no held-out pieces")
    val = [s[:2049] for s in val]  # long pieces: their first 2048 events, for model and n-grams
    out: dict[str, float] = {"val_pieces": len(val), "val_events": int(sum(len(s) - 1 for s in val))}
    out["val_ce"] = music_ce(model, val, device)
    uni, big = _train_counts(nc, cfg)
    out.update(ngram_baselines(uni, big, val, cfg.vocab.style0))
    out["vs_bigram"] = 1 - out["val_ce"] / out["bigram_ce"]
    corpus_pitches = [nc.piece(i)[:, 0] for i in range(len(nc)) if nc.is_val(i)]
    h_corpus, inkey_corpus = key_stats(corpus_pitches)
    cpu_model = model if str(device) == "cpu" else MusicRNN(cfg).eval()
    if cpu_model is not model:
        cpu_model.load_state_dict({k: v.cpu() for k, v in model.state_dict().items()})
    sampler = MusicSampler(cpu_model, seed=seed)
    gen_pitches = []
    for style in cfg.styles:
        for _ in range(samples_per_style):
            sampler.set_style(style)
            evs = [sampler.next_event() for _ in range(events)]
            gen_pitches.append(np.array([n.pitch for n in events_to_notes(evs, cfg.steps_per_beat)]))
    h_gen, inkey_gen = key_stats(gen_pitches)
    out["pc_hist_distance"] = float(0.5 * np.abs(h_gen - h_corpus).sum())  # total variation
    out["in_key_fraction"] = inkey_gen
    out["in_key_fraction_corpus"] = inkey_corpus
    return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in out.items()}
