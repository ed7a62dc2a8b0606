"""Documents attached to a booking event (S15): checked by content, stored with the outbox email
in the event's transaction, attached when it is sent, kept for the email log, then purged.

Never fetched from a URL: the engine sends the bytes themselves (base64 in the JSON body), so
there is no request the console makes on the engine's behalf (no SSRF surface)."""
import base64
import binascii
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError

from webapp.extensions import db
from webapp.models import OutboxDocument, OutboxEmail, RefusedDocument
from webapp.models.types import utcnow

MAX_DOCUMENTS = 5
MAX_TOTAL_BYTES = 10 * 1024 * 1024  # decoded, all documents of one event
MAX_FILENAME_CHARS = 200
# What a document may be, told by its first bytes: a declared type is only a claim.
MAGIC = {
    "application/pdf": (b"%PDF-",),
    "image/png": (b"\x89PNG\r\n\x1a\n",),
    "image/jpeg": (b"\xff\xd8\xff",),
}
# The name's ending must match the content: a mail client opens a file by its name, so a PDF
# named invoice.html would be opened as a web page.
EXTENSIONS = {"application/pdf": (".pdf",), "image/png": (".png",), "image/jpeg": (".jpg", ".jpeg")}
# After an email is sent or given up its documents stay this long (the email log's download
# link, a resend), then the purge deletes their bytes (docs/DEPLOY.md).
RETENTION = timedelta(days=30)
# "unknown" too: one still unknown after RETENTION is not resent by itself any more.
FINISHED = ("sent", "failed", "skipped", "unknown")


class DocumentRefused(ValueError):
    """A document the API refuses; `field` is its place in the body, e.g. documents[1].content."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field
        self.message = message


@dataclass(frozen=True)
class Document:
    filename: str
    content_type: str
    content: bytes


def content_type_of(content: bytes) -> str | None:
    """The allowed type the bytes are, or None."""
    for content_type, signatures in MAGIC.items():
        if content.startswith(signatures):
            return content_type
    return None


def clean_filename(name) -> str:
    """The name as the client will see it, or ValueError: no directory part (a path would let
    a mail client save it elsewhere), no control characters (CR/LF would end the header)."""
    if not isinstance(name, str):
        raise ValueError("must be a string")
    name = unicodedata.normalize("NFC", name.strip())
    if not name:
        raise ValueError("must not be empty")
    if "/" in name or "\\" in name:
        raise ValueError("must be a file name without a path (no / or \\)")
    if any(unicodedata.category(char) in ("Cc", "Cf", "Cs", "Zl", "Zp") for char in name):
        raise ValueError("must not contain control characters or line breaks")
    if set(name) <= {"."}:
        raise ValueError("must be a file name, not . or ..")
    if len(name) > MAX_FILENAME_CHARS:
        raise ValueError(f"must be at most {MAX_FILENAME_CHARS} characters")
    return name


def clean_documents(value) -> list[Document]:
    """The documents of an event's body, or DocumentRefused naming the first field at fault."""
    if not isinstance(value, list):
        raise DocumentRefused("documents", "must be a list of objects with filename, "
                                           "content_type and content (base64)")
    if len(value) > MAX_DOCUMENTS:
        raise DocumentRefused("documents", f"at most {MAX_DOCUMENTS} documents per event, "
                                           f"{len(value)} given")
    documents, total = [], 0
    for index, item in enumerate(value):
        where = f"documents[{index}]"
        if not isinstance(item, dict):
            raise DocumentRefused(where, "must be an object with filename, content_type and content")
        unknown = set(item) - {"filename", "content_type", "content"}
        if unknown:
            raise DocumentRefused(f"{where}.{sorted(unknown)[0]}",
                                  "unknown field; allowed: filename, content_type, content")
        for name in ("filename", "content_type", "content"):
            if name not in item:
                raise DocumentRefused(f"{where}.{name}", "required")
        try:
            filename = clean_filename(item["filename"])
        except ValueError as error:
            raise DocumentRefused(f"{where}.filename", str(error)) from None
        declared = item["content_type"]
        if not isinstance(declared, str) or declared.strip().lower() not in MAGIC:
            raise DocumentRefused(f"{where}.content_type",
                                  "must be one of: " + ", ".join(MAGIC))
        encoded = item["content"]
        if not isinstance(encoded, str):
            raise DocumentRefused(f"{where}.content", "must be a base64 string")
        # Refused before decoding: base64 is 4 characters for 3 bytes (less at most 2 of padding).
        if total + (len(encoded) // 4) * 3 - 2 > MAX_TOTAL_BYTES:
            raise DocumentRefused("documents", _too_large())
        try:
            content = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            raise DocumentRefused(f"{where}.content", "not valid base64") from None
        total += len(content)
        if total > MAX_TOTAL_BYTES:
            raise DocumentRefused("documents", _too_large())
        actual = content_type_of(content)
        if actual is None:
            raise DocumentRefused(f"{where}.content", "is not a PDF, PNG or JPEG file")
        if actual != declared.strip().lower():
            raise DocumentRefused(f"{where}.content_type",
                                  f"the content is {actual}, not {declared.strip()}")
        if not filename.lower().endswith(EXTENSIONS[actual]):
            raise DocumentRefused(f"{where}.filename", "must end in " + " or ".join(
                EXTENSIONS[actual]) + f", as its content is {actual}")
        documents.append(Document(filename, actual, content))
    return documents


def _too_large() -> str:
    return f"the documents of one event must be at most {MAX_TOTAL_BYTES:,} bytes (10 MB) decoded"


def note_refusal(agency_id: int, errors: dict[str, str], request_key: str | None = None) -> None:
    """Remember that an event was refused for its documents (troubleshooting's 30 days); once
    per `request_key` (the Idempotency-Key's request), however often the engine retries it."""
    field, reason = next((field, reason) for field, reason in errors.items()
                         if field.startswith("documents"))
    db.session.rollback()
    db.session.add(RefusedDocument(agency_id=agency_id, field=field[:100], reason=reason[:300],
                                   request_key=request_key))
    try:
        db.session.commit()
    except IntegrityError:  # a retry: counted already
        db.session.rollback()


def refusals_since(agency_id: int, since: datetime) -> int:
    return db.session.execute(select(func.count(RefusedDocument.id)).where(
        RefusedDocument.agency_id == agency_id, RefusedDocument.refused_at >= since)).scalar_one()


def store_documents(agency_id: int, outbox_email_id: int, documents: list[Document]) -> None:
    """In the caller's transaction, with the outbox row."""
    db.session.add_all(OutboxDocument(
        agency_id=agency_id, outbox_email_id=outbox_email_id, filename=document.filename,
        content_type=document.content_type, size=len(document.content), content=document.content)
        for document in documents)


def rows_with_documents(row_ids: list[int]) -> set[int]:
    """Which of a batch's rows have documents: one query, without reading the bytes."""
    if not row_ids:
        return set()
    return set(db.session.execute(select(OutboxDocument.outbox_email_id).distinct().where(
        OutboxDocument.outbox_email_id.in_(row_ids))).scalars())


def documents_of(outbox_email_id: int) -> list[Document]:
    """A row's documents, read just before it is sent: a batch never holds all of them at once."""
    rows = db.session.execute(
        select(OutboxDocument.filename, OutboxDocument.content_type, OutboxDocument.content)
        .where(OutboxDocument.outbox_email_id == outbox_email_id)
        .order_by(OutboxDocument.id)).all()
    return [Document(row.filename, row.content_type, bytes(row.content)) for row in rows]


def listed_documents(agency_id: int, row_ids: list[int]) -> dict[int, list]:
    """The email log's page: each row's documents (name, type, size, whether purged), without
    the bytes."""
    found: dict[int, list] = {}
    if not row_ids:
        return found
    for document in db.session.execute(
            select(OutboxDocument.id, OutboxDocument.outbox_email_id, OutboxDocument.filename,
                   OutboxDocument.size, OutboxDocument.content.is_(None).label("deleted"))
            .where(OutboxDocument.agency_id == agency_id,
                   OutboxDocument.outbox_email_id.in_(row_ids))
            .order_by(OutboxDocument.id)).all():
        found.setdefault(document.outbox_email_id, []).append(document)
    return found


def document_for_download(agency_id: int, outbox_email_id: int,
                          document_id: int) -> OutboxDocument | None:
    """One document of the agency's own email; None for another agency's (no hint it exists)
    and once its bytes were purged."""
    return db.session.execute(select(OutboxDocument).where(
        OutboxDocument.id == document_id, OutboxDocument.outbox_email_id == outbox_email_id,
        OutboxDocument.agency_id == agency_id,
        OutboxDocument.content.is_not(None))).scalar_one_or_none()


def has_purged_documents():
    """The condition on OutboxEmail: a document of the email was purged, so it cannot go again
    as it went (the text says the documents are attached)."""
    return select(OutboxDocument.id).where(OutboxDocument.outbox_email_id == OutboxEmail.id,
                                           OutboxDocument.content.is_(None)).exists()


def purge_documents(now: datetime | None = None) -> int:
    """Delete the bytes of the documents of emails done (FINISHED) more than RETENTION ago, and
    the notes of documents refused before then; a rule of the scheduler's tick. The name, type and size stay: the email log says the document
    was deleted, and a resend is refused rather than sent without it. Driven from the documents
    table, one primary-key look-up of its email each, never a scan of the outbox."""
    cutoff = (now or utcnow()) - RETENTION
    finished_long_ago = select(OutboxEmail.id).where(
        OutboxEmail.id == OutboxDocument.outbox_email_id, OutboxEmail.status.in_(FINISHED),
        OutboxEmail.updated_at < cutoff).exists()
    deleted = db.session.execute(
        update(OutboxDocument).where(OutboxDocument.content.is_not(None), finished_long_ago)
        .values(content=None).execution_options(synchronize_session=False)).rowcount
    # The notes of refused documents serve troubleshooting's 30 days, and no longer.
    deleted += db.session.execute(
        delete(RefusedDocument).where(RefusedDocument.refused_at < cutoff)
        .execution_options(synchronize_session=False)).rowcount
    db.session.commit()
    return deleted
