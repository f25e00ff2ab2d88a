"""One decision in plain words, with its sources: what a data-protection officer reads."""

from .catalogue import condition_text
from .decision import Decision, Effect
from .models import Request

_EFFECT_WORDS = {Effect.BLOCKS: "forbids", Effect.PERMITS: "allows", Effect.INFORMS: "note"}


def explain(request: Request, decision: Decision) -> str:
    contact = request.contact
    audience = contact.audience.value if contact.audience else "unknown audience"
    lines = [
        f"Decision: {decision.verdict.value.replace('_', ' ')}",
        f"Question: {request.action.value} by {request.channel.value}, to {audience} in "
        f"{contact.jurisdiction or 'an unknown jurisdiction'}, at {request.at.isoformat()}",
    ]
    if decision.legal_basis:
        lines.append(f"Legal basis: {decision.legal_basis.value.replace('_', ' ')}")
    if decision.valid_until:
        lines.append(f"Holds until: {decision.valid_until.isoformat()}")
    if decision.missing_facts:
        lines.append(f"Missing facts: {', '.join(decision.missing_facts)}")
    lines.append("")
    lines.append("Why:")
    for reason in decision.reasons:
        detail = f" ({reason.detail})" if reason.detail else ""
        lines.append(f"  - {_EFFECT_WORDS[reason.effect]}: {reason.summary}{detail}")
        lines.append(f"    [{reason.label}; confidence: {reason.confidence.value}]")
        for source in reason.sources:
            where = f" <{source.url}>" if source.url else ""
            lines.append(f"    source {source.key}: {source.title}{where}")
    if decision.conditions:
        lines.append("")
        lines.append("What to do:" if not decision.allowed else "Conditions:")
        lines.extend(f"  - {condition_text(code)} [{code}]" for code in decision.conditions)
    return "\n".join(lines)
