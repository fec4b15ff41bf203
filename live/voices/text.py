"""The text voice: a character RNN streamed at a steady rate as characters, words and lines.

The engine thread keeps a short buffer of generated characters filled; the scheduler thread
takes one character per 1/rate seconds and sends it, and each word and line as it completes.
In a form (`/text/form`: couplets, quatrain, haiku, sonnet) whole lines are written ahead by
constrained decoding (models/verse.py), in short slices of the engine thread's time, and each
stanza's end goes out as a blank line and `/text/stanza`.
"""

from __future__ import annotations

import asyncio
import logging
import math
import string
import threading
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import torch

from live.analysis import text as text_analysis
from live.analysis.hub import add_params as add_analysis_params
from live.io.osc import Route
from live.params import BoolParam, ChoiceParam, FloatParam, Param, ParamError, Registry, StringParam
from live.runtime import Runtime
from live.voices.kit import ModelVoice, load_model, seed_for
from models.forms import FORMS
from models.text_rnn import TextConfig, TextRNN, TextSampler
from models.verse import STANZA_BREAK, FormStream, VerseWriter, default_prosody

log = logging.getLogger("livegen.text")

MAX_PRIME_CHARS = 2000  # an audience prompt longer than this is refused
MAX_TEMPERATURES = 16
BUFFER_S = 0.5  # generated characters kept ready, in seconds of streaming
MAX_WORD = 200  # a "word" this long is sent anyway (an untrained model may never space)
MAX_LINE = 400
MAX_THEME_CHARS = 200  # a theme is a few words, not a text (that is what /text/prime is for)
FORM_BUFFER_S = 4.0  # in a form, lines are written this far ahead (a line is a burst of work)
FORM_SLICE_S = 0.03  # engine-thread time one job may spend on a form's line before yielding


class TemperatureParam(Param):
    """A temperature, or a list of them cycled one per character (as textgenrnn does)."""

    def __init__(self, path: str, default: float, doc: str, lo: float, hi: float) -> None:
        self.lo, self.hi = lo, hi
        super().__init__(path, default, doc, "float")

    def validate(self, value: Any) -> float | tuple[float, ...]:
        expected = (f"a number in [{self.lo:g}, {self.hi:g}] or a list of up to "
                    f"{MAX_TEMPERATURES} such numbers")
        many = isinstance(value, (list, tuple))
        items = list(value) if many else [value]
        if not 1 <= len(items) <= MAX_TEMPERATURES:
            raise self.refuse(value, expected)
        out = []
        for x in items:
            if isinstance(x, bool) or not isinstance(x, (int, float)) or not math.isfinite(x) \
                    or not self.lo <= x <= self.hi:
                raise self.refuse(value, expected)
            out.append(float(x))
        return out[0] if len(out) == 1 else tuple(out)

    def schema(self) -> dict[str, Any]:
        return super().schema() | {"range": [self.lo, self.hi]}


@dataclass
class ThemeParam(StringParam):
    """A theme the voice writes on: some words, refused when empty or only white space."""

    def __post_init__(self) -> None:
        self.value = self.base = self.default  # "": no theme until one is set

    def validate(self, value: Any) -> str:
        text = super().validate(value)
        if not text.strip():
            raise ParamError(f"{self.path}: an empty theme refused, expected some words "
                             f"(at most {self.max_len} characters)")
        return " ".join(text.split())


def untrained_text_model(spec: dict[str, Any]) -> tuple[torch.nn.Module, dict[str, Any]]:
    """A small untrained char RNN over printable ASCII."""
    vocab = "\n" + "".join(c for c in string.printable if c not in "\t\n\r\x0b\x0c")
    cfg = TextConfig(vocab=vocab, n_embd=16, hidden=64, layers=1, dropout=0.0)
    return TextRNN(cfg), cfg.to_dict()


def load_text_model(spec: dict[str, Any], device: torch.device) -> tuple[Any, dict]:
    """The char RNN a voice's patch table names, and its card; runs on the engine thread."""
    return load_model("text", spec, device, untrained_text_model)


class TextGen:
    """A sampler and the count of characters drawn: deterministic given restarts and settings."""

    def __init__(self, model: TextRNN, voice: str, seed: int) -> None:
        self.model = model
        self.voice = voice
        self.seed = seed
        self.restarts = 0
        self.events = 0  # characters sampled since the voice began
        self.sampler: TextSampler | None = None
        self.form = FORMS["free"]
        self.writer: VerseWriter | None = None
        self._stream: Iterator[str | None] | None = None
        self._settings: tuple[float | tuple[float, ...], float] = (0.8, 0.95)

    def restart(self, prime: str = "", form: str = "free") -> dict[str, Any]:
        """A fresh sampler, fed the prime (unknown characters skipped), writing in a form."""
        self.restarts += 1
        self.sampler = TextSampler(self.model, seed_for(self.seed, self.voice, self.restarts))
        fed = self.sampler.prime(prime) if prime else 0
        self.form = FORMS[form]
        self.writer, self._stream = None, None
        if not self.form.free:
            pron, index = default_prosody()
            self.writer = VerseWriter(self.sampler, pron, index)
            self._stream = FormStream(self.writer, self.form).chars(self._now)
        out: dict[str, Any] = {"op": "restart", "prime": prime, "fed": fed}
        return out | ({"form": form} if not self.form.free else {})

    def _now(self) -> tuple[float, float]:
        """The temperature (a list cycled per character) and top-p for the next draw."""
        temperature, top_p = self._settings
        temps = temperature if isinstance(temperature, tuple) else (temperature,)
        return temps[self.events % len(temps)], top_p

    def step(self, temperature: float | tuple[float, ...], top_p: float) -> str:
        assert self.sampler is not None
        self._settings = (temperature, top_p)
        if self._stream is not None:
            c = None
            while c is None:
                c = next(self._stream)
            self.events += 1
            return c
        t, _ = self._now()
        self.events += 1
        return self.sampler.next_char(t, top_p)

    def pump(self, temperature: float | tuple[float, ...], top_p: float, n: int,
             deadline: float) -> list[str]:
        """Up to n characters; in a form, only what is ready by the deadline (perf_counter)."""
        if self._stream is None:
            return [self.step(temperature, top_p) for _ in range(n)]
        self._settings = (temperature, top_p)
        out: list[str] = []
        while len(out) < n and time.perf_counter() < deadline:
            c = next(self._stream)
            if c is not None:
                self.events += 1
                out.append(c)
        return out


class TextVoice(ModelVoice):
    """One text voice; the event loop posts jobs, the engine fills, the scheduler streams."""

    kind = "text"
    model_kind = "text"
    untrained_note = "UNTRAINED model: expect random characters, not poetry"

    def __init__(self, name: str, spec: dict[str, Any], rt: Runtime) -> None:
        super().__init__(name, spec, rt)
        self.analyser = text_analysis.TextAnalyser()
        self.scheduler = rt.scheduler
        self.gen: TextGen | None = None
        self._buffer: deque[tuple[int, str]] = deque()  # (restart number, character)
        self._lock = threading.Lock()
        self._ops: deque[str] = deque()  # primes (strings) for the next job
        self._last_prime = ""  # what the latest restart was primed with (a form change keeps it)
        self._prosody = threading.Event()  # the dictionary and rhyme index are loaded
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loading = False  # a thread is loading the dictionary
        self.form_name = "free"  # the form the text being written is in
        self._word: list[str] = []
        self._line: list[str] = []
        self._next_due = 0.0
        self._playing = False
        self._last_settings: tuple[Any, float] | None = None
        self._sent: deque[float] = deque(maxlen=4000)
        self.chars_sent = 0
        self.gen_s = 0.0
        self.gen_chars = 0

    def untrained(self, spec: dict[str, Any]) -> tuple[torch.nn.Module, dict[str, Any]]:
        return untrained_text_model(spec)

    def warm_up(self, model: torch.nn.Module) -> None:
        TextSampler(model).next_char()  # type: ignore[arg-type]

    async def load(self) -> None:
        """Load the model; a patch that names a form also loads the dictionary before ready."""
        await super().load()
        if str(self.spec.get("form", "free")) != "free":
            await asyncio.to_thread(default_prosody)
            self._prosody.set()

    def add_params(self, registry: Registry) -> None:
        p, add = f"/{self.name}", registry.add
        add_analysis_params(registry, self.name, text_analysis.RANGES, strings=("last_word",))
        self.temperature = add(TemperatureParam(
            f"{p}/temperature", 0.8, "sampling temperature, or a list cycled per character",
            lo=0.05, hi=2.5))
        self.top_p = add(FloatParam(f"{p}/top_p", 0.95, "nucleus: keep the most likely "
                                    "characters that together hold this probability",
                                    lo=0.05, hi=1.0))
        self.rate = add(FloatParam(f"{p}/rate", 12.0, "characters per second", lo=0.5, hi=200))
        self.prime = add(StringParam(f"{p}/prime", "", "text the voice continues from",
                                     max_len=MAX_PRIME_CHARS))
        self.reset = add(BoolParam(f"{p}/reset", False, "forget the text so far (any value)"))
        self.play = add(BoolParam(f"{p}/play", True, "start and stop the voice"))
        self.form = add(ChoiceParam(f"{p}/form", "free", "the form lines are written in: "
                                    + "; ".join(f"{f.name}: {f.doc}" for f in FORMS.values()),
                                    choices=tuple(FORMS)))
        self.theme = add(ThemeParam(f"{p}/theme", "", "a theme to write on: primes the voice "
                                    "afresh with these words", max_len=MAX_THEME_CHARS))
        registry.watch(self.prime.path, lambda c: self._restart(c.value))
        registry.watch(self.theme.path, lambda c: self._restart(c.value + "\n"))
        registry.watch(self.form.path, lambda c: self._restart(self._last_prime))
        registry.watch(self.reset.path, lambda c: self._restart(""))
        registry.watch(self.play.path, lambda c: self._set_playing(c.value))

    def osc_routes(self) -> dict[str, Route]:
        """OSC addresses that are not parameters: /text/reset needs no argument."""
        return {f"/{self.name}/reset": lambda args, sender: self.rt.registry.set(
            self.reset.path, True, source="osc")}

    # -- life cycle -------------------------------------------------------------------
    def begin(self) -> None:
        self._loop = asyncio.get_running_loop()
        model = self.rt.engine.models[self.engine_key]
        assert isinstance(model, TextRNN)
        self.gen = TextGen(model, self.name, self.rt.seed)
        if not self._ops:  # a prime set by the patch is queued already
            self._ops.append(self.prime.value)
        self.start_ticker()
        self._set_playing(self.play.value)

    async def stop(self) -> None:
        self.stop_ticker()
        self._set_playing(False)

    def _set_playing(self, on: bool) -> None:
        self.scheduler.cancel(self.name)
        self._playing = bool(on) and self.gen is not None
        if self._playing:
            self._next_due = time.monotonic() + 0.05
            self.scheduler.at_time(self._next_due, self.name, self._emit)
            self.post_job()

    def _restart(self, prime: str) -> None:
        self._last_prime = prime
        with self._lock:
            self._buffer.clear()  # what the old context would have said is never said
            self._ops.append(prime)
        self.post_job()

    def _form_for_restart(self) -> str:
        """The form a restart writes in now: free until the dictionary is loaded (in a thread)."""
        form = self.form.value
        if form == "free" or self._prosody.is_set():
            return form
        if self._loop is not None and not self._loading:
            self._loading = True
            loop = self._loop

            def load() -> None:
                default_prosody()
                self._prosody.set()
                loop.call_soon_threadsafe(lambda: self._restart(self._last_prime))

            threading.Thread(target=load, name=f"{self.name}-prosody", daemon=True).start()
        return "free"

    def tick(self) -> None:
        if self._playing or self._ops:
            self.post_job()

    # -- the engine thread ------------------------------------------------------------------
    def job(self) -> None:
        gen = self.gen
        assert gen is not None
        while self._ops:
            self.log_gen(gen.restart(self._ops.popleft(), self._form_for_restart()))
            self.form_name = gen.form.name
            with self._lock:
                self._buffer.clear()
        if not self._playing:
            return
        if gen.sampler is None:
            self.log_gen(gen.restart(""))
        settings = (self.temperature.value, self.top_p.value)
        if settings != self._last_settings:
            self._last_settings = settings
            temp = list(settings[0]) if isinstance(settings[0], tuple) else settings[0]
            self.log_gen({"op": "settings", "temperature": temp, "top_p": settings[1]})
        ahead = BUFFER_S if gen.form.free else FORM_BUFFER_S
        want = max(8, math.ceil(self.rate.value * ahead)) - len(self._buffer)
        t0 = time.perf_counter()
        chars = gen.pump(*settings, max(0, want), t0 + FORM_SLICE_S)
        self.gen_s += time.perf_counter() - t0
        self.gen_chars += len(chars)
        with self._lock:
            if not self._ops:  # a prime arrived meanwhile: these belong to the old context
                self._buffer.extend((gen.restarts, c) for c in chars)

    # -- the scheduler thread ------------------------------------------------------------------
    def _emit(self, due: float) -> None:
        if not self._playing:
            return
        # Keep the grid; after a stall, start a fresh one rather than burst to catch up.
        self._next_due = max(due + 1.0 / self.rate.value, time.monotonic())
        self.scheduler.at_time(self._next_due, self.name, self._emit)
        with self._lock:
            if not self._buffer:
                return  # generation is behind: skip a beat of text, never burst
            restart, ch = self._buffer.popleft()
        if ch == STANZA_BREAK:  # a blank line, announced as the stanza's end
            self._send("char", "\n", restart)
            self._send("stanza", self.form_name, restart)
            return
        self._send("char", ch, restart)
        if ch.isspace() or len(self._word) >= MAX_WORD:
            if self._word:
                self._send("word", "".join(self._word), restart)
                self._word = []
        if not ch.isspace():
            self._word.append(ch)
        if ch == "\n" or len(self._line) >= MAX_LINE:
            self._send("line", "".join(self._line), restart)
            self._line = []
        if ch not in "\r\n":
            self._line.append(ch)

    def _send(self, kind: str, text: str, restart: int) -> None:
        self.rt.osc_out.send(f"/{self.name}/{kind}", text)
        if kind == "line" and self.rt.analysis is not None:
            self.rt.analysis.publish_threadsafe(self.name, "text", self.analyser.line(text))
        self.rt.events.publish_threadsafe("text", {"op": "text", "voice": self.name,
                                                   "kind": kind, "text": text})
        if kind == "char":
            self.chars_sent += 1
            self._sent.append(time.monotonic())
        recorder = self.rt.recorder
        if recorder is not None:
            recorder.text(self.name, kind, text, recorder.t(), restart)

    # -- status ---------------------------------------------------------------------------
    def status(self) -> dict[str, Any]:
        now = time.monotonic()
        recent = [t for t in list(self._sent) if t > now - 5.0]
        cps = self.gen_chars / self.gen_s if self.gen_s > 0 else None
        gen = self.gen
        return self.model_status() | {
            "events_per_s": round(len(recent) / 5.0, 3), "chars": self.chars_sent,
            "rate": self.rate.value, "playing": self._playing, "form": self.form_name,
            "lines_given_up": gen.writer.gave_up if gen is not None and gen.writer else 0,
            "gen_chars_per_s": round(cps, 1) if cps else None,
            "gen_speed_x": round(cps / self.rate.value, 1) if cps else None,
        }

