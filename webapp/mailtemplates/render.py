"""Rendering notification emails from an agency's templates, and checking a template's parts."""
import functools
from dataclasses import dataclass, field

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from jinja2 import StrictUndefined, Template, TemplateSyntaxError, nodes
from jinja2.sandbox import ImmutableSandboxedEnvironment
from markupsafe import escape

from webapp import notification_kinds as kinds
from webapp.extensions import db
from webapp.models import Agency, EmailTemplate
from webapp.text_rules import breaks_header

# Why a template can neither hang a worker nor exhaust its memory.
# The sandbox stops the attribute tricks of template injection, but not a loop of a billion
# rounds, a macro calling itself twice, or a string doubled a hundred times by `set`, and a
# Python thread cannot be interrupted from outside. A separate process with a timeout would
# bound only the sample render (real data takes other branches) and cost a process per keystroke
# of the preview. So a template may only use what a notification needs (variables, `if`,
# comparisons, `~ + - /` and filters that never grow their input), checked on the parsed
# template, every branch, each time it is compiled, whether it comes from the form, the CLI or
# the database. Without loops, assignments, macros, calls, `*`, `**` and `%`, every node runs at
# most once: time and output are linear in the (capped) source and the data; the output cap
# catches large data.
PARTS = ("subject", "body_text", "body_html")
PART_TITLES = {"subject": _l("Subject"), "body_text": _l("Text body"), "body_html": _l("HTML body")}
# The subject fits EmailTemplate.subject; a body of 20,000 characters is a long letter already.
MAX_SOURCE_CHARS = {"subject": 500, "body_text": 20_000, "body_html": 20_000}
MAX_OUTPUT_CHARS = 200_000
_SUBJECT_CONTROL_CHARACTERS = _l("must not contain control characters (NUL, tabs and the like): "
                                 "the subject is an email header.")
FILTERS = ("abs", "capitalize", "d", "default", "first", "float", "int", "last", "length",
           "lower", "round", "string", "striptags", "title", "trim", "truncate", "upper",
           "wordcount")
_ALLOWED_NODES = frozenset({
    nodes.Output, nodes.TemplateData, nodes.Const, nodes.Name, nodes.If, nodes.CondExpr,
    nodes.And, nodes.Or, nodes.Not, nodes.Neg, nodes.Pos, nodes.Add, nodes.Sub, nodes.Div,
    nodes.Compare, nodes.Operand, nodes.Concat, nodes.Filter, nodes.Test, nodes.Getattr,
    nodes.Getitem, nodes.Slice, nodes.Tuple, nodes.List, nodes.Keyword,
})
# How a refused construct is shown to the person who wrote it.
_CONSTRUCTS = {
    nodes.For: "{% for %}", nodes.Assign: "{% set %}", nodes.AssignBlock: "{% set %}",
    nodes.Macro: "{% macro %}", nodes.CallBlock: "{% call %}", nodes.With: "{% with %}",
    nodes.FilterBlock: "{% filter %}", nodes.Include: "{% include %}",
    nodes.Import: "{% import %}", nodes.FromImport: "{% import %}",
    nodes.Extends: "{% extends %}", nodes.Block: "{% block %}", nodes.Call: "( )",
    nodes.Mul: "*", nodes.Pow: "**", nodes.Mod: "%", nodes.FloorDiv: "//", nodes.Dict: "{ }",
}

# S8: the payment-problem text is fixed, not a template; {order_number} is the only value.
PAYMENT_PROBLEM_TEXTS = {
    "ru": {"subject": "Проблема при оплате",
           "issued_unpaid": "{order_number}. Заказ выписан, но оплата не подтверждена.",
           "cancelled_paid": "{order_number}. Оплачен аннулированный заказ."},
    "en": {"subject": "Payment problem",
           "issued_unpaid": "{order_number}. The order is issued but the payment is not confirmed.",
           "cancelled_paid": "{order_number}. A cancelled order has been paid."},
}


class TemplateMissing(LookupError):
    """No enabled template for this agency, kind and language: the email is skipped (S11)."""


class TemplateBroken(TemplateMissing):
    """A saved template that fails on this email's data: skipped like a missing one, with why."""


class TemplateProblem(Exception):
    """A part that cannot be saved or rendered; the message names the part and what is wrong."""

    def __init__(self, part: str, message: str):
        super().__init__(message)
        self.part = part


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    text: str
    html: str


@dataclass
class Preview:
    """A template rendered with its kind's sample data: each part's result or its problem."""

    rendered: dict[str, str] = field(default_factory=dict)
    problems: dict[str, str] = field(default_factory=dict)


def _environment(autoescape: bool) -> ImmutableSandboxedEnvironment:
    environment = ImmutableSandboxedEnvironment(
        undefined=StrictUndefined, autoescape=autoescape, keep_trailing_newline=True)
    environment.globals.clear()  # range, namespace, cycler, lipsum: loops and state, not allowed
    environment.filters = {name: environment.filters[name] for name in FILTERS}
    return environment


# Only the HTML body is escaped: subject and text are plain text, where "&amp;" would be wrong.
_ENVIRONMENTS = {part: _environment(autoescape=part == "body_html") for part in PARTS}


def _problem(part: str, problem: str, line: int | None = None) -> TemplateProblem:
    where = PART_TITLES[part]
    if line is not None:
        where = _("%(part)s, line %(line)d", part=where, line=line)
    return TemplateProblem(part, _("%(where)s: %(problem)s", where=where, problem=problem))


def _node_problem(node: nodes.Node, variables: dict) -> str | None:
    if type(node) not in _ALLOWED_NODES:
        construct = _CONSTRUCTS.get(type(node), type(node).__name__)
        return _("“%(construct)s” is not available in email templates: use variables, “if” and "
                 "filters.", construct=construct)
    private = (node.attr if isinstance(node, nodes.Getattr) else
               node.arg.value if isinstance(node, nodes.Getitem) and isinstance(node.arg, nodes.Const)
               else None)
    if isinstance(private, str) and private.startswith("_"):
        return _("“%(name)s” is not allowed: names starting with “_” are internal.", name=private)
    if isinstance(node, nodes.Filter) and node.name not in FILTERS:
        return _("the filter “%(name)s” is not available. Available filters: %(allowed)s.",
                 name=node.name, allowed=", ".join(FILTERS))
    if isinstance(node, nodes.Name) and node.name not in variables:
        return _("unknown variable “%(name)s”. Allowed variables: %(allowed)s.",
                 name=node.name, allowed=", ".join(sorted(variables)))
    return None


def compile_part(kind: str, part: str, source: str) -> Template:
    """The compiled part, or TemplateProblem saying what to change (size, syntax, a construct)."""
    if len(source) > MAX_SOURCE_CHARS[part]:
        raise _problem(part, _("longer than %(limit)d characters.", limit=MAX_SOURCE_CHARS[part]))
    if part == "subject" and ("\r" in source or "\n" in source):
        raise _problem(part, _("must be a single line."))
    if part == "subject" and breaks_header(source):
        raise _problem(part, _SUBJECT_CONTROL_CHARACTERS)
    environment = _ENVIRONMENTS[part]
    try:
        tree = environment.parse(source)
        variables = kinds.sample_context(kind)
        for node in tree.find_all(nodes.Node):
            problem = _node_problem(node, variables)
            if problem:
                raise _problem(part, problem, node.lineno)
        return environment.from_string(tree)
    except TemplateSyntaxError as exc:
        raise _problem(part, exc.message or str(exc), exc.lineno) from exc
    except ValueError as exc:  # a number literal too long for Python (int max str digits)
        raise _problem(part, str(exc)) from exc
    except RecursionError as exc:
        # Jinja parses, checks and compiles an expression recursively: thousands of nested
        # brackets, signs, "not"s, "+"s or filters exhaust the stack long before the size cap.
        raise _problem(part, _("an expression is nested too deeply: split it or simplify it.")) \
            from exc


def _render_part(part: str, template: Template, context: dict) -> str:
    chunks, size = [], 0
    try:
        for chunk in template.generate(context):
            size += len(chunk)
            if size > MAX_OUTPUT_CHARS:
                raise _problem(part, _("the result is longer than %(limit)d characters.",
                                       limit=MAX_OUTPUT_CHARS))
            chunks.append(chunk)
    except TemplateProblem:
        raise
    except Exception as exc:  # the template is the agency's code: any error in it is its own
        raise _problem(part, _("cannot be rendered: %(error)s", error=exc)) from exc
    rendered = "".join(chunks)
    if part != "subject":
        return rendered
    # A value with a line break must not end the Subject header (header injection).
    subject = " ".join(rendered.split())
    if breaks_header(subject):  # a control character from the data: never sent raw
        raise _problem(part, _SUBJECT_CONTROL_CHARACTERS)
    return subject


def preview(kind: str, sources: dict[str, str]) -> Preview:
    """Every part rendered with the kind's sample data; the one check before a template is saved."""
    result = Preview()
    for part in PARTS:
        try:
            template = compile_part(kind, part, sources[part])
            result.rendered[part] = _render_part(part, template, kinds.sample_context(kind))
        except TemplateProblem as exc:
            result.problems[part] = str(exc)
    return result


@dataclass(frozen=True)
class _CompiledEmail:
    templates: dict[str, Template]

    def render(self, context: dict) -> RenderedEmail:
        subject, text, html = (_render_part(part, self.templates[part], context) for part in PARTS)
        return RenderedEmail(subject=subject, text=text, html=html)


# Keyed by the sources, which change with every edit (as updated_at does): a batch compiles a
# template once, and the many agencies still on the same default share one compiled copy.
@functools.lru_cache(maxsize=512)
def _compiled(kind: str, subject: str, body_text: str, body_html: str) -> _CompiledEmail:
    sources = {"subject": subject, "body_text": body_text, "body_html": body_html}
    return _CompiledEmail({part: compile_part(kind, part, sources[part]) for part in PARTS})


@dataclass(frozen=True)
class AgencyTemplate:
    """An agency's template of one kind and language, compiled: loaded once, renders a batch."""

    kind: str
    language: str
    compiled: _CompiledEmail | None  # None for the fixed payment-problem text (S8)
    agency_values: dict

    def render(self, context: dict) -> RenderedEmail:
        if self.compiled is None:
            return _payment_problem(self.language, context)
        try:
            return self.compiled.render({**self.agency_values, **context})
        except TemplateProblem as exc:
            raise TemplateBroken(f"{self.kind}/{self.language}: {exc}") from exc


def load_template(agency_id: int, kind: str, language: str) -> AgencyTemplate:
    """The agency's enabled template of `kind` in `language`; TemplateMissing if there is none.

    No fallback to another language: a disabled template is how an agency stops a kind in a
    language, and a client who chose Russian should not get English instead (or the reverse).
    """
    if kind == kinds.PAYMENT_PROBLEM:
        if language not in PAYMENT_PROBLEM_TEXTS:
            raise TemplateMissing(f"no payment-problem text in {language!r}")
        return AgencyTemplate(kind, language, None, {})
    found = db.session.execute(
        db.select(EmailTemplate, Agency.name, Agency.email)
        .join(Agency, Agency.id == EmailTemplate.agency_id)
        .filter(EmailTemplate.agency_id == agency_id, EmailTemplate.kind == kind,
                EmailTemplate.language == language, EmailTemplate.enabled)).first()
    if found is None:
        raise TemplateMissing(f"no enabled {kind} template in {language!r}")
    row, agency_name, agency_email = found
    try:
        compiled = _compiled(kind, row.subject, row.body_text, row.body_html)
    except TemplateProblem as exc:
        raise TemplateBroken(f"{kind}/{language}: {exc}") from exc
    return AgencyTemplate(kind, language, compiled,
                          {"agency_name": agency_name, "agency_email": agency_email or ""})


def render_email(agency_id: int, kind: str, language: str, context: dict) -> RenderedEmail:
    """The email of one notification, from the agency's enabled template in `language`."""
    return load_template(agency_id, kind, language).render(context)


def _payment_problem(language: str, context: dict) -> RenderedEmail:
    texts = PAYMENT_PROBLEM_TEXTS[language]
    body = texts.get(context.get("problem"))
    if body is None:
        raise TemplateBroken(f"unknown payment problem {context.get('problem')!r}")
    text = body.format(order_number=context.get("order_number", ""))
    return RenderedEmail(subject=texts["subject"], text=text, html=f"<p>{escape(text)}</p>")
