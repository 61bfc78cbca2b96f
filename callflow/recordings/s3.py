"""`RecordingStore` over the S3 API, signed with AWS Signature V4 (path-style addressing).

One adapter for every S3-compatible storage: Supabase Storage in production (endpoint
`https://<project>.supabase.co/storage/v1/s3`, its S3 access keys and region) and the local
stack's S3 server. Only the four calls recordings need, so no SDK: httpx and the signature.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime
from urllib.parse import quote

import httpx

from callflow.recordings.errors import (
    RecordingsAuthError,
    RecordingsError,
    RecordingsUnavailable,
)
from callflow.settings import ConfigurationError, Settings

_ALGORITHM = "AWS4-HMAC-SHA256"
_EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()


def _hmac(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode(), hashlib.sha256).digest()


def sign_v4(
    *,
    method: str,
    url: httpx.URL,
    payload_sha256: str,
    access_key: str,
    secret_key: str,
    region: str,
    now: datetime,
) -> dict[str, str]:
    """The headers that sign one request (Authorization, x-amz-date, x-amz-content-sha256)."""
    amz_date = now.strftime("%Y%m%dT%H%M%SZ")
    day = amz_date[:8]
    query = "&".join(
        f"{quote(k, safe='-_.~')}={quote(v, safe='-_.~')}"
        for k, v in sorted(url.params.multi_items())
    )
    headers = {
        "host": url.netloc.decode(),
        "x-amz-content-sha256": payload_sha256,
        "x-amz-date": amz_date,
    }
    signed = ";".join(sorted(headers))
    canonical = "\n".join(
        [
            method,
            quote(url.path, safe="/-_.~"),
            query,
            "".join(f"{k}:{headers[k]}\n" for k in sorted(headers)),
            signed,
            payload_sha256,
        ]
    )
    scope = f"{day}/{region}/s3/aws4_request"
    to_sign = "\n".join(
        [_ALGORITHM, amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()]
    )
    key = _hmac(("AWS4" + secret_key).encode(), day)
    for part in (region, "s3", "aws4_request"):
        key = _hmac(key, part)
    signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    return {
        "authorization": (
            f"{_ALGORITHM} Credential={access_key}/{scope}, SignedHeaders={signed}, "
            f"Signature={signature}"
        ),
        "x-amz-date": amz_date,
        "x-amz-content-sha256": payload_sha256,
    }


class S3RecordingStore:
    """Objects in one bucket of an S3-compatible endpoint."""

    def __init__(
        self,
        *,
        endpoint: str,
        bucket: str,
        access_key: str,
        secret_key: str,
        region: str = "us-east-1",
        timeout_s: float = 60.0,
    ) -> None:
        self.endpoint = endpoint.rstrip("/")
        self.bucket = bucket
        self._access_key = access_key
        self._secret_key = secret_key
        self._region = region
        self._timeout_s = timeout_s
        self._http: httpx.AsyncClient | None = None  # made on first use: a store never used
        # (a call whose phone never joined) holds no connection pool to close

    def describe(self) -> str:
        return f"S3-compatible storage {self.endpoint} bucket {self.bucket!r}"

    async def aclose(self) -> None:
        if self._http is not None:
            await self._http.aclose()
            self._http = None

    async def ensure_bucket(self) -> None:
        """Create the bucket if it is not there (the local stack; Supabase's is made once)."""
        response = await self._request("PUT", f"/{self.bucket}", b"", doing="creating bucket")
        if response.status_code == 409 or response.is_success:
            return
        self._raise(response, "creating bucket")

    async def put(self, key: str, data: bytes, content_type: str) -> None:
        response = await self._request(
            "PUT",
            self._path(key),
            data,
            doing=f"uploading {key}",
            extra={"content-type": content_type},
        )
        if not response.is_success:
            self._raise(response, f"uploading {key}")

    async def delete(self, key: str) -> None:
        """Delete an object; an object already gone is not an error (deletes are retried)."""
        response = await self._request("DELETE", self._path(key), b"", doing=f"deleting {key}")
        if not (response.is_success or response.status_code == 404):
            self._raise(response, f"deleting {key}")

    async def size(self, key: str) -> int | None:
        """The object's size in bytes, or None when there is no such object."""
        response = await self._request("HEAD", self._path(key), b"", doing=f"looking up {key}")
        if response.status_code == 404:
            return None
        if not response.is_success:
            self._raise(response, f"looking up {key}")
        return int(response.headers.get("content-length", "0"))

    async def get(self, key: str) -> bytes:
        response = await self._request("GET", self._path(key), b"", doing=f"reading {key}")
        if not response.is_success:
            self._raise(response, f"reading {key}")
        return response.content

    def _path(self, key: str) -> str:
        return f"/{self.bucket}/{key.lstrip('/')}"

    async def _request(
        self,
        method: str,
        path: str,
        body: bytes,
        *,
        doing: str,
        extra: dict[str, str] | None = None,
    ) -> httpx.Response:
        url = httpx.URL(self.endpoint + quote(path, safe="/-_.~"))
        digest = hashlib.sha256(body).hexdigest() if body else _EMPTY_SHA256
        headers = sign_v4(
            method=method,
            url=url,
            payload_sha256=digest,
            access_key=self._access_key,
            secret_key=self._secret_key,
            region=self._region,
            now=datetime.now(UTC),
        )
        if self._http is None:
            self._http = httpx.AsyncClient(timeout=self._timeout_s)
        try:
            return await self._http.request(
                method, url, content=body or None, headers={**headers, **(extra or {})}
            )
        except httpx.TransportError as exc:
            raise RecordingsUnavailable(
                f"recording storage unreachable while {doing}: {type(exc).__name__}"
            ) from exc

    def _raise(self, response: httpx.Response, doing: str) -> None:
        detail = f"recording storage answered {response.status_code} while {doing}"
        if response.status_code in (401, 403):
            raise RecordingsAuthError(detail + ": check the S3 access key and secret")
        if response.status_code == 429 or response.status_code >= 500:
            raise RecordingsUnavailable(detail)
        raise RecordingsError(detail + f": {response.text[:200]}")


def recording_store_from(settings: Settings) -> S3RecordingStore | None:
    """The configured storage, or None when recordings are off (no endpoint set)."""
    if not settings.recordings_s3_endpoint:
        return None
    secret = settings.recordings_s3_secret_key
    if not settings.recordings_s3_access_key or secret is None:
        raise ConfigurationError(
            "CALLFLOW_RECORDINGS_S3_ENDPOINT is set but CALLFLOW_RECORDINGS_S3_ACCESS_KEY / "
            "_SECRET_KEY are not: set both (Supabase: Storage > S3 Connection > access keys)"
        )
    return S3RecordingStore(
        endpoint=settings.recordings_s3_endpoint,
        bucket=settings.recordings_s3_bucket,
        access_key=settings.recordings_s3_access_key,
        secret_key=secret.get_secret_value(),
        region=settings.recordings_s3_region,
    )
