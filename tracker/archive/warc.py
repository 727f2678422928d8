"""Writing one fetch as a WARC file (warcio: request, response and metadata records)
and reading the response back. Stored through Django's storage API, under the
"archive" storage (STORAGES in config/settings.py): a directory by default, an
S3-compatible bucket with django-storages in production.

The guarded client (tracker.fetch) hands back the body already decoded (it decodes
gzip itself, to bound a gzip bomb), so the response record holds the decoded body:
its Content-Encoding, Transfer-Encoding and Content-Length headers are replaced by
the body's true length, and the metadata record says what the server sent."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import zlib
from dataclasses import dataclass
from http import HTTPStatus
from urllib.parse import urlsplit

from django.core.files.base import ContentFile
from django.core.files.storage import Storage, storages
from warcio.archiveiterator import ArchiveIterator
from warcio.exceptions import ArchiveLoadFailed
from warcio.statusandheaders import StatusAndHeaders
from warcio.timeutils import datetime_to_iso_date
from warcio.warcwriter import WARCWriter

from tracker import fetch

# Headers that described the bytes on the wire, not the body we keep.
WIRE_HEADERS = {"content-encoding", "transfer-encoding", "content-length"}


@dataclass(frozen=True)
class Written:
    name: str  # the storage name
    size: int  # bytes of the .warc.gz
    sha256: str  # of the response body


def storage() -> Storage:
    return storages["archive"]


def write(result: fetch.FetchResult, fetched_at: dt.datetime) -> Written:
    """Write ``result`` (a 2xx) as a gzipped WARC file; returns its storage name."""
    sha = hashlib.sha256(result.body).hexdigest()
    buffer = io.BytesIO()
    writer = WARCWriter(buffer, gzip=True)
    date = datetime_to_iso_date(fetched_at.astimezone(dt.UTC).replace(tzinfo=None))
    target = result.final_url or result.url
    request = writer.create_warc_record(
        target,
        "request",
        payload=io.BytesIO(b""),
        http_headers=_request_headers(target),
        warc_headers_dict={"WARC-Date": date},
    )
    response = writer.create_warc_record(
        target,
        "response",
        payload=io.BytesIO(result.body),
        http_headers=_response_headers(result),
        warc_headers_dict={"WARC-Date": date, "WARC-Payload-Digest": f"sha256:{sha}"},
    )
    request.rec_headers.add_header(
        "WARC-Concurrent-To", response.rec_headers.get_header("WARC-Record-ID")
    )
    metadata = writer.create_warc_record(
        target,
        "metadata",
        payload=io.BytesIO(json.dumps(_metadata(result, sha), indent=1).encode()),
        warc_content_type="application/json",
        warc_headers_dict={
            "WARC-Date": date,
            "WARC-Refers-To": response.rec_headers.get_header("WARC-Record-ID"),
        },
    )
    for record in (request, response, metadata):
        writer.write_record(record)
    name = storage().save(_name(result.url, fetched_at, sha), ContentFile(buffer.getvalue()))
    return Written(name, len(buffer.getvalue()), sha)


def _name(address: str, at: dt.datetime, sha: str) -> str:
    host = (urlsplit(address).hostname or "host").replace(":", "_")
    key = hashlib.sha256(address.encode()).hexdigest()[:12]
    return f"{at:%Y/%m}/{host}/{at:%Y%m%dT%H%M%SZ}-{key}-{sha[:8]}.warc.gz"


def _request_headers(url: str) -> StatusAndHeaders:
    parts = urlsplit(url)
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return StatusAndHeaders(
        f"GET {path} HTTP/1.1",
        [
            ("Host", parts.netloc),
            ("User-Agent", fetch.user_agent()),
            ("Accept-Encoding", "gzip, deflate"),
        ],
        is_http_request=True,
    )


def _response_headers(result: fetch.FetchResult) -> StatusAndHeaders:
    status = result.status or 200
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = ""
    headers = [(k, v) for k, v in result.headers.items() if k not in WIRE_HEADERS]
    headers.append(("content-length", str(len(result.body))))
    return StatusAndHeaders(f"{status} {phrase}".strip(), headers, protocol="HTTP/1.1")


def _metadata(result: fetch.FetchResult, sha: str) -> dict[str, object]:
    return {
        "address": result.url,
        "final_url": result.final_url,
        "status": result.status,
        "sha256": sha,
        "body_bytes": len(result.body),
        "wire_headers": {k: v for k, v in result.headers.items() if k in WIRE_HEADERS},
        "note": "the body is stored decoded (the client decodes gzip/deflate itself)",
        "client": fetch.user_agent(),
    }


def write_resource(name: str, body: bytes, content_type: str, at: dt.datetime) -> Written:
    """Keep ``body`` (a seed: the text of an article the record was built from, which
    the tracker did not fetch) as a WARC resource record, with a metadata record that
    says so; its target is ``urn:seed:<name>``."""
    sha = hashlib.sha256(body).hexdigest()
    buffer = io.BytesIO()
    writer = WARCWriter(buffer, gzip=True)
    date = datetime_to_iso_date(at.astimezone(dt.UTC).replace(tzinfo=None))
    target = f"urn:seed:{name}"
    resource = writer.create_warc_record(
        target,
        "resource",
        payload=io.BytesIO(body),
        warc_content_type=content_type,
        warc_headers_dict={"WARC-Date": date, "WARC-Payload-Digest": f"sha256:{sha}"},
    )
    note = {"seed": name, "sha256": sha, "note": "a stored copy of the article, not fetched"}
    metadata = writer.create_warc_record(
        target,
        "metadata",
        payload=io.BytesIO(json.dumps(note, indent=1).encode()),
        warc_content_type="application/json",
        warc_headers_dict={
            "WARC-Date": date,
            "WARC-Refers-To": resource.rec_headers.get_header("WARC-Record-ID"),
        },
    )
    for record in (resource, metadata):
        writer.write_record(record)
    key = hashlib.sha256(name.encode()).hexdigest()[:12]
    stored = storage().save(
        f"seeds/{at:%Y%m%dT%H%M%SZ}-{key}-{sha[:8]}.warc.gz", ContentFile(buffer.getvalue())
    )
    return Written(stored, len(buffer.getvalue()), sha)


@dataclass(frozen=True)
class Copy:
    url: str
    status: int
    content_type: str
    body: bytes


class Unreadable(Exception):
    """The WARC file is missing, cut short or not the one written."""


def read(name: str, sha256: str = "") -> Copy:
    """The response (or a seed's resource) record of the WARC file ``name``, read with
    warcio's own reader. warcio hands back a body cut short by a truncated file without
    a word: given the body's ``sha256`` (kept at write), a body that differs raises
    Unreadable, as does a file missing or not a WARC."""
    try:
        copy = _read(name)
    # AttributeError: warcio on a record's headers cut short.
    except (OSError, EOFError, zlib.error, ArchiveLoadFailed, AttributeError) as error:
        raise Unreadable(f"{name}: {error}") from error
    if sha256 and hashlib.sha256(copy.body).hexdigest() != sha256:
        raise Unreadable(f"{name}: the body is not the one written (sha256 differs)")
    return copy


def _read(name: str) -> Copy:
    with storage().open(name, "rb") as handle:
        for record in ArchiveIterator(handle):
            if record.rec_type in ("response", "resource"):
                # A seed's resource record has no HTTP headers: its WARC headers say.
                if record.rec_type == "response":
                    status = int(record.http_headers.get_statuscode() or 0)
                    headers = record.http_headers
                else:
                    status, headers = 200, record.rec_headers
                return Copy(
                    url=record.rec_headers.get_header("WARC-Target-URI"),
                    status=status,
                    content_type=headers.get_header("content-type") or "",
                    body=record.content_stream().read(),
                )
    raise Unreadable(f"{name}: no response or resource record")
