"""GDPR duties shared by every EU/EEA jurisdiction and the UK: answering rights requests (Art. 12(3))."""

from datetime import datetime

from ..dates import add_months
from ..decision import Findings
from ..models import Request
from ..vocabulary import Action, LegalBasis
from ._base import Rule
from ._common import is_indirect


def rights_request(request: Request, findings: Findings) -> None:
    """Answer within 1 month of receipt; 3 only if the person was told of the extension in the first month."""
    facts = request.facts
    if facts.request_date is None:
        findings.need("request_date")
        return
    deadline = add_months(facts.request_date, 3 if facts.extension_notified else 1)
    asked = facts.request or ()
    remedies = ["answer_immediately"]
    if "objection" in asked:
        remedies.append("must_add_to_suppression_list")
    if "access" in asked and is_indirect(facts):  # Art. 15(1)(g): where the data came from
        remedies.append("must_state_data_source")
    detail = f"deadline {deadline.isoformat()}"
    if facts.answered_on is not None:
        if facts.answered_on <= deadline:
            findings.permit("GDPR_RIGHTS_1_MONTH", basis=LegalBasis.LEGAL_OBLIGATION, detail=detail)
        else:
            findings.forbid("GDPR_RIGHTS_1_MONTH", detail=f"answered late; {detail}")
        return
    if request.at.date() > deadline:
        findings.forbid("GDPR_RIGHTS_1_MONTH", *remedies, detail=detail)
        return
    findings.permit("GDPR_RIGHTS_1_MONTH", *remedies, basis=LegalBasis.LEGAL_OBLIGATION, detail=detail)
    findings.hold_until(datetime.combine(deadline, datetime.max.time(), tzinfo=request.at.tzinfo))


RIGHTS_REQUESTS = Rule(rights_request, actions=frozenset({Action.ANSWER_RIGHTS_REQUEST}))
