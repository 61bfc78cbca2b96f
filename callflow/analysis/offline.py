"""The offline analyzer: rule-based, no model, named as such in every record it writes.

It exists so a whole call runs with no keys and no internet. It is a heuristic, measured on the
labelled transcripts in tests/analysis/transcripts (`callflow eval analysis`), and reads:

- verdicts: each user sentence is attributed to the due commitment it names (content-word
  overlap), else to the one the agent's last turn asked about (the agent's words matched against
  each commitment's text, falling back to the order of asking for "how did the first one go?").
  Its stance comes from the answer's words: yes/done/"I did" -> kept; no/"didn't"/"not yet"/
  "skipped it" -> broken; partly/"some days"/"half"/"most days"/"three out of five"/a count below
  the commitment's -> partly; "didn't miss a day" -> kept. A self-correction ("yes, well, no,
  actually...") keeps the stance after the last correction; a mix of kept and broken is partly.
  A commitment the user never answered about stays unclear.
- new commitments: "I'll", "I will", "I'm going to", "I commit to"... followed by an action
  (hedged "maybe I'll", "I'll think about it", "I'm going to be honest" and "I'm going to Lisbon"
  are not), an agent's proposal the user accepts ("Would you like to commit to X?" "Yes"), or an
  agent's "when will you X?" answered with a date. Dates follow callflow.analysis.dates.
- mood: negation-aware word lists ("not happy" is not good).

A call in which the user said nothing changes nothing: no updates, no new commitments.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date

from callflow.analysis import dates as dates_mod
from callflow.analysis.dates import When, parse_when
from callflow.analysis.text import NUMBER_WORDS, content_words, tokens
from callflow.models import Commitment
from callflow.ports import CallAnalysis, CommitmentUpdate, NewCommitment

PROVIDER = "offline rule-based analyzer (no LLM)"

KEPT, BROKEN, PARTLY, UNCLEAR = "kept", "broken", "partly", "unclear"

# --- normalisation -------------------------------------------------------------------------

_FILLERS = re.compile(
    r"\b(?:uh+|um+|umm+|erm+|er|hmm+|mm+)\b,?\s*|(?:^|(?<=,))\s*you know,\s*", re.I
)
_LIKE_FILLER = re.compile(r",\s*like,", re.I)
# Turns of phrase that look like promises but announce candour: read as a correction marker.
_CANDOUR = re.compile(
    r"\b(?:i'm|i am) (?:going to|gonna) be (?:honest|frank|straight|real)(?: with you)?"
    r"|\bi'll be (?:honest|frank|straight|real)(?: with you)?"
    r"|\b(?:i'm|i am) not (?:going to|gonna) lie"
    r"|\bi won't lie"
    r"|\bi(?:'ll| will) admit|\bi (?:have to|must|gotta) (?:say|admit)"
    r"|\bi'll tell you (?:what|the truth|something)|\bi'll say this",
    re.I,
)
# Words that look like a stance and are not: "no problem", "fully booked".
_NO_STANCE = re.compile(
    r"\bno (?:problem|problems|worries|doubt|question|matter|pressure|rush|kidding)\b"
    r"|\b(?:fully|all) booked\b|\bbooked up\b|\bno longer\b",
    re.I,
)


def _normalise(text: str) -> str:
    t = text.replace("\u2019", "'").replace("\u2018", "'")
    t = _LIKE_FILLER.sub(",", t)
    t = _FILLERS.sub("", t)
    t = _CANDOUR.sub("honestly", t)
    return re.sub(r"\s+", " ", t).strip()


_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\.{3}|…")


def _sentences(text: str) -> list[str]:
    return [s.strip(" ,") for s in _SENTENCE_END.split(text) if s and s.strip(" ,.!?")]


# --- due commitments ----------------------------------------------------------------------

_LIMIT = re.compile(r"\b(?:cut (?:down|back)|no more than|at most|max(?:imum)?|less|fewer|limit)\b")
_COUNT_UNITS = (
    r"times?|days?|nights?|mornings?|evenings?|sessions?|runs?|workouts?|classes|jobs?|goals?"
    r"|calls?|walks?|swims?|lessons?|chapters?|books?|meals?|visits?|applications?"
)
_NUM = (
    r"zero|none|once|twice|thrice|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve"
    r"|\d+"
)
_COMMITMENT_COUNT = re.compile(rf"\b(?:(?P<n>{_NUM}) (?:{_COUNT_UNITS})\b|(?P<w>once|twice)\b)")
_DAILY_WORDS = re.compile(r"\b(?:every|each) (?:single )?(?:day|night|morning|evening)\b|\bdaily\b")
_WEEKDAY_WORDS = re.compile(r"\b(?:on |every )?weekdays?\b")


def _number(word: str) -> int | None:
    if word.isdigit():
        return int(word)
    return NUMBER_WORDS.get(word)


@dataclass
class _Due:
    commitment: Commitment
    words: set[str]
    count: int | None  # how many times the commitment asked for, when it says


def _profile(c: Commitment) -> _Due:
    text = c.text.lower()
    count: int | None = None
    if not _LIMIT.search(text):
        m = _COMMITMENT_COUNT.search(text)
        if m:
            count = _number(m.group("n") or m.group("w"))
        elif _WEEKDAY_WORDS.search(text):
            count = 5
        elif _DAILY_WORDS.search(text):
            count = 7
    return _Due(c, content_words(c.text), count)


# --- stance ---------------------------------------------------------------------------------

_WD = "monday|tuesday|wednesday|thursday|friday|saturday|sunday"
_STANCE_PATTERNS: list[tuple[str, str, bool]] = [
    # (regex, stance, strong); at one position the first listed wins.
    (
        r"\b(?:didn't|did not|never|not once did i) (?:miss|skip|fail|forget)(?:ed)?"
        r"(?: it| (?:a|one|any|a single) (?:day|night|morning|evening|time|session))?"
        r"(?:,? not (?:once|one day))?\b",
        KEPT,
        True,
    ),
    (
        r"\bnever (?:missed|skipped|forgot|failed)(?: it| a day| one)?"
        r"(?:,? not (?:once|one day))?\b"
        r"|\bwithout (?:missing|skipping|fail)\b",
        KEPT,
        True,
    ),
    (
        rf"\b(?:missed|skipped|forgot) (?:only |just )?(?:(?:one|a|two|a couple of|a few|three)"
        rf" (?:days?|nights?|mornings?|evenings?|times?|sessions?)|once|twice"
        rf"|(?:on )?(?:{_WD}|the weekend)|(?:one|two|a couple) of them)\b",
        PARTLY,
        True,
    ),
    (r"\byeah,? no\b", BROKEN, True),
    (
        r"\bnot (?:done|finished|completed|yet|really|at all|once|a single (?:time|day|one)"
        r"|even once|so much|much|great|well|happening)\b",
        BROKEN,
        True,
    ),
    (r"\bnot (?:every|all|always)\b", PARTLY, True),
    (
        r"\b(?:partly|partially|halfway|half(?! time| an hour| past)|some days|some nights"
        r"|some mornings|some evenings|some of (?:it|them|the time)|most days|most nights"
        r"|most mornings|most evenings|most of (?:it|them|the time|the week|the days)|mostly"
        r"|kind of|sort of|kinda|sorta|more or less|except|on and off|hit and miss"
        r"|here and there|now and then|a few times|a couple of times"
        r"|the rest of the (?:week|time|days)|that's it|that was it|not as (?:much|often)"
        r"|otherwise|apart from|other than|aside from"
        rf"|until (?:{_WD}|the weekend|midweek|the end of the week|halfway))\b",
        PARTLY,
        True,
    ),
    (
        r"\b(?:skipped|missed|dropped|ditched) (?:it|them|all|the whole|every)\b"
        r"|\bgave up\b|\bfell off\b|\bblew it\b|\bslacked\b|\bnone of (?:it|them|that)\b"
        r"|\bfell (?:apart|through)\b|\bwent out the window\b|\bdidn't work out\b"
        r"|\bnothing\b|\bzero\b",
        BROKEN,
        True,
    ),
    (r"\bforgot\b(?! to\b)", BROKEN, True),
    (r"\b(?:no|nope|nah|never)\b", BROKEN, True),
    (
        r"\b(?:yes|yep|yup|yeah|yea|sure did|of course|absolutely|definitely)\b(?! not\b)",
        KEPT,
        True,
    ),
    (
        r"\b(?:i|we|it|that) did\b(?! not\b)|\bdid it\b|\bmade it\b|\bmanaged (?:it|to)\b",
        KEPT,
        True,
    ),
    (
        rf"\ball (?:of them|of it|(?:{_NUM})(?: \w+)?)\b|\bboth\b|\bevery single one\b"
        r"|\b(?:done|finished|completed|nailed it|accomplished|all done|sorted|booked)\b",
        KEPT,
        True,
    ),
    (
        r"\bi tried\b(?! to\b)|\b(?:have|need|got) to \w+(?: \w+)? again\b"
        r"|\bstill (?:have|need) to\b",
        BROKEN,
        False,
    ),
    (r"\b(?:terrible|terribly|awful|badly|a disaster|rubbish|horrible)\b", BROKEN, False),
    (r"\bstill (?:\w+ing)\b|\bin progress\b|\bhalf done\b", PARTLY, False),
    (
        r"\bevery (?:single )?(?:day|night|morning|evening|time|week)\b|\brain or shine\b"
        r"|\blike i said i would\b|\bas planned\b",
        KEPT,
        False,
    ),
]
_STANCE = re.compile("|".join(f"(?P<s{i}>{p})" for i, (p, _, _) in enumerate(_STANCE_PATTERNS)))
_NEGATED_ACTION = re.compile(
    r"\b(?:didn't|did not|couldn't|could not|haven't|have not|hasn't|has not|wasn't able to"
    r"|weren't able to|was not able to|failed to|forgot to|never got (?:round |around )?to"
    r"|didn't get (?:round |around )?to|didn't manage to|couldn't manage to)"
    r"(?:\s+(?:even|really|actually|quite|manage to|get to|get round to|get around to))*"
    r"(?:\s+(?P<verb>[a-z']+))?"
)
_GENERIC_ACTIONS = frozenset(
    "do it that this them any anything one go make get happen finish start try manage much "
    "even yet at all".split()
)
# What a negation must follow to be about the user's own doing: "I (just) didn't", "it didn't
# happen", or nothing at all ("No, didn't.").
_OWN_SUBJECT = re.compile(r"(?:^|[,;:]\s*|\b(?:i|we|it|that|this)(?: \w+)?\s+)$")
_NOT_EVEN_ONCE = re.compile(r"\b(?:once|at all|all week|a single time|even once|one bit)\b")
_FEW_OF_THEM = re.compile(
    rf"^(?:to |for |with |on |in )?(?:only |just )?(?P<n>{_NUM}) of them[.!?]*$"
)
_CONTRAST = re.compile(
    r"\bi \w+(?:ed|ent|ote|ound|ought|ade|an|id)\b[^.]*?\bbut (?:i )?"
    r"(?:haven't|didn't|have not|did not|couldn't|not)\b"
)
_CORRECTION = re.compile(
    r"\b(?:actually|wait|i mean|scratch that|well,? no|no wait|hang on|honestly|to be honest"
    r"|if i'm honest|truth is|come to think of it)\b"
)
_COUNT_X_OF_Y = re.compile(rf"\b(?P<x>{_NUM}) (?:out )?of (?:the |my )?(?P<y>{_NUM})\b")
_NOT_A_COUNT = (
    r"(?! (?:minutes?|hours?|pages?|k|km|kilometres?|kilometers?|miles?|litres?|liters?"
    r"|o'clock|pm|am|more|of them|of those|thousand))"
)
_COUNT_LEADING = re.compile(
    rf"^(?:(?:oh|well|yeah|so|only|just|maybe|about|around|like|probably|i think|the),? )*"
    rf"(?P<n>{_NUM})\b{_NOT_A_COUNT}"
)
_COUNT_AFTER_VERB = re.compile(
    r"\b(?:i|we) (?:only |just |probably |maybe )?(?:\w+ed|went|did|did go|ran|wrote|read|swam"
    r"|made|had|got|managed|practised|did it|went there)(?: it| them| go| that| there)?,?"
    rf" (?:like,? )?(?:only |just |maybe |about |around )?(?P<n>{_NUM})\b{_NOT_A_COUNT}"
)
_INITIAL_PAST = re.compile(
    r"^(?:(?:oh|yeah|yes|so|well|and),? )*([a-z]+ed|sent|paid|wrote|ran|swam|went|did|made|took"
    r"|bought|read|kept|got|spoke|met|rode|drove|found)\b(?! not\b)"
)
_PAST_AFFIRMATIVE = re.compile(
    r"\b(?:i|we) (?:was|were|\w+ed|went|did|ran|wrote|read|swam|made|had|got|kept|took|spent)\b"
)


@dataclass
class _Event:
    stance: str
    strong: bool
    pos: int  # increasing over the whole call
    sentence: str
    turn: int = 0


@dataclass
class _Reading:
    events: list[_Event] = field(default_factory=list)
    corrections: list[tuple[int, int]] = field(default_factory=list)  # (turn, pos)


def _count_stance(n: int | None, wanted: int | None) -> str | None:
    if n is None or wanted is None:
        return None
    if n == 0:
        return BROKEN
    return KEPT if n >= wanted else PARTLY


def _sentence_events(
    sentence: str, due: _Due, offset: int, original: str
) -> tuple[list[_Event], list[int]]:
    """Stance events (and correction positions) that `sentence` holds about `due`."""
    s = _NO_STANCE.sub(" ", sentence.lower())
    events: list[_Event] = []
    taken: list[tuple[int, int]] = []

    def add(stance: str, strong: bool, span: tuple[int, int]) -> None:
        if any(span[0] < b and span[1] > a for a, b in taken):
            return
        taken.append(span)
        events.append(_Event(stance, strong, offset + span[0], original))

    for m in _COUNT_X_OF_Y.finditer(s):
        x, y = _number(m.group("x")), _number(m.group("y"))
        if x is not None and y:
            add(KEPT if x >= y else BROKEN if x == 0 else PARTLY, True, m.span())
    few = _FEW_OF_THEM.search(s.strip())
    if few and (stance := _count_stance(_number(few.group("n")), due.count)):
        add(stance, True, few.span("n"))
    lead = _COUNT_LEADING.search(s)
    if lead and (stance := _count_stance(_number(lead.group("n")), due.count)):
        add(stance, True, lead.span("n"))
    for m in _COUNT_AFTER_VERB.finditer(s):
        if stance := _count_stance(_number(m.group("n")), due.count):
            add(stance, True, m.span())
    for m in _CONTRAST.finditer(s):
        add(PARTLY, True, m.span())
    for m in _NEGATED_ACTION.finditer(s):
        if not _OWN_SUBJECT.search(s[: m.start()]):
            taken.append(m.span())  # "he hasn't called back": not the user's doing
            continue
        verb = m.group("verb")
        if verb and verb.startswith(("miss", "skip", "fail", "forget")):
            continue  # "didn't miss a day": a double negation, read by the patterns below
        rest = re.split(r"[,;]| but ", s[m.end() :], maxsplit=1)[0]
        if (
            verb is None
            or verb in _GENERIC_ACTIONS
            or content_words(verb) & due.words
            or _NOT_EVEN_ONCE.search(rest)
        ):
            add(BROKEN, True, m.span())
        else:
            taken.append(m.span())  # "couldn't sleep": not about the commitment
    for m in _STANCE.finditer(s):
        index = int(next(k for k, v in m.groupdict().items() if v is not None)[1:])
        _, stance, strong = _STANCE_PATTERNS[index]
        if stance == PARTLY and m.group(0) in ("almost", "nearly"):
            continue
        add(stance, strong, m.span())
    if re.match(r"^(?:almost|nearly)\b", s):
        add(PARTLY, True, (0, 6))
    initial = _INITIAL_PAST.match(s)
    if initial and content_words(initial.group(1)) & due.words:
        add(KEPT, True, initial.span(1))  # "Submitted it on Friday."
    if not events and due.words & content_words(s) and _PAST_AFFIRMATIVE.search(s):
        own_negation = any(_OWN_SUBJECT.search(s[: m.start()]) for m in _NEGATED_ACTION.finditer(s))
        if "?" not in s and not own_negation and not re.search(r"\b(?:not|never)\b", s):
            events.append(_Event(KEPT, False, offset, original))  # "I was in bed by eleven"
    events.sort(key=lambda e: e.pos)
    corrections = [offset + m.start() for m in _CORRECTION.finditer(s)]
    return events, corrections


def _verdict(reading: _Reading) -> tuple[str, str]:
    """The stance and the user's words that justify it."""
    strong = [e for e in reading.events if e.strong]
    events = strong or reading.events
    if not events:
        return UNCLEAR, ""
    # A self-correction ("yes, well, no, actually I skipped it") keeps what follows it, when
    # the same answer goes on to take a stance after it.
    for turn, c in sorted(reading.corrections, reverse=True):
        if any(e.pos > c and e.turn == turn for e in events):
            events = [e for e in events if e.pos > c]
            break
    stances = {e.stance for e in events}
    if PARTLY in stances or {KEPT, BROKEN} <= stances:
        verdict = PARTLY
    else:
        verdict = KEPT if KEPT in stances else BROKEN
    evidence: list[str] = []
    for e in events:
        if e.sentence not in evidence:
            evidence.append(e.sentence)
    return verdict, " ".join(evidence)


# --- agent turns ----------------------------------------------------------------------------

_NEW_PROMPT = re.compile(
    r"\b(?:anything (?:new|else)|what(?:'s| is) next|next (?:thing|step)|on your list"
    r"|(?:commit|committing) to|take on|what(?:'s| is) the (?:plan|goal)|for next week"
    r"|for the (?:coming|next) (?:days|week)|what would you like to (?:do|try|add)"
    r"|what do you want to (?:do|try|add)|like to add|what would help)\b",
    re.I,
)
_CHECK_IN = re.compile(
    r"\b(?:how did (?:it|that|this|everything|things|the \w+(?: \w+)?|your \w+(?: \w+)?) go"
    r"|how(?:'s| is| was) (?:it|that|everything|your week|the week) (?:going|go)?"
    r"|how was your week|how did you get on|did you (?:do|manage|get|make|keep|stick|finish|do it)"
    r"|were you able|did it happen|(?:the|and the|what about the|how about the)"
    r" (?:first|second|third|fourth|last|other|next) one|your (?:commitments|list|goals))\b",
    re.I,
)
# Questions about what comes next, not about what happened: an answer is no verdict.
_FORWARD = re.compile(
    r"\b(?:would you like|do you want|want to|will you|shall we|could you|can you"
    r"|when (?:will|would|could|can|do) you|are you going to|going forward|from now on"
    r"|(?:how|what) about \w+ing|why not)\b",
    re.I,
)
_PAST = re.compile(
    r"\b(?:did you|have you|were you|how did|how was|how's|how is|how has|how have|did it"
    r"|did the|was it)\b",
    re.I,
)
_ORDINAL_ONE = re.compile(r"\b(first|second|third|fourth|last|other|next) one\b", re.I)
_ALL_OF_THEM = re.compile(
    r"\b(?:commitments|everything|all of them|your list|your goals|both (?:of )?them|all three"
    r"|all two|all four|all of it)\b",
    re.I,
)
_PROPOSAL = re.compile(
    r"\b(?:would you like to|do you want to|want to|could you|can you|will you|shall we"
    r"|how about|what about|why not) (?:commit to |try to |try |add |start )?(?P<x>[^?]+)\?"
    r"|(?:^|[.!] )(?P<x2>(?:the )?same (?:again|goal|thing|target|plan)|(?:go|try) again"
    r"|keep (?:it|that) (?:up|going)|again next week)\?",
    re.I,
)
_WHEN_QUESTION = re.compile(
    r"\bwhen (?:will|would|could|can|do|are) you (?:think (?:you(?:'ll| will| can| could| would)"
    r" )?|be able to |going to |planning to )?(?P<x>[^?]+)\?",
    re.I,
)
_WHEN_ASKED = re.compile(
    r"\b(?:when|which day|what day|what time|by when|how often|what date)\b", re.I
)


# --- new commitments ------------------------------------------------------------------------

_PROMISE = re.compile(
    r"\b(?:i will|i'll|i shall|i am going to|i'm going to|i'm gonna|i am gonna|i commit to"
    r"|i'm committing to|i promise to|i promise i'll|i plan to|i'm planning to|i intend to"
    r"|i can commit to|i want to commit to|i'd like to commit to"
    r"|my (?:goal|plan|commitment) is to)\b",
    re.I,
)
_PROGRESSIVE = re.compile(
    rf"\b(?:i'm|i am) (?!going\b|gonna\b)(?=\w+ing\b[^.?!]*\b(?:tonight|tomorrow|later today"
    rf"|this (?:evening|afternoon|weekend)|next (?:week|weekend|month|{_WD})|on (?:{_WD})"
    rf"|at the weekend)\b)",
    re.I,
)
_SOFT_PROMISE = re.compile(
    r"\b(?:i'd like to|i would like to|i want to|i'm hoping to|i hope to|i'd love to|i wanna)\b",
    re.I,
)
_NEED = re.compile(r"\b(?:need|have|want|got|ought) to ([^,.;]+)", re.I)
_SAME = re.compile(
    r"\b(?:(?:the )?same (?:goal|thing|one|commitment|plan|target|again|as (?:before|last week"
    r"|last time))|the same again|again)\b",
    re.I,
)
_VAGUE = frozenset({"someth", "smaller", "easier", "els", "new", "different", "littl", "less"})
_HEDGE = re.compile(
    r"\b(?:maybe|perhaps|might|possibly|i don't know|not sure|we'll see|if i can|if i have time"
    r"|if i get (?:the )?(?:time|chance)|hopefully|i doubt)\b",
    re.I,
)
_NOT_A_PROMISE = re.compile(
    r"^(?:be (?:honest|frank|straight|real)|tell you|admit|say (?:this|that)\b|think about it"
    r"|think it over"
    r"|see(?: how it goes| what happens| if| about it)?\s*$|see how|see what|see if|let you go"
    r"|talk to you|speak to you|see you|call you back|get back to you"
    r"|keep (?:it|things|everything) (?:as it is|as they are|like that|the same|that way)"
    r"|leave it (?:there|at that|as it is|for now)|try\s*$|do my best\s*$|do that\s*$"
    r"|be (?:fine|okay|ok|good|away|busy|back|there|around|free|travelling|traveling|off)\b"
    r"|have (?:(?:the|a|some|more|enough|plenty of) )?(?:whole |free |spare |more )?"
    r"(?:time|chance|day|morning|evening|afternoon)\b"
    r"|take it easy|relax\b|rest\b|chill\b|take a (?:break|breather)\s*$"
    r"|need to|have to|let you know|let it go|let that slide)",
    re.I,
)
_OBJECT_CUT = re.compile(
    r",|;| because | so that | so i | since | when | while | as long as | once i | until "
    r"| unless | that's for sure| for sure| i promise| i mean it| if | but | and then i | even on "
    r"| even if | or maybe ",
    re.I,
)
_LEADING = re.compile(
    r"^(?:(?:also|then|just|really|definitely|actually|probably|still|now|finally|at least"
    r"|honestly|seriously|totally|,)\s+|(?:try (?:to|and)|make sure (?:to|i)|be sure to|start to"
    r"|aim to|commit to|promise to|really try to)\s+)+",
    re.I,
)
# One-off dates said inside a commitment's words (its due date holds them), removed from the text.
_DATE_PHRASE = re.compile(
    r"(?:,\s*)?\b(?:(?:starting|from|beginning) )?(?:"
    r"(?:the )?day after tomorrow|tomorrow(?: (?:morning|evening|night|afternoon))?|tonight|today"
    r"|this (?:morning|afternoon|evening|week|weekend)|next (?:week|weekend|month)"
    r"|in (?:a|one|two|three|four|five|a couple of|a few|\d+) (?:days?|weeks?)"
    r"|(?:(?:on|by|before|this|next|coming|until) )*(?:" + _WD + r")"
    r"(?: (?:morning|afternoon|evening|night))?(?: the \w+)?"
    r"(?:(?:,| and| or)+ (?:on )?(?:" + _WD + r"))*"
    r"|(?:on|by|before) the (?:\d{1,2}(?:st|nd|rd|th)?|[a-z]+(?:th|st|nd|rd))"
    r"|(?:at|on|by|over) the weekend|starting now|from now on"
    r")\b",
    re.I,
)
_TAIL = re.compile(
    r"(?:\s|,)+(?:first thing|again|too|as well|then|for sure|probably|and|or|but|so|by"
    r"|before|at (?:\d{1,2}(?::\d{2})? ?(?:am|pm)?|one|two|three|four|five|six|seven|eight"
    r"|nine|ten|eleven|twelve|noon|midnight))\s*$",
    re.I,
)
_PRONOUN = re.compile(
    r"\b(?:it|them|him|her|that|this|the (?:rest|remainder|other half|others))\b", re.I
)
_ACCEPT = re.compile(
    r"^(?:oh |well |so )*(?:yes|yeah|yep|yup|sure|ok|okay|alright|all right|sounds good"
    r"|let's do (?:it|that)|deal|definitely|absolutely|i can do that|why not|of course"
    r"|good idea|great idea)\b",
    re.I,
)
_REFUSAL = re.compile(r"\b(?:no|not|don't|can't|won't|nah|nope|rather not)\b", re.I)
_FIRST_PERSON = re.compile(r"\b(?:i|i'm|i've|i'd|i'll|we|we're|my)\b", re.I)


@dataclass
class _New:
    text: str
    when: When
    turn: int


def _clean_object(raw: str) -> str:
    text = _OBJECT_CUT.split(" " + raw.lstrip(" ,") + " ", maxsplit=1)[0].strip(" .!?")
    text = _LEADING.sub("", text).strip()
    text = re.sub(r"\s+", " ", _DATE_PHRASE.sub(lambda m: _keep_recurrence(m, text), text))
    for _ in range(6):
        shorter = _TAIL.sub("", text).strip(" ,.")
        if shorter == text:
            break
        text = shorter
    return text.strip(" ,.")


def _keep_recurrence(match: re.Match[str], text: str) -> str:
    """Keep "every Sunday" whole: only one-off dates leave the text."""
    before = text[: match.start()].rstrip().lower()
    return match.group(0) if before.endswith(("every", "each")) else " "


# --- mood -----------------------------------------------------------------------------------

_NEGATORS = frozenset("not n't never no hardly isn't wasn't don't didn't aren't".split())
_LOW_WORDS = frozenset(
    "tired exhausted sad down awful terrible horrible rough miserable sick ill depressed lonely "
    "upset frustrated disappointed bad drained rubbish crap knackered shattered zombie "
    "struggling gutted".split()
)
_STRESS_WORDS = frozenset(
    "stressed stressful overwhelmed anxious swamped hectic nervous panicking pressure worried "
    "frantic".split()
)
_GOOD_WORDS = frozenset(
    "good great happy glad pleased excited fine relieved nice lovely love loved enjoyed "
    "better positive motivated".split()
)
_GREAT_WORDS = frozenset(
    "amazing fantastic proud thrilled brilliant awesome wonderful ecstatic incredible "
    "excellent".split()
)


def _mood(user_text: str) -> str:
    clauses = re.split(r"[,.;!?]| but ", _NO_STANCE.sub(" ", user_text.lower()))
    low = stress = good = great = 0
    for clause in clauses:
        lw, st, gd, gr = _mood_counts(tokens(clause))
        low, stress, good, great = low + lw, stress + st, good + gd, great + gr
    if "too much on" in user_text.lower() or "crazy busy" in user_text.lower():
        stress += 1
    if stress and stress >= good + great:
        return "stressed"
    if low > good + great:
        return "low"
    if great and not low and not stress:
        return "great"
    if good + great > low:
        return "good"
    return "neutral"


def _mood_counts(toks: list[str]) -> tuple[int, int, int, int]:
    low = stress = good = great = 0
    for i, tok in enumerate(toks):
        negated = any(t in _NEGATORS or t.endswith("n't") for t in toks[max(0, i - 3) : i])
        if tok in _LOW_WORDS:
            if not negated:
                low += 1
        elif tok in _STRESS_WORDS:
            if not negated:
                stress += 1
        elif tok in _GREAT_WORDS or tok in _GOOD_WORDS:
            if negated:
                if tok not in ("bad",):
                    low += 1
            elif tok in _GREAT_WORDS:
                great += 1
            else:
                good += 1
    return low, stress, good, great


# --- the analyzer ---------------------------------------------------------------------------


class OfflineAnalyzer:
    provider = PROVIDER

    async def analyze(
        self,
        transcript: list[dict[str, str]],
        due_commitments: list[Commitment],
        *,
        local_date: str | None = None,
        timezone: str = "UTC",
        default_due_date: str | None = None,
    ) -> CallAnalysis:
        today = dates_mod.call_local_date(local_date, timezone)
        fallback_due = dates_mod.default_due(today, default_due_date)
        turns = [
            (str(t.get("role", "")), _normalise(str(t.get("text") or "")))
            for t in transcript
            if str(t.get("text") or "").strip()
        ]
        said = [text for role, text in turns if role == "user" and text]
        if not said:
            return CallAnalysis(
                summary="The call connected but no conversation was transcribed.",
                mood="neutral",
                provider=PROVIDER,
            )
        read = _CallReader(turns, [_profile(c) for c in due_commitments], today)
        read.run()
        updates = []
        for d in read.due:
            verdict, evidence = _verdict(read.readings[d.commitment.commitment_id])
            updates.append(CommitmentUpdate(d.commitment.commitment_id, verdict, evidence))
        new = [
            NewCommitment(
                text=n.text,
                due_date=n.when.due(today, fallback_due).isoformat(),
                recurrence=n.when.recurrence,
                due_time=n.when.time,
            )
            for n in read.new
        ]
        mood = _mood(" ".join(said))
        return CallAnalysis(
            summary=_summary(len(said), due_commitments, updates, new, mood),
            mood=mood,
            new_commitments=new,
            commitment_updates=updates,
            topics_next_time=_topics(due_commitments, updates, new),
            provider=PROVIDER,
        )


def _summary(
    spoke: int,
    due: list[Commitment],
    updates: list[CommitmentUpdate],
    new: list[NewCommitment],
    mood: str,
) -> str:
    texts = {c.commitment_id: c.text for c in due}
    parts = [f"The user spoke {spoke} time(s); mood {mood}."]
    if updates:
        parts.append(
            "Due commitments: "
            + "; ".join(f"{texts[u.commitment_id]}: {u.status}" for u in updates)
            + "."
        )
    else:
        parts.append("No commitment was due.")
    if new:
        described = []
        for n in new:
            repeat = f", {n.recurrence}" if n.recurrence else ""
            described.append(f"{n.text} (due {n.due_date}{repeat})")
        parts.append("New commitment(s): " + "; ".join(described) + ".")
    else:
        parts.append("No new commitment.")
    return " ".join(parts)


def _topics(
    due: list[Commitment], updates: list[CommitmentUpdate], new: list[NewCommitment]
) -> list[str]:
    texts = {c.commitment_id: c.text for c in due}
    topics = [n.text for n in new]
    for u in updates:
        if u.status in (BROKEN, PARTLY, UNCLEAR):
            topics.append(f"follow up: {texts[u.commitment_id]} ({u.status})")
    return topics


class _CallReader:
    """One pass over the call: attributes user sentences to due commitments, collects new ones."""

    def __init__(self, turns: list[tuple[str, str]], due: list[_Due], today: date) -> None:
        self.turns = turns
        self.due = due
        self.today = today
        self.readings = {d.commitment.commitment_id: _Reading() for d in due}
        self.new: list[_New] = []
        self.asked: list[str] = []  # commitment ids in the order the agent asked about them
        self.targets: list[_Due] = []
        self.discussed: _Due | None = None
        self.fresh = False  # the discussed commitment is still the topic
        self.proposal: str | None = None
        self.when_x: str | None = None
        self.when_asked = False
        self.asked_new = False  # the agent's last turn asked for a new commitment
        self.position = 0

    # Commitments named by a text: those sharing the most content words with it.
    def _named(self, text: str) -> list[_Due]:
        words = content_words(text)
        scored = [(len(d.words & words) / max(1, len(d.words)), d) for d in self.due]
        best = max((s for s, _ in scored), default=0.0)
        if best <= 0:
            return []
        return [d for s, d in scored if s > 0 and s >= best / 2]

    def run(self) -> None:
        for index, (role, text) in enumerate(self.turns):
            if role == "user":
                self._user_turn(index, text)
            else:
                self._agent_turn(text)

    def _agent_turn(self, text: str) -> None:
        named = self._named(text)
        is_question = "?" in text
        self.proposal = None
        self.when_x = None
        self.when_asked = bool(_WHEN_ASKED.search(text)) and is_question
        self.asked_new = bool(_NEW_PROMPT.search(text))
        forward = is_question and bool(_FORWARD.search(text)) and not _PAST.search(text)
        if named and not forward:
            self._target(named)
            return
        check_in = is_question and _CHECK_IN.search(text) and not _NEW_PROMPT.search(text)
        if check_in and not named:
            unasked = [d for d in self.due if d.commitment.commitment_id not in self.asked]
            ordinal = _ORDINAL_ONE.search(text)
            if ordinal and ordinal.group(1).lower() in ("first", "second", "third", "fourth"):
                i = ("first", "second", "third", "fourth").index(ordinal.group(1).lower())
                self._target([self.due[i]] if i < len(self.due) else unasked[:1])
            elif ordinal and ordinal.group(1).lower() == "last" and self.due:
                self._target([self.due[-1]])
            elif _ALL_OF_THEM.search(text):
                self._target(unasked or list(self.due))
            else:
                self._target(unasked[:1])
            return
        self.targets = []
        if named:
            self.discussed, self.fresh = named[0], True
        elif _NEW_PROMPT.search(text):
            self.fresh = False
        if is_question:
            if m := _WHEN_QUESTION.search(text):
                self.when_x = m.group("x")
            elif m := _PROPOSAL.search(text):
                self.proposal = m.group("x") or m.group("x2")

    def _target(self, due: list[_Due]) -> None:
        self.targets = due
        for d in due:
            if d.commitment.commitment_id not in self.asked:
                self.asked.append(d.commitment.commitment_id)
        if due:
            self.discussed = due[0]
            self.fresh = True

    def _user_turn(self, index: int, text: str) -> None:
        sentences = _sentences(text)
        subject: list[_Due] = []
        promised_in_turn = False
        firm = any(p.firm for sentence in sentences for p in self._candidates(sentence, True))
        soft_ok = self.asked_new and not firm
        if not any(self._candidates(sentence, soft_ok) for sentence in sentences):
            self._answer_to_agent(index, sentences)
        for i, sentence in enumerate(sentences):
            cut = _first_promise(sentence)
            past_part = sentence[:cut]
            past_part = re.split(r"\b(?:but )?i will\b|\bnext time\b", past_part, flags=re.I)[0]
            named = self._named(past_part) if past_part.strip() else []
            if named:
                subject = named
                self.discussed, self.fresh = named[0], True
            for d in subject or self.targets:
                self._read(d, past_part, sentence, index)
            candidates = self._candidates(sentence, soft_ok)
            if candidates:
                previous = sentences[i - 1] if i else None
                after = self._date_only(sentences[i + 1]) if i + 1 < len(sentences) else None
                promised_in_turn |= self._promises(index, candidates, previous, after)
            elif (promised_in_turn or self.when_asked) and self.new and cut == len(sentence):
                if (when := self._date_only(sentence)) is not None:
                    last = self.new[-1]
                    last.when = last.when.merged(when)
        self.proposal = None
        self.when_x = None

    def _read(self, due: _Due, part: str, sentence: str, turn: int) -> None:
        if not part.strip():
            return
        reading = self.readings[due.commitment.commitment_id]
        events, corrections = _sentence_events(part, due, self.position, sentence)
        for e in events:
            e.turn = turn
        reading.events += events
        reading.corrections += [(turn, c) for c in corrections]
        self.position += len(part) + 1

    def _answer_to_agent(self, index: int, sentences: list[str]) -> None:
        """A new commitment the agent worded and the user took up: "Would you like to commit to
        X?" "Yes, let's do that.", or "When will you X?" "Monday morning." """
        first = sentences[0]
        whole = " ".join(sentences)
        if self.proposal is not None:
            accepted = _ACCEPT.search(first)
            if not accepted:
                return
            rest = " ".join([first[accepted.end() :], *sentences[1:]]).strip(" ,.!")
            if _REFUSAL.search(first[accepted.end() :]) or _HEDGE.search(whole):
                return
            proposal = _clean_object(self.proposal)
            when = _agent_when(self.proposal, self.today).merged(parse_when(whole, self.today))
            if (_SAME.search(rest) or _SAME.search(self.proposal)) and self.discussed:
                # "Same goal": the commitment talked about, as often as it was.
                text = self.discussed.commitment.text
                repeat = parse_when(text, self.today)
                when = When(recurrence=repeat.recurrence, anchors=repeat.anchors).merged(when)
            elif content_words(proposal) - _VAGUE:
                text = proposal
            else:
                text = _clean_object(rest)  # "Something smaller?" "Yes. Ten minutes a day."
            self._add(text, when, index, None)
        elif self.when_x is not None:
            when = parse_when(first, self.today)
            if when.said_anything and not _HEDGE.search(first) and not _REFUSAL.search(first):
                self._add(_clean_object(self.when_x), when, index, None)

    def _date_only(self, sentence: str) -> When | None:
        """The timing a short sentence adds ("Thursday, I think.", "Well, every weekday
        morning."), when it says nothing else that matters."""
        if _first_promise(sentence) < len(sentence) or len(tokens(sentence)) > 8:
            return None
        when = parse_when(sentence, self.today)
        return when if when.said_anything else None

    def _candidates(self, sentence: str, soft_ok: bool) -> list[_Promise]:
        """The commitments `sentence` states: what follows each "I'll" (up to the next one),
        without hedged ones, turns of phrase ("I'll see", "I'll take it easy") and travel
        ("I'm going to Lisbon"); "I'd like to X" only when `soft_ok`."""
        found: list[tuple[int, int, bool]] = []
        for pattern, firm in ((_PROMISE, True), (_PROGRESSIVE, True), (_SOFT_PROMISE, False)):
            if (not firm and not soft_ok) or (pattern is _PROGRESSIVE and self.when_x):
                continue  # "When will you X?" "I'm picking up paint Wednesday": X is the answer
            for m in pattern.finditer(sentence):
                if all(m.start() >= e or m.end() <= s for s, e, _ in found):
                    found.append((m.start(), m.end(), firm))
        found.sort()
        out: list[_Promise] = []
        start = 0
        for j, (s_, e, firm) in enumerate(found):
            end = found[j + 1][0] if j + 1 < len(found) else len(sentence)
            prefix, raw = sentence[start:s_], sentence[e:end]
            start = end
            obj = raw.strip(" ,")
            if _HEDGE.search(prefix) or _HEDGE.search(obj) or _NOT_A_PROMISE.match(obj):
                continue
            said = sentence[s_:e].lower()
            if said.rstrip().endswith("going to") and re.match(r"[A-Z][a-z]", obj):
                continue  # "I'm going to Lisbon": travel, not a commitment
            out.append(_Promise(prefix, raw, firm))
        return out

    def _promises(
        self,
        index: int,
        candidates: list[_Promise],
        previous: str | None,
        after: When | None = None,
    ) -> bool:
        added = False
        for j, c in enumerate(candidates):
            when = parse_when(f"{c.prefix} {c.raw}", self.today)
            if after is not None and j == len(candidates) - 1 and not when.day:
                when = when.merged(after)
            need = _NEED.search(c.prefix)
            wanted = _clean_object(need.group(1)) if need else None
            if self._add(_clean_object(c.raw), when, index, previous, wanted):
                added = True
        return added

    def _add(
        self,
        text: str,
        when: When,
        index: int,
        previous: str | None,
        prefix_need: str | None = None,
    ) -> bool:
        if not content_words(text) and prefix_need and content_words(prefix_need):
            text = prefix_need  # "I need to book the flights, I'll do that by Friday"
        if not content_words(text) or _SAME.fullmatch(text.strip(" .!")):
            # "I'll do it tomorrow", "I will tomorrow": the commitment being talked about.
            if self.discussed is None or not when.said_anything:
                return False
            text = self.discussed.commitment.text
        elif _PRONOUN.search(text):
            fragment = _fragment(previous)
            if fragment:
                text = _PRONOUN.sub(fragment, text, count=1)
            elif self.discussed is not None and self.fresh:
                words = self.discussed.words
                if content_words(text) <= words:
                    text = self.discussed.commitment.text
                else:
                    text = f"{text} ({self.discussed.commitment.text})"
        words = content_words(text)
        for existing in self.new:
            other = content_words(existing.text)
            if words and len(words & other) / max(len(words), len(other)) >= 0.8:
                if not existing.when.day:
                    existing.when = existing.when.merged(when)
                return False
        self.new.append(_New(text, when, index))
        return True


@dataclass
class _Promise:
    prefix: str  # the sentence's words before the promise ("Starting tomorrow")
    raw: str  # what follows "I'll", up to the next promise
    firm: bool  # "I'll", not "I'd like to"


def _first_promise(sentence: str) -> int:
    """Where the first promise-like phrase starts (len(sentence) when none): what follows is
    about the future, not a report on the past."""
    starts = [
        m.start()
        for pattern in (_PROMISE, _PROGRESSIVE, _SOFT_PROMISE)
        if (m := pattern.search(sentence))
    ]
    return min(starts, default=len(sentence))


def _agent_when(proposal: str, today: date) -> When:
    """What an agent's proposal says about timing. A period ("this week") is the proposal's
    scope, not a due date, so only its recurrence and time count then."""
    when = parse_when(proposal, today)
    if when.day is not None and re.search(r"\bthis week\b", proposal, re.I):
        return When(time=when.time, recurrence=when.recurrence, anchors=when.anchors)
    return when


def _fragment(previous: str | None) -> str | None:
    """A short noun phrase said just before ("The job application. I'll send it by Friday")."""
    if not previous:
        return None
    words = tokens(previous)
    if not 1 <= len(words) <= 5 or _FIRST_PERSON.search(previous) or _PROMISE.search(previous):
        return None
    if "?" in previous or not content_words(previous):
        return None
    if not re.match(r"(?:the|my|a|an|that|this|our|your|his|her|their)\b", previous.strip(), re.I):
        return None
    return previous.strip(" .!,").lower()
