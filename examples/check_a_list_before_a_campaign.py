"""Check a list of contacts before an SMS campaign: who may receive it, on what conditions, and why not.

Run: python examples/check_a_list_before_a_campaign.py
"""

import io
from datetime import datetime

from consentry.sdk.contacts_csv import check_stream
from consentry.sdk.vocabulary import Channel

CONTACTS = """contact_id,phone,audience,jurisdiction,consent_state,consent_date,existing_customer,purchase_made
c1,+33612345678,b2c,FR,opt_in,2026-03-02,false,false
c2,+33698765432,b2c,FR,none,,true,true
c3,+33611223344,b2b_nominative,FR,none,,false,false
c4,+33655443322,b2c,FR,withdrawn,2026-05-01,false,false
"""

if __name__ == "__main__":
    out = io.StringIO()
    rows, errors = check_stream(
        io.StringIO(CONTACTS), out, channel=Channel.SMS, at=datetime.fromisoformat("2026-09-15T11:00:00+02:00")
    )
    print(out.getvalue())
    print(f"{rows} contacts checked, {errors} with errors")
