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


DEFAULT_SCRIPT_NAME = "accountability-default"

SCRIPTS: dict[str, ConversationScript] = {
    DEFAULT_SCRIPT_NAME: ConversationScript(
        name=DEFAULT_SCRIPT_NAME,
        phone_lines=(
            "Yes I did it, I went running on Tuesday and on Thursday",
            "Next week I will meditate for ten minutes every morning",
            "No that is all for today, thank you and bye",
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
