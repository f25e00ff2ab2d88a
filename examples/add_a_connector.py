"""Add a connector for another CRM: subclass the base, declare capabilities, register it, and use it.

This one keeps its "CRM" in memory so the example runs anywhere; a real one calls its API through
`sdk.http.Transport` (see connectors/_template/ and its CHECKLIST.md).

Run: python examples/add_a_connector.py
"""

from consentry.connectors import registry
from consentry.connectors.base import Capability, Connector, RemoteContact, Unsubscribe, WriteReport

CRM = {"1": {"email": "jeanne@example.com", "opted_out": False}}


class TinyCrmConnector(Connector):
    name = "tinycrm"
    capabilities = frozenset({Capability.SYNC_CONTACTS, Capability.PUSH_UNSUBSCRIBE})

    def fetch_contacts(self, since=None):
        for record_id, record in CRM.items():
            opted_out = frozenset({"email"}) if record["opted_out"] else frozenset()
            yield RemoteContact(system=self.name, record_id=record_id, email=record["email"], opted_out=opted_out)

    def push_unsubscribes(self, items):
        report = WriteReport(calls=1)
        for item in items:
            for record in CRM.values():
                if record["email"] == item.email:
                    record["opted_out"] = True  # a state assignment, never a toggle
                    report.applied += 1
        return report


if __name__ == "__main__":
    registry.register("tinycrm", "__main__:TinyCrmConnector")  # a package would declare an entry point instead
    connector = registry.create("tinycrm", {})
    print(connector.push_unsubscribes([Unsubscribe(email="jeanne@example.com")]))
    print(list(connector.fetch_contacts()))
