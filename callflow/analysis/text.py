"""Word-level helpers shared by the offline analyzer and the evaluation: tokens, a light stemmer
and the *content words* of a phrase (what names the action, without function words, numbers,
dates or generic verbs), so "went running twice" and "go for a run" share the word `run`."""

from __future__ import annotations

import re

_TOKEN = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")

# Irregular forms mapped to the stem the suffix rules give the base form.
_IRREGULAR = {
    "ran": "run",
    "went": "go",
    "gone": "go",
    "did": "do",
    "done": "do",
    "does": "do",
    "wrote": "writ",
    "written": "writ",
    "write": "writ",
    "writing": "writ",
    "swam": "swim",
    "swum": "swim",
    "ate": "eat",
    "eaten": "eat",
    "slept": "sleep",
    "made": "mak",
    "took": "tak",
    "taken": "tak",
    "bought": "buy",
    "brought": "bring",
    "spoke": "speak",
    "spoken": "speak",
    "sent": "send",
    "spent": "spend",
    "paid": "pay",
    "found": "find",
    "got": "get",
    "gotten": "get",
    "kept": "keep",
    "left": "leav",
    "met": "meet",
    "felt": "feel",
    "thought": "think",
    "taught": "teach",
    "rode": "rid",
    "drove": "driv",
    "driven": "driv",
    "drank": "drink",
    "drunk": "drink",
    "told": "tell",
    "sold": "sell",
    "began": "begin",
    "begun": "begin",
    "practice": "practis",
    "practiced": "practis",
    "practicing": "practis",
    "practise": "practis",
    "practised": "practis",
    "practising": "practis",
    "jog": "run",
    "jogging": "run",
    "jogged": "run",
    "jogs": "run",
    "mom": "mum",
    "mother": "mum",
    "mommy": "mum",
    "mummy": "mum",
    "father": "dad",
    "daddy": "dad",
    "news": "news",
}

_DOUBLE = re.compile(r"([bdfgmnprt])\1$")


def stem(word: str) -> str:
    """A crude suffix-stripping stem: good enough to match run/running/runs, meditate/meditated."""
    w = word.lower().replace("\u2019", "'")
    if w.endswith("'s"):
        w = w[:-2]
    if w in _IRREGULAR:
        return _IRREGULAR[w]
    suffixes = (("ations", "at"), ("ation", "at"), ("ies", "y"), ("ied", "y"), ("ing", ""))
    for suffix, repl in (*suffixes, ("ed", ""), ("es", ""), ("s", "")):
        if w.endswith(suffix) and len(w) - len(suffix) + len(repl) >= 3:
            if suffix == "s" and w.endswith(("ss", "us", "is")):
                continue
            if suffix == "es" and not w.endswith(("ches", "shes", "xes", "sses", "oes", "zes")):
                continue
            w = w[: len(w) - len(suffix)] + repl
            if suffix in ("ing", "ed") and _DOUBLE.search(w):
                w = w[:-1]
            break
    if len(w) > 3 and w.endswith("e"):
        w = w[:-1]
    return _IRREGULAR.get(w, w)


def tokens(text: str) -> list[str]:
    return _TOKEN.findall(text.lower().replace("\u2019", "'"))


NUMBER_WORDS = {
    "zero": 0,
    "none": 0,
    "a": 1,
    "an": 1,
    "one": 1,
    "once": 1,
    "two": 2,
    "twice": 2,
    "three": 3,
    "thrice": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "thirteen": 13,
    "fourteen": 14,
    "fifteen": 15,
    "twenty": 20,
    "thirty": 30,
    "forty": 40,
    "fifty": 50,
    "hundred": 100,
}

_STOPWORDS = frozenset(
    """
    a an the and or but if of to in on at by for with from into onto about after before over
    under up down out off again also too as well than then so just only even still really very
    quite more most less some any all every each other another this that these those it its
    i me my mine myself we us our you your he him his she her they them their there here what
    which who whom when where why how not no nor yes yeah ok okay sure please thanks thank
    be am is are was were been being have has had having do does did doing done will would shall
    should can could may might must get got getting go going gone went make made try tried
    start started keep kept let lets let's want need like one ones thing things stuff lot bit
    i'll i'm i've i'd it's that's there's we'll you'll don't didn't won't can't couldn't
    time times day days week weeks weekend weekends month year today tonight tomorrow yesterday
    morning mornings evening evenings night nights afternoon afternoons lunchtime daily weekly
    weekday weekdays monday tuesday wednesday thursday friday saturday sunday mondays tuesdays
    wednesdays thursdays fridays saturdays sundays next last first second third whole least
    minute minutes hour hours am pm o'clock now soon later once twice
    something anything everything nothing someone stuff
    """.split()
)
_STOPSTEMS = frozenset(stem(w) for w in _STOPWORDS) | frozenset({"do", "go", "get", "mak", "tak"})


_PHRASAL = frozenset({"get", "go", "mak", "tak", "do"})
_PARTICLES = frozenset({"up", "out", "off", "back", "down", "over", "away"})


def content_words(text: str) -> set[str]:
    """Stems of the words that name the action: no function words, numbers, dates or generic
    verbs (do, go, get, make, take, try, keep, start) unless they form a phrasal verb with a
    particle ("get up" -> `get_up`)."""
    out: set[str] = set()
    toks = tokens(text)
    for i, tok in enumerate(toks):
        s = stem(tok)
        if s in _PHRASAL and i + 1 < len(toks) and toks[i + 1] in _PARTICLES:
            out.add(f"{s}_{toks[i + 1]}")  # "get up" is an action, "get" alone is not
            continue
        if tok in _STOPWORDS or tok in NUMBER_WORDS or tok.isdigit():
            continue
        if s in _STOPSTEMS or len(s) < 2:
            continue
        out.add(s)
    return out


def overlap(expected: str, predicted: str) -> float:
    """Share of `expected`'s content words that `predicted` has too (0..1). Two phrases without
    content words match (1.0) only when their normalised words are equal."""
    e, p = content_words(expected), content_words(predicted)
    if not e:
        return 1.0 if tokens(expected) == tokens(predicted) else 0.0
    return len(e & p) / len(e)
