"""Turn a document kind into bytes (Markdown, HTML, PDF, text or JSON) and keep a record.

Every prose document is written once, as a Markdown template; HTML is that Markdown rendered
by markdown-it inside a print stylesheet. Nothing typed into the workspace can inject markup:
every text the template is given is Markdown-escaped first (so a product name cannot become a
link, an image the PDF renderer would fetch, a heading or a table cell), raw HTML is disabled
in markdown-it, and the HTML page template escapes whatever it prints; and PDF is that HTML laid out by WeasyPrint (imported only when a PDF is
asked for: it is the optional ``pdf`` extra).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import re
from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup
from sqlalchemy import select
from sqlalchemy.orm import Session

from prodsec.core.knowledge import KnowledgeBase
from prodsec.db.models import GeneratedDocument, Product
from prodsec.documents import generators as g
from prodsec.documents import oscal
from prodsec.documents.facts import (
    GAP_CLOSE,
    GAP_OPEN,
    Facts,
    MissingInformation,
    Unverified,
    UnverifiedFacts,
    collecting,
)
from prodsec.documents.gather import Inputs, gather
from prodsec.errors import InputError
from prodsec.workspace import audit
from prodsec.workspace.compliance import blob_path, store_blob
from prodsec.workspace.context import Actor, NotFound
from prodsec.workspace.scope import owned

KINDS: dict[str, g.Kind] = {k.name: k for k in (
    g.Kind("eu-declaration", "EU declaration of conformity (CRA Annex V)", g.eu_declaration,
           "eu-declaration.md.j2"),
    g.Kind("eu-declaration-simplified", "Simplified EU declaration of conformity (CRA Annex VI)",
           g.eu_declaration_simplified, "eu-declaration-simplified.md.j2"),
    g.Kind("red-declaration", "EU declaration of conformity (Directive 2014/53/EU, radio equipment)",
           g.red_declaration, "red-declaration.md.j2"),
    g.Kind("technical-file", "Technical documentation (CRA Annex VII)", g.technical_file,
           "technical-file.md.j2"),
    g.Kind("user-information", "Information and instructions to the user (CRA Annex II)",
           g.user_information, "user-information.md.j2"),
    g.Kind("psti-statement", "Statement of compliance (UK PSTI)", g.psti_statement,
           "psti-statement.md.j2"),
    g.Kind("vdp", "Vulnerability disclosure policy", g.vdp, "vdp.md.j2", needs_product=False),
    g.Kind("cisa-pledge-report", "Secure by Design pledge progress report",
           g.cisa_pledge_report, "cisa-pledge-report.md.j2"),
    g.Kind("security-txt", "security.txt (RFC 9116)", g.security_txt, "security.txt.j2",
           formats=("txt",), needs_product=False),
    g.Kind("oscal-assessment-results", "OSCAL assessment results", oscal.assessment_results, "",
           formats=("json",)),
    g.Kind("oscal-catalog", "OSCAL catalog of an instrument's requirements", lambda i, f: {}, "",
           formats=("json",), needs_product=False),
)}
MEDIA = {"md": "text/markdown; charset=utf-8", "html": "text/html; charset=utf-8",
         "pdf": "application/pdf", "txt": "text/plain; charset=utf-8", "json": "application/json"}


def kind(name: str) -> g.Kind:
    try:
        return KINDS[name]
    except KeyError:
        from prodsec.errors import NotFoundError

        raise NotFoundError("document kind", name, KINDS) from None


def default_format(name: str) -> str:
    return kind(name).formats[0]


# ---- templates and formats -----------------------------------------------------------------

_MD_SPECIAL = re.compile(r"([\\`*_\[\]|<>#])")


def _inline(value: Any) -> str:
    """A value on one line (lists and tables stay intact): lines are joined with commas."""
    lines = [" ".join(line.split()) for line in str(value).splitlines()]
    return ", ".join(line for line in lines if line)


def _cell(value: Any) -> str:
    """A table cell: one line (its pipes were escaped with the rest of the data)."""
    return _inline(value)


def md_escape(value: Any) -> Any:
    """Data made literal for Markdown: every text inside ``value`` (dicts and lists walked,
    keys kept) with its Markdown punctuation backslash-escaped, which CommonMark renders as
    the character itself. Gaps and other non-text values are left as they are."""
    if isinstance(value, str):
        return _MD_SPECIAL.sub(r"\\\1", value)
    if isinstance(value, dict):
        return {k: md_escape(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(md_escape(v) for v in value)
    return value


@lru_cache(maxsize=1)
def _env() -> Environment:
    """Markdown and plain-text templates: no HTML escaping (they are not HTML); Markdown
    gets its data escaped by ``md_escape`` instead."""
    env = Environment(loader=PackageLoader("prodsec", "templates/documents"),
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True,
                      keep_trailing_newline=True, autoescape=False)
    env.filters["inline"] = _inline
    env.filters["cell"] = _cell
    return env


@lru_cache(maxsize=1)
def _page_env() -> Environment:
    """The HTML page around a rendered document: escapes everything it prints."""
    return Environment(loader=PackageLoader("prodsec", "templates/documents"),
                       undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True,
                       keep_trailing_newline=True, autoescape=True)


def _markdown(template: str, context: dict[str, Any]) -> str:
    return _blocks_apart(_text(template, md_escape(context)))


def _text(template: str, context: dict[str, Any]) -> str:
    return _env().get_template(template).render(**context, _ctx=context)


def _blocks_apart(text: str) -> str:
    """One blank line between blocks: before headings and after tables (template control
    lines swallow newlines), never more than one."""
    out: list[str] = []
    for line in text.splitlines():
        prev = out[-1] if out else ""
        starts_block = line.startswith("#") or (line.startswith("|") and not prev.startswith("|"))
        ends_table = prev.startswith("|") and line.strip() and not line.startswith("|")
        if prev.strip() and (starts_block or ends_table):
            out.append("")
        if line.strip() or (out and out[-1].strip()):
            out.append(line.rstrip())
    return "\n".join(out).strip() + "\n"


@lru_cache(maxsize=1)
def _md_parser() -> Any:
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark", {"html": False, "typographer": False}).enable("table")


def _gap_markup(html: str) -> str:
    pattern = re.escape(GAP_OPEN) + r"(.*?)" + re.escape(GAP_CLOSE)
    html = re.sub(pattern, r'<mark class="gap">MISSING: \1</mark>', html, flags=re.S)
    return html.replace("[unverified]", '<mark class="unverified">unverified</mark>')


def to_html(markdown: str, title: str, draft: bool) -> str:
    # markdown-it's output with raw HTML disabled (every text escaped): markup of ours
    body = Markup(_gap_markup(_md_parser().render(markdown)))
    page = _page_env().get_template("base.html.j2")
    return page.render(title=title, body=body, draft=draft)


def to_pdf(html: str) -> bytes:
    try:
        from weasyprint import HTML  # type: ignore[import-untyped]
    except ImportError:  # pragma: no cover - depends on the installed extras
        raise InputError("PDF output needs the 'pdf' extra: pip install 'prodsec[pdf]'") from None
    return bytes(HTML(string=html).write_pdf())


def _encode(k: g.Kind, fmt: str, context: dict[str, Any], draft: bool) -> bytes:
    if fmt == "json":
        return (json.dumps(context, indent=2, ensure_ascii=False) + "\n").encode()
    if fmt == "txt":
        return _text(k.template, context).encode()
    text = _markdown(k.template, context)
    if fmt == "md":
        return text.encode()
    html = to_html(text, k.title, draft)
    return html.encode() if fmt == "html" else to_pdf(html)


# ---- the entry point -----------------------------------------------------------------------


def collect(kind_name: str, kb: KnowledgeBase, inputs: Inputs, draft: bool,
            subject: str | None = None) -> tuple[dict[str, Any], Facts]:
    """The template context and what it rests on: the gaps and the unverified facts."""
    k = kind(kind_name)
    # OSCAL exports the knowledge base itself: it keeps its [unverified] marks
    facts = Facts(draft=draft or k.formats == ("json",))
    with collecting(facts):
        if k.name == "oscal-catalog":
            context = oscal.catalog(kb, subject or "", inputs.today)
        else:
            context = k.build(inputs, facts)
    return context, facts


def build(kind_name: str, kb: KnowledgeBase, inputs: Inputs, fmt: str, draft: bool,
          subject: str | None = None) -> bytes:
    """The document's bytes from gathered inputs. Unless a draft: raises MissingInformation
    when a fact is missing, then UnverifiedFacts when it rests on a fact marked unverified
    that the organisation has not confirmed (``inputs.acknowledged``)."""
    k = kind(kind_name)
    if fmt not in k.formats:
        raise InputError(f"--format {fmt}: {kind_name} is available as {', '.join(k.formats)}")
    context, facts = collect(kind_name, kb, inputs, draft, subject)
    if not draft and k.formats != ("json",):
        if facts.missing:
            raise MissingInformation(kind_name, facts.missing)
        open_facts = unconfirmed(facts.unverified, inputs.acknowledged)
        if open_facts:
            product = f" {inputs.product.name!r}" if inputs.product else ""
            raise UnverifiedFacts(kind_name, open_facts,
                                  f"prodsec document {kind_name}{product} --confirm KEY "
                                  "--reason TEXT")
    if facts.missing and not draft:
        raise MissingInformation(kind_name, facts.missing)
    if k.formats != ("json",):
        context = context | {"draft": draft}
    return _encode(k, fmt, context, draft)


def check_answers(kb: KnowledgeBase, answers: dict[str, str]) -> dict[str, str]:
    """Answers to OJ-listing restrictions, each naming a restriction the knowledge base knows
    and saying applies or does-not-apply; anything else is refused (never silently ignored)."""
    from prodsec.documents.blocks import ANSWERS, restriction_key
    from prodsec.workspace.context import ValidationFailed

    known = {restriction_key(std, r) for std in kb.standards.values()
             for entry in std.get("oj_listings") or [] for r in entry.get("restrictions") or []
             if r.get("effect") != "informative-only"}
    for key, value in answers.items():
        if key not in known:
            raise ValidationFailed("restriction_answers", f"{key!r}: no such OJ-listing "
                                   f"restriction; expected one of {', '.join(sorted(known))}")
        if value not in ANSWERS:
            raise ValidationFailed("restriction_answers", f"{key}={value!r}: expected "
                                   f"{' or '.join(ANSWERS)}")
    return dict(answers)


def unconfirmed(facts: list[Unverified], acknowledged: set[str]) -> list[Unverified]:
    return [f for f in facts if f.key not in acknowledged]


def render(kind_name: str, session: Session, actor: Actor, product_ref: str | None, fmt: str,
           release: str | None = None, draft: bool = False, *, today: dt.date | None = None,
           kb: KnowledgeBase | None = None, subject: str | None = None,
           answers: dict[str, str] | None = None,
           store: Path | None = None) -> tuple[bytes, GeneratedDocument]:
    """Generate a document and store its generation record (with the audit trail).

    ``product_ref`` is the product (by id or name); kinds that are about the organisation
    (security-txt, vdp) take None. For ``oscal-catalog`` the instrument is ``subject`` (or
    ``product_ref`` when no subject is given). ``answers`` are the manufacturer's answers to
    OJ-listing restrictions (``<standard>:<restriction>`` → applies | does-not-apply), kept in
    the generation record (and so in the audit trail). ``store``: the evidence store, where the
    bytes are kept under their SHA-256 so the record can be downloaded later exactly as issued
    (``document_file``; backups and exports carry the file with the record).
    """
    from prodsec.services.knowledge import knowledge_base

    actor.require("editor")  # it stores a generation record: a write, whichever face asks
    kb = kb or knowledge_base()
    k = kind(kind_name)
    today = today or dt.date.today()
    if k.name == "oscal-catalog":
        subject = subject or product_ref
        if not subject:
            raise InputError("oscal-catalog needs an instrument id, e.g. eu-cra")
        kb.document(subject)
        product_ref = None
    elif k.needs_product and not product_ref:
        raise InputError(f"{kind_name} is about a product: name one")
    elif not k.needs_product:
        product_ref = None
    inputs = gather(session, actor, kb, product_ref, release, today)
    inputs.answers = check_answers(kb, answers or {})
    data = build(kind_name, kb, inputs, fmt, draft, subject)
    if store is None:
        return data, _record(session, actor, k, inputs, fmt, draft, data, subject)
    sha, _size, created = store_blob(store, io.BytesIO(data))
    try:
        return data, _record(session, actor, k, inputs, fmt, draft, data, subject)
    except BaseException:
        if created:  # a failed write leaves no file behind either
            blob_path(store, sha).unlink(missing_ok=True)
        raise


def _record(session: Session, actor: Actor, k: g.Kind, inputs: Inputs, fmt: str, draft: bool,
            data: bytes, subject: str | None) -> GeneratedDocument:
    record = GeneratedDocument(
        org_id=actor.org_id, product_id=inputs.product.id if inputs.product else None,
        release_label=inputs.release.version_label if inputs.release else None,
        subject=subject, kind=k.name, fmt=fmt, draft=draft,
        inputs=inputs.versions() | {"issued": inputs.today.isoformat()},
        inputs_digest=_digest(k, inputs, subject), kb_version=inputs.kb.version,
        sha256=hashlib.sha256(data).hexdigest(), size=len(data), created_by=actor.email)
    session.add(record)
    session.flush()
    audit.record(session, actor, "document.generate", "generated_document", record.id, None,
                 record_view(record))
    return record


def _digest(k: g.Kind, inputs: Inputs, subject: str | None) -> str:
    """A catalog depends on the knowledge base alone; every other kind on the workspace."""
    if k.name == "oscal-catalog":
        return hashlib.sha256(f"catalog:{subject}".encode()).hexdigest()
    return inputs.digest()


# ---- records and staleness -----------------------------------------------------------------


def record_view(r: GeneratedDocument, stale: bool | None = None) -> dict[str, Any]:
    out = {"id": r.id, "kind": r.kind, "format": r.fmt, "draft": r.draft,
           "product_id": r.product_id, "release": r.release_label, "subject": r.subject,
           "sha256": r.sha256, "size": r.size, "kb_version": r.kb_version,
           "inputs": r.inputs, "created_by": r.created_by, "created_at": r.created_at.isoformat()}
    if stale is not None:
        out["stale"] = stale
    return out


def filename(r: GeneratedDocument) -> str:
    """The name a download is saved under: kind, release, draft mark, date, format."""
    parts = [r.kind, r.release_label or r.subject or "", "draft" if r.draft else "",
             r.created_at.strftime("%Y%m%d-%H%M%S")]
    stem = "-".join(p for p in parts if p)
    return re.sub(r"[^A-Za-z0-9._-]+", "_", stem)[:120] + f".{r.fmt}"


def document_file(session: Session, actor: Actor, store: Path, record_id: str
                  ) -> tuple[GeneratedDocument, Path]:
    """A generation record of the actor's organisation and the file of the bytes it issued:
    ``NotFound`` for another organisation's record, or one generated before documents were
    kept (its hash is on record; generating it again gives today's version)."""
    record = owned(session, actor, GeneratedDocument, record_id, "generated document")
    path = blob_path(store, record.sha256)
    if not path.exists():
        raise NotFound(f"generated document {record_id!r} was not kept (generated before "
                       "documents were stored, or its file is missing): generate it again")
    return record, path


def media_type(r: GeneratedDocument) -> str:
    return MEDIA.get(r.fmt, "application/octet-stream")


def list_records(session: Session, actor: Actor, product_ref: str | None,
                 kb: KnowledgeBase | None = None) -> list[dict[str, Any]]:
    """Generation records (newest first), each with ``stale``: its inputs changed since."""
    from prodsec.services.knowledge import knowledge_base
    from prodsec.workspace.products import get_product

    kb = kb or knowledge_base()
    query = select(GeneratedDocument).where(GeneratedDocument.org_id == actor.org_id)
    product: Product | None = None
    if product_ref:
        product = get_product(session, actor, product_ref)
        query = query.where(GeneratedDocument.product_id == product.id)
    rows = list(session.scalars(query.order_by(GeneratedDocument.created_at.desc(),
                                               GeneratedDocument.id)))
    digests: dict[tuple[str | None, str | None], str | None] = {}
    return [record_view(r, _stale(session, actor, kb, r, digests)) for r in rows]


def _stale(session: Session, actor: Actor, kb: KnowledgeBase, r: GeneratedDocument,
           cache: dict[tuple[str | None, str | None], str | None]) -> bool:
    if r.kb_version != kb.version or r.kind == "oscal-catalog":
        return r.kb_version != kb.version
    key = (r.product_id, r.release_label)
    if key not in cache:
        try:
            cache[key] = gather(session, actor, kb, r.product_id, r.release_label,
                                dt.date.today()).digest()
        except InputError:  # the product or release is gone
            cache[key] = None
    return cache[key] != r.inputs_digest
