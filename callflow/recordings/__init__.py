"""The recordings port: call recordings in S3-compatible object storage (Supabase Storage in
production, a local S3 server in the local stack), keyed by call id."""

from callflow.recordings.errors import RecordingsAuthError, RecordingsError, RecordingsUnavailable

__all__ = ["RecordingsAuthError", "RecordingsError", "RecordingsUnavailable"]
