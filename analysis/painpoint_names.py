"""Words for pain points: a name the members wrote, as an analyst would put it, and quotes.

A name is a 2-5 word run from the group's clauses ("nobody called back",
"engineer did not turn up", "lost my bag") that

* holds at least one of the group's complaint anchors (what the group is about),
* keeps its negation: a phrase never starts within three words after "not",
  "never", "nobody" or a "n't" word, which would turn "nobody called back"
  into "called back" and "never got the call back" into "call back",
* reads on its own: it neither starts nor ends on a filler word and never
  runs across "but", "so" or "and" into a new subject,
* names no @handle seen in the data and no word said clearly more often
  outside complaints (thanks, love, great), and is not a sentiment word alone.

Among those, the phrase said by most members and fewest members of other
groups wins (class-based TF-IDF, as in the previous method); a group without
one is named after its strongest anchor word.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence

import numpy as np

from analysis import complaint_terms as terms

#: Members read per group to name it: bounds time on big surveys.
NAMING_SAMPLE = 1500
#: A phrase may not start this close after a negation, which it would leave out.
NEGATION_REACH = 3
#: A word said this much more surely outside complaints (z below) never goes in a name.
Z_NAME_FLOOR = -2.0

_STOP = terms.STOP_WORDS
# "turned up", "cut off", "sent out": a verb's particle may end a name.
_PARTICLES = frozenset({"up", "off", "out", "down", "over", "back"})
# A name may not start with these (they make it read like a torn-off sentence) ...
_BAD_FIRST = _STOP - {"no", "not", "never", "nobody", "nothing", "on", "off", "too", "out", "down", "up",
                      "more", "over", "once", "only", "same", "very", "after", "before", "without", "as"}
# ... nor end with these.
_BAD_LAST = (_STOP - _PARTICLES) | terms.NEGATORS | {
    "because", "being", "took", "take", "make", "made", "said", "say", "went", "go", "come", "came", "want",
    "wanted", "need", "needed", "tried", "try", "seems", "seem", "like", "every", "another", "kept", "keep",
    "still", "got", "get", "getting", "yet", "now", "please", "just", "ever", "again",
    # words that need what follows them: "engineer was supposed" (to come), "was meant", "not able"
    "supposed", "meant", "able", "unable", "going", "due", "trying",
}
# A name never runs across these (they join two thoughts) ...
_BREAKS = frozenset({"but", "so", "because", "although", "though", "however", "whereas", "except", "and", "or",
                     "then", "while", "when", "if", "like"})
# ... nor across "and" into a new subject ("month and it took").
_PRONOUNS = frozenset({"i", "it", "we", "they", "he", "she", "you", "this", "that", "there"})
_LEADING_CONJUNCTION = re.compile(r"^\s*(?:but|however|although|though|yet|whereas|except|and|so)\b[\s,]*", re.I)


def name_groups(groups: list[list[int]], words: list[list[str]], anchor_units: list[dict[str, float]], *,
                z_of: dict[str, float], excluded: frozenset[str], seed: int = 0) -> list[str | None]:
    """One name per group (None when the group has nothing an analyst could call it)."""
    samples = [_sample(group, words, seed) for group in groups]
    counts: list[Counter] = []
    rates: Counter = Counter()
    phrases_of: dict[int, set] = {}
    for sample, units in zip(samples, anchor_units):
        found: Counter = Counter()
        fits: dict[tuple[str, ...], bool] = {}  # a phrase said by many members is judged once
        for i in sample:
            if i not in phrases_of:
                phrases_of[i] = _phrases(words[i])
            for p in phrases_of[i]:
                ok = fits.get(p)
                if ok is None:
                    ok = fits[p] = _fits(p, units, z_of, excluded)
                if ok:
                    found[p] += 1
        counts.append(found)
        rates.update({p: c / len(sample) for p, c in found.items()})
    names: list[str | None] = []
    for sample, found, units in zip(samples, counts, anchor_units):
        best = _best(found, rates, len(sample), lambda p: _weight(p, units))
        names.append(" ".join(best) if best else _word_name(sample, words, units, excluded))
    return names


def _sample(group: Sequence[int], words: list[list[str]], seed: int) -> list[int]:
    """Up to :data:`NAMING_SAMPLE` members; the same text pasted twenty times is one voice, not twenty."""
    chosen = group
    if len(group) > NAMING_SAMPLE:
        rng = np.random.default_rng(seed)
        chosen = sorted(rng.choice(np.asarray(group), size=NAMING_SAMPLE, replace=False).tolist())
    return list({" ".join(words[i]): i for i in chosen}.values())


def _phrases(tokens: list[str]) -> set[tuple[str, ...]]:
    """Candidate names in one clause: 2-5 word runs that read as a phrase on their own."""
    found = set()
    n = len(tokens)
    for i in range(n):
        if tokens[i] in _BAD_FIRST or not tokens[i][0].isalpha():
            continue
        if any(terms.is_negator(t) for t in tokens[max(0, i - NEGATION_REACH):i]):
            continue  # "called back" after "nobody", "call back" in "never got the call back": keep the negation
        for j in range(i + 2, min(n, i + 5) + 1):
            last = tokens[j - 1]
            if not last[0].isalpha() or last in _BREAKS or (last in _PRONOUNS and tokens[j - 2] == "and"):
                break
            if j < n and tokens[j] in _PARTICLES:
                continue  # "turned" without its "up" is a torn phrasal verb
            if last not in _BAD_LAST and not last.endswith("n't") and not _adverb(last):
                found.add(tuple(tokens[i:j]))
    return found


def _adverb(word: str) -> bool:
    """"painfully", "really": a name ending on one is cut off before what it qualifies."""
    return len(word) > 5 and word.endswith("ly") and not word.endswith(("ply", "ily", "bly"))


def _fits(phrase: tuple[str, ...], units: dict[str, float], z_of: dict[str, float], excluded) -> bool:
    """Holds an anchor of the group, no name, no word of contentment, not only a feeling."""
    content = [w for w in phrase if terms.is_content(w)]
    stems = [terms.stem(w) for w in content]
    if not any(s in units for s in stems):
        return False
    if any(w in excluded or s in excluded or z_of.get(s, 0.0) < Z_NAME_FLOOR for w, s in zip(content, stems)):
        return False
    feeling = terms.sentiment_stems()
    return any(s not in feeling for s in stems)


def _weight(phrase: tuple[str, ...], units: dict[str, float]) -> float:
    """Phrases that say more of what the group is about weigh more; beyond three words, length costs."""
    content = sum(1 for w in phrase if terms.is_content(w) or terms.is_negator(w))
    anchored = len({terms.stem(w) for w in phrase if terms.is_content(w)} & units.keys())
    return (1 + 0.5 * (anchored - 1)) * (1 + 0.2 * (content - 1)) / (1 + 0.25 * max(0, len(phrase) - 3))


def _best(counts: Counter, rates: Counter, size: int, weight):
    """The item said at least twice with the best rate × distinctiveness × ``weight``; ties by order."""
    best, best_score = None, 0.0
    for item, count in sorted(counts.items()):
        if count < 2:
            continue
        rate = count / size
        # How much more this group says it than the other groups do.
        distinct = rate / (rates[item] - rate + 1 / size)
        score = rate * math.log1p(distinct) * weight(item)
        if score > best_score:
            best, best_score = item, score
    return best


def _word_name(sample: list[int], words: list[list[str]], units: dict[str, float], excluded) -> str | None:
    """The commonest written form of the group's most said anchor word (not a sentiment word alone)."""
    feeling = terms.sentiment_stems()
    for unit in sorted(units, key=lambda u: (-units[u], u)):
        if unit in feeling or unit in excluded:
            continue
        forms = Counter(w for i in sample for w in words[i] if terms.is_content(w) and terms.stem(w) == unit)
        if forms:
            return sorted(forms.items(), key=lambda kv: (-kv[1], kv[0]))[0][0]
    return None


def phrase_contains(tokens: list[str], phrase: list[str]) -> bool:
    n = len(phrase)
    return any(tokens[i:i + n] == phrase for i in range(len(tokens) - n + 1))


def tidy_quote(text: str, limit: int = 240) -> str:
    """The clause as written, minus a leading "but"/"although", capitalised, at most ``limit`` characters."""
    text = " ".join(_LEADING_CONJUNCTION.sub("", text).split())
    if len(text) > limit:
        text = text[: limit - 1].rsplit(" ", 1)[0] + "…"
    return text[:1].upper() + text[1:]


def quotes_for(group, label, clauses, words, weighted, limit: int = 3) -> list[str]:
    """Up to three clauses from different answers: naming phrase first, then nearest the group's centre.

    A quote shows the complaint, and a clause the model only leans to call negative ("call centre
    were exceptional" from a 10) may be the praise the pain point's words also come up in: the
    naming phrase comes first only in clauses at least as surely negative as the group's median
    one, and nearness is weighed by how surely the clause is negative. Read from an evenly spread sample of a big
    group (bounds time and memory).
    """
    if len(group) > NAMING_SAMPLE:
        group = group[:: math.ceil(len(group) / NAMING_SAMPLE)]
    centre = np.asarray(weighted[group].mean(axis=0)).ravel()
    closeness = weighted[group] @ centre
    phrase = label.split()
    negativity = np.fromiter((clauses[i].negativity for i in group), dtype=np.float64, count=len(group))
    typical = float(np.median(negativity))
    ranked = sorted(
        range(len(group)),
        key=lambda k: (
            not (negativity[k] >= typical and phrase_contains(words[group[k]], phrase)),
            not 4 <= len(words[group[k]]) <= 30,
            -float(closeness[k]) * negativity[k],
            group[k],
        ),
    )
    quotes, seen_responses, seen_words = [], set(), []
    for k in ranked:
        clause = clauses[group[k]]
        text = tidy_quote(clause.text)
        said = set(words[group[k]])
        # Three ways of saying it, not one remark three times.
        if not text or clause.response_id in seen_responses or any(_jaccard(said, w) > 0.75 for w in seen_words):
            continue
        quotes.append(text)
        seen_responses.add(clause.response_id)
        seen_words.append(said)
        if len(quotes) == limit:
            break
    return quotes


def _jaccard(a: set[str], b: set[str]) -> float:
    return len(a & b) / (len(a | b) or 1)
