"""The "why" behind a score: language, themes, sentiment and contradictions.

- Language: `lingua-language-detector`, restricted to Spanish, English and
  Portuguese (n-gram models shipped in the wheel, no download, fast Rust core).
- Themes: a :class:`Taxonomy` of keywords per language, matched case-, accent-
  and inflection-insensitively through Snowball stems (`snowballstemmer`).
- Sentiment: a small es/en/pt lexicon with negation, boosters, contrast
  ("bueno pero caro") and emoji, squashed into [−1, 1] like VADER's compound
  score. No multilingual sentiment model runs offline without a download; the
  accuracy on a labelled set is reported in ``docs/scoring.md``.
"""

from __future__ import annotations

import math
import re
import tomllib
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache, lru_cache
from importlib.resources import files
from typing import Final

import snowballstemmer  # type: ignore[import-untyped]
from lingua import Language, LanguageDetector, LanguageDetectorBuilder

from scoring import _lexicon
from scoring.classify import Category, classify

__all__ = [
    "CONTRADICTION_THRESHOLD",
    "DEFAULT_TAXONOMY",
    "LANGUAGES",
    "CommentAnalysis",
    "Taxonomy",
    "analyze_comment",
    "detect_language",
]

#: Languages the analysis knows.
LANGUAGES: Final = ("es", "en", "pt")
#: A comment is "clearly" negative (positive) below −t (above t): used for contradictions.
CONTRADICTION_THRESHOLD: Final = 0.35
#: Comments longer than this are cut before analysis (the gist is at the start).
MAX_COMMENT_CHARS: Final = 5000

#: Language detection reads at most this many characters: plenty to tell es/en/pt apart.
_DETECT_CHARS: Final = 400
_STEMMER_NAMES: Final = {"es": "spanish", "en": "english", "pt": "portuguese"}
_LINGUA: Final = {Language.SPANISH: "es", Language.ENGLISH: "en", Language.PORTUGUESE: "pt"}
_WORD: Final = re.compile(r"[a-z]+|[\U0001f300-\U0001faff\u2600-\u27bf]|[,.;:!?]")
_BREAK: Final = frozenset(",.;:!?")
_SUPERLATIVE: Final = re.compile(r"(\w{2,}?)(?:c|qu)?iss?im([oa])s?$")
# Portuguese "no"/"nos" mean "in the": not a negation there.
_NOT_NEGATORS: Final = {"pt": frozenset({"no", "nos"})}
_COMBINING: Final = re.compile("[\u0300-\u036f]+")


def _words(text: str) -> list[str]:
    """Folded words, emoji and clause punctuation; superlatives reduced ("carisimo" -> "caro")."""
    out = _WORD.findall(_fold(text))
    for i, w in enumerate(out):
        if len(w) > 6 and "sim" in w:
            m = _SUPERLATIVE.match(w)
            if m is not None:
                out[i] = m.group(1) + m.group(2)
    return out


def _fold(text: str) -> str:
    """Lower-case and strip accents ("Atención" -> "atencion"); apostrophes are dropped."""
    text = text.lower().replace("'", "").replace("\u2019", "")
    if text.isascii():
        return text
    return _COMBINING.sub("", unicodedata.normalize("NFD", unicodedata.normalize("NFC", text)))


@cache
def _stemmer(language: str) -> snowballstemmer.stemmer:
    return snowballstemmer.stemmer(_STEMMER_NAMES[language])


@lru_cache(maxsize=65536)
def _stem(language: str, word: str) -> str:
    stem: str = _stemmer(language).stemWord(word)
    return stem


@cache
def _detector() -> LanguageDetector:
    return LanguageDetectorBuilder.from_languages(*_LINGUA).with_preloaded_language_models().build()


def detect_language(text: str) -> str | None:
    """Return ``"es"``, ``"en"`` or ``"pt"`` for ``text``, or ``None`` when unsure or wordless."""
    if not any(c.isalpha() for c in text):
        return None
    found = _detector().detect_language_of(text[:_DETECT_CHARS])
    return _LINGUA.get(found) if found is not None else None


def _confidence(text: str, language: Language) -> float:
    value: float = _detector().compute_language_confidence(text, language)
    return value


# --------------------------------------------------------------------------- taxonomy
@dataclass(frozen=True, slots=True)
class Theme:
    """One theme: its key, its label per language and its keywords per language."""

    key: str
    labels: Mapping[str, str]
    keywords: Mapping[str, tuple[str, ...]]


@dataclass(frozen=True, slots=True)
class Taxonomy:
    """Themes a business cares about, with keywords in es/en/pt.

    Build it from configuration with :meth:`from_mapping` or :meth:`from_toml`; the
    mapping shape is ``{theme_key: {"label": {lang: str}, "keywords": {lang: [str]}}}``.
    """

    themes: tuple[Theme, ...]
    # language -> first word -> [(word sequence, theme index, sequence is stemmed)]
    _index: Mapping[str, Mapping[str, tuple[tuple[tuple[str, ...], int, bool], ...]]] = field(
        repr=False, compare=False
    )

    @property
    def keys(self) -> tuple[str, ...]:
        """Theme keys, in the taxonomy's order."""
        return tuple(t.key for t in self.themes)

    def label(self, key: str, language: str = "en") -> str:
        """The label of theme ``key`` in ``language`` (falls back to English, then the key)."""
        for theme in self.themes:
            if theme.key == key:
                return theme.labels.get(language) or theme.labels.get("en") or key
        raise KeyError(key)

    @classmethod
    def from_mapping(cls, mapping: Mapping[str, object]) -> Taxonomy:
        """Build a taxonomy from a configuration mapping; bad shapes raise ``ValueError``."""
        if not isinstance(mapping, Mapping) or not mapping:
            raise ValueError("a taxonomy is a non-empty mapping of theme keys to themes")
        themes: list[Theme] = []
        for key, spec in mapping.items():
            if not isinstance(key, str) or not key:
                raise ValueError(f"theme key must be a non-empty string, not {key!r}")
            if not isinstance(spec, Mapping):
                raise ValueError(f"theme {key!r} must be a mapping with 'label' and 'keywords'")
            labels = spec.get("label", {})
            if isinstance(labels, str):
                labels = {"en": labels}
            if not isinstance(labels, Mapping) or not all(
                isinstance(v, str) for v in labels.values()
            ):
                raise ValueError(f"theme {key!r}: 'label' must map languages to strings")
            raw_keywords = spec.get("keywords")
            if not isinstance(raw_keywords, Mapping) or not raw_keywords:
                raise ValueError(f"theme {key!r}: 'keywords' must map languages to lists")
            keywords: dict[str, tuple[str, ...]] = {}
            for lang, words in raw_keywords.items():
                if lang not in LANGUAGES:
                    raise ValueError(f"theme {key!r}: unknown language {lang!r}")
                if isinstance(words, str) or not isinstance(words, Iterable):
                    raise ValueError(f"theme {key!r}: keywords.{lang} must be a list of strings")
                words = tuple(words)
                if not all(isinstance(w, str) and w.strip() for w in words):
                    raise ValueError(f"theme {key!r}: keywords.{lang} must be non-empty strings")
                keywords[lang] = words
            themes.append(Theme(key, dict(labels), keywords))
        return cls(tuple(themes), _build_index(themes))

    @classmethod
    def from_toml(cls, text: str) -> Taxonomy:
        """Build a taxonomy from TOML text with one table per theme (see ``taxonomy.toml``)."""
        return cls.from_mapping(tomllib.loads(text))

    def merged(self, mapping: Mapping[str, object]) -> Taxonomy:
        """A copy where the themes of ``mapping`` replace (or are added to) these themes."""
        own: dict[str, object] = {
            t.key: {
                "label": dict(t.labels),
                "keywords": {k: list(v) for k, v in t.keywords.items()},
            }
            for t in self.themes
        }
        return Taxonomy.from_mapping(own | dict(mapping))

    def match(self, words: list[str], languages: Iterable[str]) -> tuple[str, ...]:
        """Theme keys whose keywords occur in the folded ``words``, in taxonomy order."""
        hits: set[int] = set()
        languages = tuple(languages)
        for n, lang in enumerate(languages):
            index = self._index.get(lang)
            if not index:
                continue
            # The comment's own language is matched by stems; the others (code-switching,
            # "el delivery") only by exact folded words, to avoid cross-language stem clashes.
            primary = n == 0
            seen = [_stem(lang, w) for w in words] if primary else words
            for i, s in enumerate(seen):
                for seq, theme, stemmed in index.get(s, ()):
                    if stemmed and not primary:
                        continue
                    if theme not in hits and tuple(seen[i : i + len(seq)]) == seq:
                        hits.add(theme)
        return tuple(self.themes[i].key for i in sorted(hits))


def _build_index(
    themes: list[Theme],
) -> dict[str, dict[str, tuple[tuple[tuple[str, ...], int, bool], ...]]]:
    index: dict[str, dict[str, list[tuple[tuple[str, ...], int, bool]]]] = {}
    for n, theme in enumerate(themes):
        for lang, words in theme.keywords.items():
            for keyword in words:
                folded = [w for w in _words(keyword) if w not in _BREAK]
                stems = tuple(_stem(lang, w) for w in folded)
                # a very short stem ("com" of "comida") would match unrelated words
                if not folded:
                    continue
                variants = [(tuple(folded), n, False)]
                if min(map(len, stems)) >= 4:  # "com" (of "comida") would match "com"
                    variants.append((stems, n, True))
                for entry in variants:
                    index.setdefault(lang, {}).setdefault(entry[0][0], []).append(entry)
    return {lang: {k: tuple(v) for k, v in d.items()} for lang, d in index.items()}


DEFAULT_TAXONOMY: Final = Taxonomy.from_toml(
    files("scoring").joinpath("taxonomy.toml").read_text(encoding="utf-8")
)


# --------------------------------------------------------------------------- sentiment
def _stemmed_lexicon() -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {}
    for lang, words in _lexicon.VALENCE.items():
        out[lang] = {_stem(lang, w): v for w, v in words.items()}
        out[lang].update(words)  # the exact form wins over a shared stem
    return out


_VALENCE: Final = _stemmed_lexicon()
_EMOJI: Final = _lexicon.EMOJI
#: A complaint phrased as a bare negation ("nunca llegó", "didn't help") leans negative.
_DANGLING_NEGATION: Final = 1.0


def _sentiment(words: list[str], languages: tuple[str, ...], known: bool) -> float:
    total = 0.0
    negate_left = 0
    dangling = False  # a negation that has not met a sentiment word yet: "nunca llegó"
    boost = 1.0
    weight = 1.0
    not_negators = _NOT_NEGATORS.get(languages[0], frozenset()) if known else frozenset()
    for word in words:
        if word in _BREAK:
            if dangling:
                total -= _DANGLING_NEGATION * weight
            negate_left, dangling, boost = 0, False, 1.0
            continue
        if word in _EMOJI:
            total += _EMOJI[word] * weight
            continue
        if word in _lexicon.CONTRAST:
            total *= 0.5
            weight = 1.5
            negate_left = 0
            continue
        if word in _lexicon.NEGATORS and word not in not_negators:
            negate_left = 3
            dangling = dangling or word not in _lexicon.PREPOSITION_NEGATORS
            continue
        if word in _lexicon.BOOSTERS:
            boost = _lexicon.BOOSTERS[word]
            continue
        value = 0.0
        for lang in languages:
            lex = _VALENCE[lang]
            found = lex.get(word)
            if found is None:
                found = lex.get(_stem(lang, word))
            if found is not None:
                value = found
                break
        if value:
            value *= boost
            if negate_left:
                value *= -0.75
                negate_left = 0
                dangling = False
            total += value * weight
            boost = 1.0
        elif negate_left:
            negate_left -= 1
    if dangling:
        total -= _DANGLING_NEGATION * weight
    if total == 0.0:
        return 0.0
    return max(-1.0, min(1.0, total / math.sqrt(total * total + 15.0)))


# --------------------------------------------------------------------------- analysis
@dataclass(frozen=True, slots=True)
class CommentAnalysis:
    """What a comment says: language, themes (taxonomy keys), sentiment in [−1, 1].

    ``contradiction`` is True only when a score was given and the comment clearly
    says the opposite (a 9–10 with a clearly negative comment, a 0–6 with a
    clearly positive one).
    """

    language: str | None
    themes: tuple[str, ...]
    sentiment: float
    contradiction: bool

    def to_dict(self) -> dict[str, object]:
        """A JSON-ready dictionary."""
        return {
            "language": self.language,
            "themes": list(self.themes),
            "sentiment": self.sentiment,
            "contradiction": self.contradiction,
        }


def analyze_comment(
    text: str,
    language: str | None = None,
    *,
    score: int | None = None,
    taxonomy: Taxonomy | None = None,
) -> CommentAnalysis:
    """Analyse a customer's comment.

    ``language`` (``"es"``/``"en"``/``"pt"``) skips detection when known; ``score``
    (0–10, validated like :func:`scoring.classify`) enables the contradiction flag;
    ``taxonomy`` defaults to :data:`DEFAULT_TAXONOMY`.
    """
    if score is not None:
        category = classify(score)
    taxonomy = DEFAULT_TAXONOMY if taxonomy is None else taxonomy
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, not {type(text).__name__}")
    text = text[:MAX_COMMENT_CHARS]
    words = _words(text)
    if isinstance(language, str):
        language = language[:2].lower()  # "pt-BR" -> "pt"
    lang = language if language in LANGUAGES else None
    sure = lang is not None
    if lang is None and words:
        lang = detect_language(text)
        # Portuguese "no" is "in the" but Spanish "no" is "no": only trust a confident "pt".
        sure = lang != "pt" or "no" not in words or _confidence(text, Language.PORTUGUESE) >= 0.8
    order = (lang, *(x for x in LANGUAGES if x != lang)) if lang else LANGUAGES
    themes = taxonomy.match([w for w in words if w not in _BREAK], order)
    sentiment = _sentiment(words, order, sure)
    contradiction = score is not None and (
        (category is Category.PROMOTER and sentiment <= -CONTRADICTION_THRESHOLD)
        or (category is Category.DETRACTOR and sentiment >= CONTRADICTION_THRESHOLD)
    )
    return CommentAnalysis(lang, themes, round(sentiment, 4), contradiction)
