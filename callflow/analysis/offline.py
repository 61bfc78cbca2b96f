"""The offline analyzer: rule-based, no model, named as such in every record it writes.

It exists so a whole call runs with no keys and no internet; it reads only what the user said.
"""

from __future__ import annotations

import re

from callflow.models import Commitment
from callflow.ports import CallAnalysis, CommitmentUpdate, NewCommitment

PROVIDER = "offline rule-based analyzer (no LLM)"
_PROMISE = re.compile(r"\b(i will|i'll|i am going to|i'm going to|i commit to)\b\s*(.+)", re.I)
_KEPT = re.compile(r"\b(yes|i did|done|finished|managed|completed|kept)\b", re.I)
_BROKEN = re.compile(r"\b(no|didn't|did not|failed|missed|couldn't|could not)\b", re.I)
_LOW = re.compile(r"\b(tired|sad|stressed|bad|awful|exhausted)\b", re.I)
_GOOD = re.compile(r"\b(great|good|happy|proud|excited)\b", re.I)


def _verdict(answer: str) -> str:
    """kept | broken | unclear from the user's first answer; the earliest signal decides, so
    "Yes I did, no problem" is kept and "No, I didn't, but yes next week" is broken."""
    kept, broken = _KEPT.search(answer), _BROKEN.search(answer)
    if kept and (broken is None or kept.start() < broken.start()):
        return "kept"
    return "broken" if broken else "unclear"


class OfflineAnalyzer:
    provider = PROVIDER

    async def analyze(
        self, transcript: list[dict[str, str]], due_commitments: list[Commitment]
    ) -> CallAnalysis:
        said = [t["text"].strip() for t in transcript if t.get("role") == "user" and t.get("text")]
        everything = " ".join(said)
        new = [
            NewCommitment(text=m.group(2).rstrip(".!"), due_date=None)
            for line in said
            if (m := _PROMISE.search(line))
        ]
        status = _verdict(said[0]) if said else "unclear"
        updates = [CommitmentUpdate(c.commitment_id, status) for c in due_commitments]
        mood = (
            "low" if _LOW.search(everything) else "good" if _GOOD.search(everything) else "neutral"
        )
        if said:
            summary = (
                f"The user spoke {len(said)} time(s). "
                + (f"New commitment: {new[0].text}. " if new else "No new commitment. ")
                + (
                    f"Due commitments: {', '.join(u.status for u in updates)}."
                    if updates
                    else "No commitment was due."
                )
            )
        else:
            summary = "The call connected but no conversation was transcribed."
        return CallAnalysis(
            summary=summary,
            mood=mood,
            new_commitments=new,
            commitment_updates=updates,
            topics_next_time=[n.text for n in new],
            provider=PROVIDER,
        )
