"""The project's legal reference, rendered as Markdown from the catalogue the engine runs on (sdk/rules/data/).

`consentry rules docs --output docs/rules` writes it; the files in docs/rules/ are committed, and a test fails when
they no longer match the catalogue. The output depends on the catalogue alone, in a fixed (sorted) order, so the
same catalogue always gives the same bytes.
"""

from collections.abc import Iterable
from pathlib import Path

from .catalogue import FactInfo, ReasonInfo, Source, WhenUnknown, conditions, facts, reasons, sources
from .vocabulary import Confidence, LegalBasis, Verdict

__all__ = ["COMMAND", "render", "write"]

COMMAND = "consentry rules docs --output docs/rules"
_GENERATED = (
    f"<!-- Generated from sdk/rules/data/ by `{COMMAND}`. Do not edit by hand: edit the catalogue and run it again. -->"
)
_JURISDICTION_NAMES = {
    "FR": "France",
    "EU": "European Union: the GDPR and EU-wide rules",
    "DE": "Germany",
    "IT": "Italy",
    "ES": "Spain",
    "BE": "Belgium",
    "NL": "Netherlands",
    "UK": "United Kingdom",
    "US": "United States",
    "any": "Consentry's own codes",
}
_JURISDICTION_NOTES = {
    "EU": "Objections and rights requests carry these codes in every jurisdiction Consentry covers; the consent codes "
    "explain decisions outside France, where French codes stand for the same rules.",
    "any": "These belong to no law: they say why Consentry gave no permission.",
}
_CONFIDENCE_WORDS = {
    Confidence.CONFIRMED: "checked in the text of the law itself, or in guidance the regulator publishes",
    Confidence.SECONDARY: "known only from consistent secondary sources (law firms, the press, professional bodies)",
    Confidence.UNCONFIRMED: "a single unofficial source, or none: to be checked before relying on it",
    Confidence.INTERPRETATION: "no text settles the point; Consentry takes the cautious reading",
}
_VERDICT_WORDS = {
    Verdict.ALLOWED: "The action is lawful as described, and no rule attaches a condition to it.",
    Verdict.ALLOWED_WITH_CONDITIONS: "The action is lawful only if every listed condition is met. Conditions are "
    "duties of the sender for this action: what the message or call must contain, when it may happen, what to record "
    "or keep. Consentry cannot check them for you.",
    Verdict.FORBIDDEN: "The action is not lawful. The listed conditions are remedies: what would have to change "
    "(collect a valid consent, add the person to the suppression list, give a missing fact...). Meeting them does "
    "not by itself make the action lawful; decide again once they are done.",
}
_BASIS_WORDS = {
    LegalBasis.CONSENT: "the person agreed beforehand",
    LegalBasis.SOFT_OPT_IN: "an existing-customer exception to consent",
    LegalBasis.LEGITIMATE_INTEREST: "the sender's legitimate interest, the person keeping the right to object",
    LegalBasis.CONTRACT: "a contract in progress with the person",
    LegalBasis.LEGAL_OBLIGATION: "a duty the law puts on the sender (answering a request, keeping a proof)",
    LegalBasis.NOT_PERSONAL_DATA: "the contact details are not a person's data (a company's generic address)",
}
_UNKNOWN_WORDS = {
    WhenUnknown.AGAINST: "counts against the contact: the engine reads it as its least favourable value, so leaving "
    "it unknown never makes a decision more permissive than any value it could have",
    WhenUnknown.NONE: "means the event it records did not happen, or there is none",
    WhenUnknown.INFORMATIVE: "changes nothing: the fact describes the case and no rule decides on it",
}


def render() -> dict[str, str]:
    """Every file of the reference, by name."""
    return {
        "README.md": _index(),
        "conditions.md": _conditions(),
        "facts.md": _facts(),
        "reason-codes.md": _reason_codes(),
        "sources.md": _sources(),
    }


def write(directory: Path) -> list[Path]:
    """Write the reference into `directory` (created if needed); returns the files written."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in render().items():
        path = directory / name
        path.write_text(text, encoding="utf-8", newline="\n")
        written.append(path)
    return written


def _page(title: str, *blocks: str) -> str:
    return "\n\n".join((_GENERATED, f"# {title}", *blocks)).rstrip() + "\n"


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def _table(header: Iterable[str], rows: Iterable[Iterable[str]]) -> str:
    head = list(header)
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(_cell(value) for value in row) + " |" for row in rows]
    return "\n".join(lines)


def _anchor(code: str) -> str:
    """The anchor a Markdown renderer gives a heading made of the code alone."""
    return code.lower()


def _in_force(info: ReasonInfo) -> str:
    start, end = info.in_force_from, info.in_force_until
    if start and end:
        return f"{start.isoformat()} to {end.isoformat()}"
    if start:
        return f"from {start.isoformat()}"
    if end:
        return f"until {end.isoformat()}"
    return "no dated rule"


def _source_link(source: Source) -> str:
    return f"[{source.title}]({source.url})" if source.url else source.title


def _jurisdictions() -> list[str]:
    present = {info.jurisdiction for info in reasons().values()}
    return [code for code in _JURISDICTION_NAMES if code in present]


def _index() -> str:
    counts = {code: sum(1 for info in reasons().values() if info.jurisdiction == code) for code in _jurisdictions()}
    decisions = "\n".join(f"- **`{verdict.value}`**: {_VERDICT_WORDS[verdict]}" for verdict in Verdict)
    bases = "\n".join(f"- `{basis.value}`: {_BASIS_WORDS[basis]}" for basis in LegalBasis)
    levels = "\n".join(f"- `{level.value}`: {_CONFIDENCE_WORDS[level]}" for level in Confidence)
    by_jurisdiction = "\n".join(
        f"- [{_JURISDICTION_NAMES[code]}](reason-codes.md#{_heading_anchor(code)}): {count} codes"
        for code, count in counts.items()
    )
    return _page(
        "Consentry's rules reference",
        "What Consentry decides, and on what grounds: every reason code it gives, every fact it reads, every "
        "condition it sets, and the legal sources behind them. These pages are generated from the catalogue the "
        "engine itself runs on, so they say what the product does. They describe the law as Consentry applies it; "
        "they are not legal advice.",
        "## The pages\n\n"
        f"- [Reason codes](reason-codes.md): the {len(reasons())} codes, by jurisdiction, each with its title, "
        "meaning, confidence, dates in force and sources.\n"
        f"- [Facts](facts.md): the {len(facts())} facts a case may state, with their type, meaning and how an "
        "unknown value is read.\n"
        f"- [Conditions](conditions.md): the {len(conditions())} conditions and remedies a decision may list.\n"
        f"- [Sources](sources.md): the {len(sources())} legal sources, with links and the codes that cite them.",
        "## Reading a decision\n\n"
        "A decision answers one question: may this action (a message, a call, keeping or passing on data) be taken, "
        "towards this person, by this channel, at this moment? It is one of three:\n\n" + decisions,
        "Every decision lists its reasons, each a reason code with its title (for example "
        "`FR_PHONE_HOURS (Legal calling days and hours)`). A reason either **forbids**, **allows**, or is a **note** "
        "that explains without deciding. One reason that forbids is enough to forbid, whatever the others allow, and "
        "nothing is allowed by default: a case no rule allows is forbidden (`NO_RULE`), and a case missing a fact "
        "the rules need is forbidden until it is given (`FACTS_MISSING`).",
        "An allowed decision also names its legal basis:\n\n" + bases,
        "and, when it depends on the moment (calling hours, a retention period, a deadline), the time until which it "
        "holds. A verdict can change with the date: each dated rule applies only on the days it is in force, judged "
        "on the jurisdiction's own calendar.",
        "## The actions\n\n"
        "- `send`: one message or call on the channel, at the moment given (calling hours, caps and pauses count).\n"
        "- `collect_data`: gathering a person's details or consent for prospecting: how, from where, which fields.\n"
        "- `retain_data`: keeping what is held (retention periods, suppression entries, proofs).\n"
        "- `reuse_data`: using data already held to prospect on a channel. It is judged by that channel's rules for "
        "sending, between sends (the hours then bind each call), and by the rules on reuse itself (the suppression "
        "list's single purpose, data found online). With channel `any` only the latter apply.\n"
        "- `transfer_data`: giving, selling or renting a file to partners.\n"
        "- `respond_dsar`: answering a rights request (access, objection, erasure) in time.",
        "## How sure the law behind a code is\n\n"
        "Each reason code states its confidence, the same for every source it cites:\n\n" + levels,
        "## Reason codes by jurisdiction\n\n" + by_jurisdiction,
        f"To regenerate these pages after changing the catalogue (`sdk/rules/data/`): `{COMMAND}`.",
    )


def _heading_anchor(jurisdiction: str) -> str:
    """The anchor of a jurisdiction's heading in reason-codes.md (GitHub's rule: lower case, spaces to hyphens,
    punctuation other than hyphens and underscores dropped)."""
    heading = f"{_JURISDICTION_NAMES[jurisdiction]} ({jurisdiction})".lower()
    kept = "".join(char for char in heading if char.isalnum() or char in " -_")
    return kept.replace(" ", "-")


def _reason_codes() -> str:
    blocks = [
        "Every reason code Consentry gives, grouped by the law it comes from and sorted by code. The title is what "
        "the command line, `consentry explain` and the compliance report show next to the code. *In force* gives "
        "the days on which the rules that give the code apply, when those rules are dated. Sources are described in "
        "[sources.md](sources.md); confidence and decisions in the [index](README.md)."
    ]
    catalogue = reasons()
    for jurisdiction in _jurisdictions():
        codes = sorted(code for code, info in catalogue.items() if info.jurisdiction == jurisdiction)
        section = [f"## {_JURISDICTION_NAMES[jurisdiction]} ({jurisdiction})"]
        if jurisdiction in _JURISDICTION_NOTES:
            section.append(_JURISDICTION_NOTES[jurisdiction])
        section.append(
            _table(
                ("Code", "Title", "Confidence", "In force"),
                (
                    (f"[`{code}`](#{_anchor(code)})", info.title, info.confidence.value, _in_force(info))
                    for code in codes
                    for info in (catalogue[code],)
                ),
            )
        )
        section += [_reason_entry(catalogue[code]) for code in codes]
        blocks.append("\n\n".join(section))
    return _page("Reason codes", *blocks)


def _reason_entry(info: ReasonInfo) -> str:
    lines = [
        f"### {info.code}",
        "",
        f"**{info.title}.** {info.summary}",
        "",
        f"- Confidence: {info.confidence.value}",
        f"- In force: {_in_force(info)}",
    ]
    if info.sources:
        lines.append("- Sources:")
        lines += [f"  - {_source_link(source)} (`{source.key}`)" for source in info.sources]
    else:
        lines.append("- Sources: none (Consentry's own code)")
    return "\n".join(lines)


def _facts() -> str:
    readings = "\n".join(f"- **`{value.value}`**: an unknown value {_UNKNOWN_WORDS[value]}." for value in WhenUnknown)
    return _page(
        "Facts",
        "The facts a case may state about the person and the planned action: the columns of `consentry check`, the "
        "`--fact` options of `consentry explain`, and the `facts:` of a scenario file. A fact left out is irrelevant "
        "to the case; a fact given as unknown (null in YAML, an empty CSV cell) is one nobody knows, and *When "
        "unknown* says how the rules read it:",
        readings,
        "Values of the kind *yes/no* accept true/false, yes/no, y/n, 1/0, oui/non; dates are ISO dates "
        "(2026-08-11); a list of words is a YAML list, or one cell with the words separated by `;`.",
        _table(
            ("Fact", "Type", "Meaning", "When unknown"),
            (_fact_row(info) for _key, info in sorted(facts().items())),
        ),
    )


def _fact_row(info: FactInfo) -> tuple[str, str, str, str]:
    return (f"`{info.key}`", info.type, info.meaning, info.when_unknown.value)


def _conditions() -> str:
    return _page(
        "Conditions",
        "What a decision may ask of the sender. On an `allowed_with_conditions` decision, each condition must be met "
        "for the action to be lawful. On a `forbidden` decision, the listed conditions are remedies: what would have "
        "to change before deciding again. See [Reading a decision](README.md#reading-a-decision).",
        _table(("Condition", "What it asks"), ((f"`{code}`", text) for code, text in sorted(conditions().items()))),
    )


def _sources() -> str:
    cited_by: dict[str, list[str]] = {}
    for code, info in sorted(reasons().items()):
        for source in info.sources:
            cited_by.setdefault(source.key, []).append(code)
    rows = (
        (
            f"`{key}`",
            _source_link(source),
            ", ".join(f"[`{code}`](reason-codes.md#{_anchor(code)})" for code in cited_by.get(key, ())) or "none",
        )
        for key, source in sorted(sources().items())
    )
    return _page(
        "Sources",
        "The legal texts, regulators' pages, court decisions and commentaries the reason codes rest on, by key. How "
        "far each one was verified shows in the confidence of the codes that cite it. Links go to the page that was "
        "read; where no address is known there is none.",
        _table(("Key", "Source", "Cited by"), rows),
    )
