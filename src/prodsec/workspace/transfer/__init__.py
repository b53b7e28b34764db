"""Moving workspace data: backup/restore of a whole database, export/import of one organisation.

Both walk the tables that are actually in the database (reflected, in foreign-key order — the
order of ``Base.metadata.sorted_tables``), so tables added by later migrations are carried
without code changes here; only transient state (``TRANSIENT``: the login limiter, pending
password resets) is left out. Values are written as JSON with dates and times in ISO 8601
(UTC), which is what makes an archive restorable into either backend.

Backup archive (``prodsec db backup``), a zip, format ``prodsec-backup`` version 1::

    manifest.json          format, format_version, schema_revision, created_at, source_dialect,
                           tables: [{name, file, rows, columns, sha256}],
                           blobs: [{sha256, size, file}], missing_blobs: [sha256...],
                           signature: {algorithm, key_id, value} (see below)
    tables/<table>.jsonl   one JSON object per row, every column, ordered by primary key
    evidence/<sha256>      each evidence file a row references (content-addressed)

Organisation export (``prodsec export``), format ``prodsec-organisation-export`` version 1: one
JSON document ``{format, format_version, schema_revision, exported_at, organisation: {id, name,
created_at}, members: [{id, email, name, role, active}], tables: {<table>: [row...]},
blobs: [{sha256, size[, content_base64]}]}``. Written as ``FILE.json`` the blobs are inlined
(base64); written as ``FILE.zip`` the document is ``organisation.json`` and the blobs are
``evidence/<sha256>`` members. ``tables`` holds every table with an ``org_id`` column except
the secrets (API tokens, sessions); members travel by e-mail and role, never with password
hashes: an imported member new to the target workspace has no password until an admin sets one
(or issues a token). Integer counter ids (``audit_events.id``) are workspace-wide and are
reassigned on import.

The export document carries ``signature: {algorithm: "hmac-sha256", key_id, value}``, an HMAC
under the exporting server's secret key (``prodsec.workspace.keys``) over the canonical JSON of
the document without the signature and without the blobs' inline content (each blob is bound by
its SHA-256 instead). An import checks it with this server's key, or with the exporting
server's key when given one (``--export-key-file``): a document edited after export is always
refused; one that is unsigned or signed with an unknown key is refused unless the operator
passes ``--trust-unsigned``, which the ``org.import`` event records, and whose history is then
kept only inside that event. A verified history is re-keyed into the new chain with this
server's key (the ``org.import`` event keeps the source chain's head hash and key id). A
backup's manifest is signed the same way (it binds every member by its SHA-256); a restore
needs the key that made it, the key its audit chain verifies under anyway, or
``--trust-unsigned``; an edited backup is always refused.

An import only creates: every foreign key must point at a row the export itself carries (then
mapped to the id the import gave it), otherwise the import is refused naming the JSON path; a
member whose e-mail already has an account here is not attached to the imported organisation
(an admin adds them), so an export cannot pull an existing account into another organisation.

Archives are read through ``SafeZip``: member count, per-member and total uncompressed size and
the compression ratio are bounded (``ArchiveLimits``), checked from the zip directory and again
while streaming; duplicated, absolute, ``..`` and unexpected member names are refused. Every
value that names a file in the evidence store must be a SHA-256 (64 lowercase hex digits), and
a blob is written to a temporary file inside the store and renamed only once its content
matches its hash, so no import or restore can write outside the store or leave a file behind.

Blobs are staged in ``<evidence>/.staging-*`` and moved into the store only after the database
commit, under a lock the kernel releases if the process dies; ``recover_staging`` (run at the
start of every transfer) publishes staged blobs a committed row references and deletes the
rest. So a killed restore or import leaves neither rows nor orphaned evidence files.

Modules: ``common`` (formats, errors, values and tables, files), ``archive`` (bounded zips),
``staging``, ``signing``, ``backup``, ``restore``, ``export``, ``validation`` (reading and checking
an export document) and ``importing``.
"""


from __future__ import annotations

from prodsec.workspace.transfer.archive import (
    ZIP_READ_ERRORS,
    ArchiveLimits,
    SafeZip,
)
from prodsec.workspace.transfer.backup import (
    backup,
)
from prodsec.workspace.transfer.common import (
    BACKUP_FORMAT,
    BACKUP_MEMBERS,
    BACKUP_VERSION,
    BATCH,
    EXPORT_FORMAT,
    EXPORT_MEMBER,
    EXPORT_MEMBERS,
    EXPORT_VERSION,
    MAX_PROBLEMS,
    NOT_DATA,
    NOT_EXPORTED,
    REQUIRED_BLOBS,
    TRANSIENT,
    ArchiveError,
    ArchiveTooLarge,
    ExportFormatError,
    OrganisationExists,
    SignatureError,
    TargetNotEmpty,
    TransferError,
    TransferResult,
    atomic_file,
    blob_columns,
    blob_refs,
    content_digest,
    copy_hashed,
    counter_pk,
    dump_rows,
    from_json,
    line,
    present_blobs,
    reflect,
    schema_revision,
    sha256_of,
    snapshot,
    to_json,
)
from prodsec.workspace.transfer.export import (
    export_org,
    export_tables,
)
from prodsec.workspace.transfer.importing import (
    IdMap,
    check_signature,
    import_org,
)
from prodsec.workspace.transfer.restore import (
    migrate_to,
    read_manifest,
    restore,
    verify_archive,
)
from prodsec.workspace.transfer.signing import (
    Provenance,
    sign_document,
    signed_content,
    verify_signature,
)
from prodsec.workspace.transfer.staging import (
    StagedBlobs,
    publish_dir,
    recover_staging,
    referenced_blobs,
)
from prodsec.workspace.transfer.validation import (
    VALUE_CHECKS,
    ExportFile,
    read_export,
    validate_export,
)

__all__ = [
    "BACKUP_FORMAT",
    "BACKUP_MEMBERS",
    "BACKUP_VERSION",
    "BATCH",
    "EXPORT_FORMAT",
    "EXPORT_MEMBER",
    "EXPORT_MEMBERS",
    "EXPORT_VERSION",
    "MAX_PROBLEMS",
    "NOT_DATA",
    "NOT_EXPORTED",
    "REQUIRED_BLOBS",
    "TRANSIENT",
    "VALUE_CHECKS",
    "ZIP_READ_ERRORS",
    "ArchiveError",
    "ArchiveLimits",
    "ArchiveTooLarge",
    "ExportFile",
    "ExportFormatError",
    "IdMap",
    "OrganisationExists",
    "Provenance",
    "SafeZip",
    "SignatureError",
    "StagedBlobs",
    "TargetNotEmpty",
    "TransferError",
    "TransferResult",
    "atomic_file",
    "backup",
    "blob_columns",
    "blob_refs",
    "check_signature",
    "content_digest",
    "copy_hashed",
    "counter_pk",
    "dump_rows",
    "export_org",
    "export_tables",
    "from_json",
    "import_org",
    "line",
    "migrate_to",
    "present_blobs",
    "publish_dir",
    "read_export",
    "read_manifest",
    "recover_staging",
    "referenced_blobs",
    "reflect",
    "restore",
    "schema_revision",
    "sha256_of",
    "sign_document",
    "signed_content",
    "snapshot",
    "to_json",
    "validate_export",
    "verify_archive",
    "verify_signature",
]
