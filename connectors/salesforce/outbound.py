"""Salesforce Outbound Messages: the SOAP 1.1 notifications envelope and the Ack answer.

Parsing goes through defusedxml: a DTD, entity expansion or external entity is refused before anything is read.
"""

from xml.sax.saxutils import escape

from defusedxml import ElementTree

OUTBOUND_NS = "http://soap.sforce.com/2005/09/outbound"
MAX_NOTIFICATIONS = 100  # "A single SOAP message can include up to 100 notifications."
SOAP_NS = "http://schemas.xmlsoap.org/soap/envelope/"
SOBJECT_NS = "urn:sobject.enterprise.soap.sforce.com"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"

ACK = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    f'<soapenv:Envelope xmlns:soapenv="{SOAP_NS}"><soapenv:Body>'
    f'<notificationsResponse xmlns="{OUTBOUND_NS}"><Ack>true</Ack></notificationsResponse>'
    "</soapenv:Body></soapenv:Envelope>"
)


def envelope(
    organization_id: str,
    action_id: str,
    notifications: list[tuple[str, str, dict]],
    *,
    session_id: str | None = None,
    enterprise_url: str = "https://sandbox.invalid/services/Soap/c/60.0",
    partner_url: str = "https://sandbox.invalid/services/Soap/u/60.0",
) -> bytes:
    """A notifications envelope as Salesforce sends it (the sandbox's deliveries, and tests).
    `notifications`: (notification id, sObject type, fields in order, Id first); null fields are left out."""
    items = []
    for notification_id, object_type, fields in notifications:
        values = "".join(
            f"<sf:{name}>{escape(_text(value))}</sf:{name}>" for name, value in fields.items() if value is not None
        )
        items.append(
            f"<Notification><Id>{escape(notification_id)}</Id>"
            f'<sObject xsi:type="sf:{object_type}" xmlns:sf="{SOBJECT_NS}">{values}</sObject></Notification>'
        )
    session = f"<SessionId>{escape(session_id)}</SessionId>" if session_id else '<SessionId xsi:nil="true"/>'
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f'<soapenv:Envelope xmlns:soapenv="{SOAP_NS}" xmlns:xsd="http://www.w3.org/2001/XMLSchema" '
        f'xmlns:xsi="{XSI_NS}"><soapenv:Body><notifications xmlns="{OUTBOUND_NS}">'
        f"<OrganizationId>{escape(organization_id)}</OrganizationId><ActionId>{escape(action_id)}</ActionId>"
        f"{session}<EnterpriseUrl>{escape(enterprise_url)}</EnterpriseUrl>"
        f"<PartnerUrl>{escape(partner_url)}</PartnerUrl>{''.join(items)}"
        "</notifications></soapenv:Body></soapenv:Envelope>"
    ).encode()


def _text(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str) and value.endswith("+0000") and "T" in value:
        return value[:-5] + "Z"  # SOAP dateTime
    return str(value)


def parse(body: bytes) -> tuple[str, list[tuple[str, str, dict[str, str]]]]:
    """(organization id, [(notification id, sObject type, fields)]); raises ValueError on anything unexpected.
    The count is not checked here: the verifier reads the organisation id of any well-formed message, and a message
    over MAX_NOTIFICATIONS is then an authentic one of the wrong shape (a 400), not a forged one (a 401)."""
    root = ElementTree.fromstring(body, forbid_dtd=True)
    notifications = root.find(f"{{{SOAP_NS}}}Body/{{{OUTBOUND_NS}}}notifications")
    if notifications is None:
        raise ValueError("not an outbound message")
    organization = (notifications.findtext(f"{{{OUTBOUND_NS}}}OrganizationId") or "").strip()
    parsed = []
    for notification in notifications.findall(f"{{{OUTBOUND_NS}}}Notification"):
        notification_id = (notification.findtext(f"{{{OUTBOUND_NS}}}Id") or "").strip()
        sobject = notification.find(f"{{{OUTBOUND_NS}}}sObject")
        if not notification_id or sobject is None:
            raise ValueError("a notification without id or sObject")
        object_type = (sobject.get(f"{{{XSI_NS}}}type") or "").split(":")[-1]
        fields = {child.tag.split("}")[-1]: (child.text or "").strip() for child in sobject}
        parsed.append((notification_id, object_type, fields))
    return organization, parsed


def acknowledged(text: str) -> bool:
    try:
        root = ElementTree.fromstring(text.encode(), forbid_dtd=True)
    except Exception:
        return False
    return any((element.text or "").strip() == "true" for element in root.iter(f"{{{OUTBOUND_NS}}}Ack"))
