"""The exception tree, in one module. Every error a user can cause is a ``ProdsecError`` with a
message that says what was wrong and what was expected; each class carries what every face
makes of it: ``exit_code`` (the CLI), ``http_status`` (the API's problem+json and the web's
error page, the same number) and ``slug`` (a stable name, the ``code`` member of the problem
body). The faces read these attributes in one handler each (``cli.failure.report``,
``api.problems.on_prodsec_error``, ``web.pages.common.status_of``) and map nothing by hand;
``tests/test_errors.py`` walks every subclass and holds the three faces to them.

                                            exit  HTTP
ProdsecError                                   1   500  (message hidden from HTTP clients)
├── KnowledgeBaseError                         3   500  the shipped knowledge files are invalid
├── JobFailed                                  1   500  a job ran out of attempts
├── LoginThrottled                             1   429  too many failed sign-ins (Retry-After)
├── ServiceBusy                                1   503  contention a retry resolves (Retry-After)
├── MissingExtra                               2   501  an optional dependency is not installed
├── SmtpNotConfigured*                                 no usable PRODSEC_SMTP_URL (set-up)
├── PermissionDenied                           2   403  the actor's role does not allow it
└── InputError                                 2   422  a user's file, field or argument
    ├── ProfileError*                                   a product profile is invalid
    ├── NotFoundError                              404  an unknown knowledge id, with suggestions
    ├── NotFound                                   404  no such object in the actor's organisation
    ├── Conflict                                   409  a uniqueness rule; 412 a stale version
    ├── ValidationFailed                           422  one named field (``errors`` in the problem)
    │   ├── EvidenceTooLarge                       413  an upload over the size limit
    │   ├── ItemsMissing*                               an Article 14 report's empty items
    │   ├── TriageQueryError                            a findings query's filter or sort value
    │   └── OrganisationChoice*                         the account is in several organisations
    ├── TextRefused                                     a NUL or a lone surrogate in a text field
    ├── SecretKeyError                             500  no usable secret key (the server's set-up)
    ├── Invalid                                         a command's input failed its full report
    ├── BadRows*                                        a bulk status file has bad rows
    ├── DocumentRefused                                 a document cannot be generated as asked
    │   ├── NotApplicable                               its instrument does not apply here
    │   ├── MissingInformation*                         facts it needs are missing
    │   └── UnverifiedFacts*                            it rests on unconfirmed facts
    ├── TransferError                                   a backup, export or target unusable
    │   ├── ArchiveError                                not a prodsec backup, damaged, tampered
    │   │   └── ArchiveTooLarge                         it would expand beyond the limits
    │   ├── TargetNotEmpty                              a restore goes into an empty database
    │   ├── OrganisationExists                          the target has that organisation
    │   ├── SignatureError                              an export's signature does not match
    │   └── ExportFormatError*                          an export does not validate
    └── FormatError                                     a file is not valid in its format
        ├── UnsupportedVersion                          a spec version prodsec does not read
        ├── SbomFormatError                             CycloneDX (JSON, XML) or SPDX
        │   └── UnsupportedSbomVersion                  (also an UnsupportedVersion)
        ├── AdvisoryFormatError                         an OSV advisory (JSON, YAML, a zip)
        ├── CsafFormatError                             a CSAF 2.0 document
        │   └── UnsupportedCsafVersion                  (also an UnsupportedVersion)
        ├── VexFormatError                              CycloneDX VEX, OpenVEX or CSAF VEX
        ├── CsafTreeError                               a CSAF provider tree (metadata, feeds)
        └── OpenPgpError                                an unusable OpenPGP key, or no gpg

A blank column inherits its parent's value. The classes marked * carry a domain type of a
higher layer (a profile's problems, a document's missing facts, an export's JSON paths), so
they are defined next to it — ``core.profile``, ``workspace.users``,
``workspace.status_changes``, ``documents.facts``, ``workspace.transfer.common``,
``workspace.article14_reports``, ``workspace.notification_delivery`` — as
subclasses of a class here, and take their numbers from it. The old homes of the others
re-export them (``workspace.context.NotFound`` is ``errors.NotFound``).

Each parser raises its own type and nothing else for bad input (``tests/fuzz`` holds them to
it); a reader's ``UnsupportedVersion`` is also its format's error (e.g.
``UnsupportedSbomVersion``), so ``except SbomFormatError`` catches both.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sized


class ProdsecError(Exception):
    """Base of every error a user can act on. A 500 is the server's fault: the API hides the
    message from the client (it goes to the log), the CLI prints it."""

    exit_code = 1
    http_status = 500
    slug = "internal-error"

    @property
    def headers(self) -> Mapping[str, str]:
        """HTTP headers the answer needs (Retry-After, say); none by default."""
        return {}


class KnowledgeError:
    """One problem in one knowledge file. (A plain class: ``dataclasses`` costs start-up.)"""

    __slots__ = ("file", "message", "path")

    def __init__(self, file: str, path: str, message: str) -> None:
        self.file, self.path, self.message = file, path, message

    def __repr__(self) -> str:
        return f"KnowledgeError({self.file!r}, {self.path!r}, {self.message!r})"

    def __str__(self) -> str:
        where = f"{self.file}: {self.path}" if self.path else self.file
        return f"{where}: {self.message}"


class KnowledgeBaseError(ProdsecError):
    """The knowledge files are invalid; ``errors`` lists every problem found."""

    exit_code = 3
    slug = "knowledge-base-invalid"

    def __init__(self, errors: list[KnowledgeError]) -> None:
        self.errors = errors
        lines = "\n".join(f"  {e}" for e in errors)
        super().__init__(f"the knowledge base has {len(errors)} error(s):\n{lines}")


class JobFailed(ProdsecError):
    """A job ran out of attempts (on SQLite, where jobs run in the caller's process)."""

    slug = "job-failed"


class LoginThrottled(ProdsecError):
    """Too many failed logins for this account or from this client: not bad input, a wait."""

    http_status = 429
    slug = "login-throttled"

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"too many failed sign-ins; try again in {retry_after} s")
        self.retry_after = retry_after

    @property
    def headers(self) -> Mapping[str, str]:
        return {"Retry-After": str(self.retry_after)}


class ServiceBusy(ProdsecError):
    """Concurrent requests kept colliding on the same row past a bounded number of retries:
    the request was right and will succeed when repeated (503 with Retry-After, RFC 9110
    15.6.4), unlike a 409, which tells the client to change its request."""

    http_status = 503
    slug = "service-busy"

    def __init__(self, message: str, retry_after: int = 1) -> None:
        super().__init__(message)
        self.retry_after = retry_after

    @property
    def headers(self) -> Mapping[str, str]:
        return {"Retry-After": str(self.retry_after)}


class MissingExtra(ProdsecError):
    """A command needs an optional dependency that is not installed: the installation's
    business, not the input's (501 Not Implemented on a server)."""

    exit_code = 2
    http_status = 501
    slug = "missing-extra"

    def __init__(self, extra: str, module: str) -> None:
        self.extra, self.module = extra, module
        super().__init__(f"this command needs the optional '{extra}' dependencies (module "
                         f"'{module}' is not installed); install them with: "
                         f"pip install 'prodsec[{extra}]'")


class PermissionDenied(ProdsecError):
    """The actor's role does not allow this action."""

    exit_code = 2
    http_status = 403
    slug = "permission-denied"


class InputError(ProdsecError):
    """Bad user input: a file, a field, an argument."""

    exit_code = 2
    http_status = 422
    slug = "invalid-input"


class NotFoundError(InputError):
    """An id that does not exist; the message suggests the nearest known ids."""

    http_status = 404
    slug = "not-found"

    def __init__(self, what: str, wanted: str, known: Iterable[str]) -> None:
        self.what, self.wanted = what, wanted
        self.suggestions = suggest(wanted, known)
        hint = f"; did you mean {', '.join(self.suggestions)}?" if self.suggestions else ""
        super().__init__(f"unknown {what} {wanted!r}{hint}")


class NotFound(InputError):
    """No such object *in the actor's organisation* (another organisation's id answers the
    same: existence is never revealed)."""

    http_status = 404
    slug = "not-found"


class Conflict(InputError):
    """The object changed since it was read (412, ``precondition``), or a uniqueness rule was
    broken (409)."""

    http_status = 409
    slug = "conflict"

    def __init__(self, message: str, current: object = None, precondition: bool = True) -> None:
        super().__init__(message)
        self.current = current
        self.precondition = precondition
        if precondition:
            self.http_status, self.slug = 412, "precondition-failed"


class ValidationFailed(InputError):
    """A field is invalid; ``field`` names it."""

    slug = "validation-failed"

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.detail = message


class TriageQueryError(ValidationFailed):
    """A filter or sort value of a findings query is not one prodsec knows."""


class EvidenceTooLarge(ValidationFailed):
    """An upload over the size limit."""

    http_status = 413
    slug = "too-large"


class TextRefused(InputError):
    """A text field holds a NUL character or a lone surrogate; ``field`` names it."""

    slug = "text-refused"

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field, self.detail = field, message


class SecretKeyError(InputError):
    """No usable secret key (missing, too short, unreadable); the message says where to put
    one. Set up by whoever runs prodsec: a server's fault, not its client's (500)."""

    http_status = 500
    slug = "secret-key"


class Invalid(InputError):
    """A command's input is invalid (or some inputs failed): exit code 2 after the full report.

    Raised rather than ``typer.Exit(2)`` so that the one error handler gives the exit code."""


def refusal_status(refused: Sized, ok: int = 200) -> int:
    """The status of a document imported in part: ``Invalid``'s when any item was refused,
    else ``ok``. The refused items are the input's fault and reported in full while the others
    were stored, which is what ``Invalid`` is (a failed full report); stated here once so the
    API's problem, the web page and the CLI's exit code (``Invalid.exit_code``) agree."""
    return Invalid.http_status if len(refused) else ok


class DocumentRefused(InputError):
    """A document cannot be generated as asked; the message says what would make it possible."""

    slug = "document-refused"


class NotApplicable(DocumentRefused):
    """The document belongs to an instrument that does not apply to this product."""


class TransferError(InputError):
    """A backup, export or target that cannot be used; the message names the file."""

    slug = "transfer-refused"


class ArchiveError(TransferError):
    """The archive is not a prodsec backup, is damaged or was tampered with."""


class TargetNotEmpty(TransferError):
    """A restore only goes into an empty database, so nothing is silently merged."""


class OrganisationExists(TransferError):
    """The target already has an organisation of that name."""


class ArchiveTooLarge(ArchiveError):
    """An archive that would expand beyond ``ArchiveLimits`` (a decompression bomb, say)."""


class SignatureError(TransferError):
    """An export whose signature is missing, made with another key, or does not match."""


class FormatError(InputError):
    """A file is not valid in its format. The message names the file, the location (line and
    column, or a JSON pointer) and what was expected; ``source``, ``line`` and ``column`` are
    kept apart for callers that report them in their own words."""

    slug = "invalid-file"

    def __init__(self, message: str, *, source: str | None = None, line: int | None = None,
                 column: int | None = None, problem: str | None = None) -> None:
        super().__init__(message)
        self.source, self.line, self.column = source, line, column
        self.problem = problem or message


class UnsupportedVersion(FormatError):
    """A file declares a spec version prodsec does not read."""

    slug = "unsupported-version"


class SbomFormatError(FormatError):
    """A CycloneDX or SPDX document cannot be read."""


class UnsupportedSbomVersion(SbomFormatError, UnsupportedVersion):
    """An SBOM of a CycloneDX or SPDX version prodsec does not read."""


class AdvisoryFormatError(FormatError):
    """An OSV advisory (or a zip or directory of them) cannot be read."""


class CsafFormatError(FormatError):
    """A CSAF document cannot be read."""


class UnsupportedCsafVersion(CsafFormatError, UnsupportedVersion):
    """A CSAF document of a version other than 2.0."""


class VexFormatError(FormatError):
    """A VEX document (CycloneDX VEX, OpenVEX, CSAF VEX) cannot be read."""


class CsafTreeError(FormatError):
    """A CSAF provider tree (CSAF 2.0 section 7) cannot be read or written."""


class OpenPgpError(FormatError):
    """An OpenPGP key that cannot be used (none, several, wrong passphrase), or GnuPG missing."""


def suggest(wanted: str, known: Iterable[str], n: int = 3) -> list[str]:
    """The nearest known names, for 'did you mean' hints."""
    import difflib

    known = list(known)
    close = difflib.get_close_matches(wanted, known, n=n, cutoff=0.5)
    if not close:
        close = [k for k in known if wanted.lower() in k.lower()][:n]
    return close
