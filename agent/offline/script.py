"""Offline conversation scripts, shared by the phone simulator (what it says) and the scripted
STT (what it "hears"). Imported by callflow.local.phone, so it stays free of livekit-agents imports.
"""

from __future__ import annotations

from dataclasses import dataclass

from agent.errors import ScriptNotFound


@dataclass(frozen=True)
class ConversationScript:
    name: str
    # What the phone's user says, in order; each line is one sentence so that VAD sees one
    # utterance per line (espeak-ng pauses between sentences long enough to split them).
    phone_lines: tuple[str, ...]

    @property
    def turns(self) -> int:
        return len(self.phone_lines)


# The scripted coach (agent/offline/llm.py) asks about each due commitment in turn, then for a
# new commitment, confirms it and asks whether there is anything else; the phone speaks one line
# after each of those agent turns, then hears the goodbye. So a script for a call with n due
# commitments has n + 2 lines: one answer per due commitment, the new commitment, the sign-off.
DEFAULT_SCRIPT_NAME = "accountability-default"
# A second call of the demo user the same day (`callflow demo`): what falls due is the daily
# meditation the default script commits to "starting today" (the seeded walk, answered "yes"
# on the first call, is closed as kept). The answer names its commitment, so the post-call
# analysis attributes it by its words.
FOLLOWUP_SCRIPT_NAME = "accountability-followup"

SCRIPTS: dict[str, ConversationScript] = {
    DEFAULT_SCRIPT_NAME: ConversationScript(
        name=DEFAULT_SCRIPT_NAME,
        phone_lines=(
            "Yes I did it, I went running on Tuesday and on Thursday",
            # Daily and due the same day, so a second call minutes later asks about it.
            "Starting today I will meditate for ten minutes every morning",
            "No that is all for today, thank you and bye",
        ),
    ),
    FOLLOWUP_SCRIPT_NAME: ConversationScript(
        name=FOLLOWUP_SCRIPT_NAME,
        phone_lines=(
            "Yes, I meditated for ten minutes this morning",
            "By Friday I will call my sister",
            "No that is everything, thank you and bye",
        ),
    ),
}


def get_script(name: str | None) -> ConversationScript:
    """The named script, or the default one when `name` is None or empty."""
    key = name or DEFAULT_SCRIPT_NAME
    try:
        return SCRIPTS[key]
    except KeyError:
        raise ScriptNotFound(
            f"offline conversation script {key!r} does not exist; "
            f"known scripts: {', '.join(sorted(SCRIPTS))} (job metadata field `script`)"
        ) from None
