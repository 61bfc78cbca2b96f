"""`PUT /users/{user_id}/recording-consent {"consent": true|false}`: the body's parser.

Consent is off for every user until the app sends `true` (the user agreed in the app); `false`
withdraws it for every later call. A call already ringing keeps what its job was given.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from callflow.service.errors import MalformedBody, ValidationFailed


@dataclass(frozen=True)
class RecordingConsentRequest:
    consent: bool

    @classmethod
    def parse(cls, body: bytes) -> RecordingConsentRequest:
        try:
            doc = json.loads(body or b"null")
        except ValueError:
            raise MalformedBody('the body must be JSON like {"consent": true}') from None
        if not isinstance(doc, dict) or not isinstance(doc.get("consent"), bool):
            raise ValidationFailed(
                'consent: send {"consent": true} or {"consent": false} (a JSON boolean)',
                field="consent",
            )
        return cls(consent=doc["consent"])
