"""Generated sequence tasks: the adding problem and the copy task (long-range memory), and
string-to-string tasks for sequence to sequence (reversal, addition, date-format translation).

Numeric tasks take a typed PRNG key (jittable: they can be generated on the device each step);
string tasks take an integer seed (numpy), so the data is a pure function of the seed.
"""

from collections.abc import Sequence
import dataclasses
import datetime
import functools

import jax
import jax.numpy as jnp
import numpy as np

PAD_ID, BOS_ID, EOS_ID = 0, 1, 2
_SPECIALS = ("<pad>", "<bos>", "<eos>")


@dataclasses.dataclass(frozen=True)
class Vocabulary:
    """Character vocabulary with ids pad=0, bos=1, eos=2, then ``symbols`` in order."""

    symbols: str

    def __post_init__(self):
        if len(set(self.symbols)) != len(self.symbols):
            raise ValueError(f"vocabulary symbols must be distinct, got {self.symbols!r}")

    @property
    def size(self) -> int:
        """Number of ids: the special tokens (pad, bos, eos) plus the symbols."""
        return len(_SPECIALS) + len(self.symbols)

    def encode(self, text: str) -> list[int]:
        """Ids of the characters of ``text`` (no bos / eos)."""
        try:
            return [len(_SPECIALS) + self.symbols.index(ch) for ch in text]
        except ValueError:
            bad = sorted(set(text) - set(self.symbols))
            raise ValueError(
                f"characters {bad} are not in the vocabulary {self.symbols!r}"
            ) from None

    def token(self, i: int) -> str:
        """The symbol of one id, or its special name (``<pad>``, ``<bos>``, ``<eos>``)."""
        i = int(i)
        return _SPECIALS[i] if i < len(_SPECIALS) else self.symbols[i - len(_SPECIALS)]

    def decode(self, ids: Sequence[int]) -> str:
        """Text of ``ids`` up to the first eos, skipping pad and bos."""
        out = []
        for i in (int(i) for i in ids):
            if i == EOS_ID:
                break
            if i >= len(_SPECIALS):
                out.append(self.symbols[i - len(_SPECIALS)])
        return "".join(out)


@functools.partial(jax.jit, static_argnums=(1, 2))
def adding_problem(key: jax.Array, num_examples: int, T: int):
    """The adding problem (Hochreiter & Schmidhuber 1997, exp. 4; the form of Le et al. 2015).

    Each input step is (value ~ U[0, 1], marker); two steps are marked, one in each half of the
    sequence; the target is the sum of the two marked values.

    Returns:
      ``x (N, T, 2) float32, y (N,) float32``.
    """
    if T < 2:
        raise ValueError(f"the adding problem needs T >= 2, got T={T}")
    k_v, k_a, k_b = jax.random.split(key, 3)
    values = jax.random.uniform(k_v, (num_examples, T))
    first = jax.random.randint(k_a, (num_examples,), 0, T // 2)
    second = jax.random.randint(k_b, (num_examples,), T // 2, T)
    t = jnp.arange(T)[None, :]
    marker = ((t == first[:, None]) | (t == second[:, None])).astype(values.dtype)
    return jnp.stack([values, marker], axis=-1), jnp.sum(values * marker, axis=1)


def adding_success_rate(pred_N: jax.Array, y_N: jax.Array, tol: float = 0.04) -> jax.Array:
    """Fraction of sequences with absolute error below ``tol`` (0.04 as in Hochreiter 1997)."""
    return jnp.mean(jnp.abs(pred_N - y_N) < tol)


@functools.partial(jax.jit, static_argnums=(1, 2, 3, 4))
def copy_task(
    key: jax.Array, num_examples: int, T: int, num_symbols: int = 8, copy_length: int = 10
):
    """The copy task with lag T (Hochreiter & Schmidhuber 1997; the form of Arjovsky et al. 2016).

    Alphabet: 0 blank, 1..num_symbols data, num_symbols + 1 the "go" delimiter. Input: L data
    symbols, T - 1 blanks, the delimiter, L blanks; target: T + L blanks, then the L symbols.
    A memoryless baseline (blanks, then uniform guesses) has cross-entropy
    L log(num_symbols) / (T + 2L).

    Returns:
      ``x (N, T + 2L) int32, y (N, T + 2L) int32``.
    """
    if T < 1 or copy_length < 1:
        raise ValueError(f"the copy task needs T >= 1 and copy_length >= 1, got {T}, {copy_length}")
    L = copy_length
    data = jax.random.randint(key, (num_examples, L), 1, num_symbols + 1)
    blanks = lambda n: jnp.zeros((num_examples, n), jnp.int32)
    go = jnp.full((num_examples, 1), num_symbols + 1, jnp.int32)
    x = jnp.concatenate([data, blanks(T - 1), go, blanks(L)], axis=1)
    y = jnp.concatenate([blanks(T + L), data], axis=1)
    return x, y


def reversal_pairs(
    seed: int, num_examples: int, min_len: int = 3, max_len: int = 8, alphabet: str = "abcdefghij"
) -> list[tuple[str, str]]:
    """Random strings and their reversals, e.g. ("abc", "cba")."""
    rng = np.random.default_rng(seed)
    lengths = rng.integers(min_len, max_len + 1, num_examples)
    pairs = []
    for n in lengths:
        s = "".join(rng.choice(list(alphabet), n))
        pairs.append((s, s[::-1]))
    return pairs


def addition_pairs(seed: int, num_examples: int, max_digits: int = 3) -> list[tuple[str, str]]:
    """Additions written as strings, e.g. ("123+45", "168"), operands of 1..max_digits digits."""
    rng = np.random.default_rng(seed)
    pairs = []
    for _ in range(num_examples):
        a, b = (int(rng.integers(0, 10 ** int(rng.integers(1, max_digits + 1)))) for _ in range(2))
        pairs.append((f"{a}+{b}", str(a + b)))
    return pairs


_MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_DATE_FORMATS = (
    lambda d: f"{d.day} {_MONTHS[d.month - 1]} {d.year}",
    lambda d: f"{_MONTHS[d.month - 1]} {d.day}, {d.year}",
    lambda d: f"{d.day} {_MONTHS[d.month - 1][:3]} {d.year}",
    lambda d: f"{_MONTHS[d.month - 1][:3].lower()} {d.day:02d} {d.year}",
    lambda d: f"{d.day:02d}/{d.month:02d}/{d.year}",
    lambda d: f"{d.day}.{d.month}.{str(d.year)[2:]}",
    lambda d: f"{_DAYS[d.weekday()]}, {_MONTHS[d.month - 1]} {d.day}, {d.year}",
    lambda d: f"{_DAYS[d.weekday()][:3]} {d.day} {_MONTHS[d.month - 1][:3]} {d.year}",
)
DATE_SOURCE_ALPHABET = "".join(
    sorted(set("0123456789 ,./" + "".join(_MONTHS) + "".join(_DAYS) + "".join(_MONTHS).lower()))
)


def date_pairs(seed: int, num_examples: int) -> list[tuple[str, str]]:
    """Dates written by humans and in ISO 8601, e.g. ("Monday, May 3, 1999", "1999-05-03").

    Dates are uniform over 1950-2049 (the two-digit-year format reads as 19xx / 20xx only
    through the other formats); formats are drawn uniformly from eight common ones.
    """
    rng = np.random.default_rng(seed)
    start, span = (
        datetime.date(1950, 1, 1),
        (datetime.date(2049, 12, 31) - datetime.date(1950, 1, 1)).days,
    )
    pairs = []
    for _ in range(num_examples):
        d = start + datetime.timedelta(days=int(rng.integers(0, span + 1)))
        fmt = _DATE_FORMATS[int(rng.integers(0, len(_DATE_FORMATS)))]
        pairs.append((fmt(d), d.isoformat()))
    return pairs


def make_string_task(name: str, seed: int, num_examples: int, **kwargs):
    """A seq2seq string task by name: "reversal", "addition" or "date".

    Returns:
      ``(pairs, src_vocab, tgt_vocab)``.
    """
    if name == "reversal":
        alphabet = kwargs.get("alphabet", "abcdefghij")
        voc = Vocabulary(alphabet)
        return reversal_pairs(seed, num_examples, **kwargs), voc, voc
    if name == "addition":
        return (
            addition_pairs(seed, num_examples, **kwargs),
            Vocabulary("0123456789+"),
            Vocabulary("0123456789"),
        )
    if name == "date":
        return (
            date_pairs(seed, num_examples, **kwargs),
            Vocabulary(DATE_SOURCE_ALPHABET),
            Vocabulary("0123456789-"),
        )
    raise ValueError(f"string task {name!r} is unknown; accepted: reversal, addition, date")


def encode_pairs(
    pairs: Sequence[tuple[str, str]], src_vocab: Vocabulary, tgt_vocab: Vocabulary
) -> dict[str, np.ndarray]:
    """Pads encoded pairs into arrays for teacher forcing.

    Returns:
      dict with ``src (N, S)``, ``src_lengths (N,)``, ``tgt_in (N, T)`` = [bos, y],
      ``tgt_out (N, T)`` = [y, eos] and ``tgt_mask (N, T)`` (True on real tokens and the eos);
      S is the longest source, T the longest target + 1. int32, padded with ``PAD_ID``.
    """
    src = [src_vocab.encode(s) for s, _ in pairs]
    tgt = [tgt_vocab.encode(t) for _, t in pairs]
    N, S, T = len(pairs), max(map(len, src)), max(map(len, tgt)) + 1
    out = {
        k: np.full((N, n), PAD_ID, np.int32) for k, n in (("src", S), ("tgt_in", T), ("tgt_out", T))
    }
    for n, (s, t) in enumerate(zip(src, tgt)):
        out["src"][n, : len(s)] = s
        out["tgt_in"][n, : len(t) + 1] = [BOS_ID] + t
        out["tgt_out"][n, : len(t) + 1] = t + [EOS_ID]
    out["src_lengths"] = np.array([len(s) for s in src], np.int32)
    out["tgt_mask"] = np.arange(T)[None, :] < (np.array([len(t) for t in tgt]) + 1)[:, None]
    return out
