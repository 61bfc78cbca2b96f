"""The history import (docs/history-import.md): conversations of an earlier voice-agent system
(ElevenLabs Conversational AI, through its SDK or an export file) become callflow memories,
commitments and call records, once each, in a resumable Temporal workflow
(workflows/import_history.py, activities/importing.py)."""
