"""Strategies for the custom string formats of the service's OpenAPI document (api/openapi.ts).

Loaded by test/helpers/schemathesis.ts through SCHEMATHESIS_HOOKS. A format names a rule the
server enforces that no JSON Schema keyword states: valid requests are drawn from what the
server accepts, so `positive_data_acceptance` checks the rest of the request.
"""

import base64
from datetime import datetime

import schemathesis
from hypothesis import strategies as st

# A sample of the IANA database (api/schemas/common.ts checks names with luxon).
TIME_ZONES = [
    "UTC", "Europe/Paris", "Europe/London", "Europe/Berlin", "Europe/Lisbon", "America/New_York",
    "America/Los_Angeles", "America/Sao_Paulo", "America/Argentina/Buenos_Aires", "Asia/Tokyo",
    "Asia/Kolkata", "Asia/Kathmandu", "Australia/Sydney", "Australia/Lord_Howe", "Pacific/Auckland",
    "Pacific/Chatham", "Africa/Lagos", "Atlantic/Azores", "America/St_Johns", "Etc/GMT+12",
]
schemathesis.openapi.format("iana-time-zone", st.sampled_from(TIME_ZONES))

# A sample of the regions date-holidays knows (api/schemas/common.ts checks codes with it).
HOLIDAY_REGIONS = ["GB", "FR", "DE", "DE-BY", "US", "US-CA", "JP", "BR", "IN", "AU-NSW", "NZ", "ZA"]
schemathesis.openapi.format("holiday-region", st.sampled_from(HOLIDAY_REGIONS))


def _cursor(at: datetime, id_: object) -> str:
    # Exactly what the server's encodeCursor makes: base64url("<toISOString()>|<uuid>").
    iso = f"{at.year:04d}-{at.month:02d}-{at.day:02d}T{at.hour:02d}:{at.minute:02d}:{at.second:02d}.{at.microsecond // 1000:03d}Z"
    return base64.urlsafe_b64encode(f"{iso}|{id_}".encode()).decode().rstrip("=")


schemathesis.openapi.format(
    "page-cursor",
    st.builds(_cursor, st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31)), st.uuids(version=4)),
)


@schemathesis.hook
def map_body(context, body):
    # A send window's start is not after its end (api/schemas/sequences.ts refines it, the
    # document says it in words): no JSON Schema keyword compares two fields, so generated
    # windows are put in order. Either order is still sent as a shape-valid HH:MM pair.
    window = body.get("sendWindow") if isinstance(body, dict) else None
    if isinstance(window, dict):
        start, end = window.get("start"), window.get("end")
        if isinstance(start, str) and isinstance(end, str) and start > end:
            window["start"], window["end"] = end, start
    # An event either stops or pauses (leadEventRules is refined so; the document says it in
    # words): no keyword says two arrays share no item, so an event generated in both is kept in
    # stop only.
    rules = body.get("leadEventRules") if isinstance(body, dict) else None
    if isinstance(rules, dict) and isinstance(rules.get("stop"), list) and isinstance(rules.get("pause"), list):
        rules["pause"] = [name for name in rules["pause"] if name not in rules["stop"]]
    # A bulk enrolment names one sender or a round-robin, not both, and leadSenders only for
    # leads it enrols (api/schemas/enrolments.ts; the document says both in words).
    if isinstance(body, dict) and isinstance(body.get("leadIds"), list):
        if "senderId" in body and "senderIds" in body:
            del body["senderIds"]
        senders = body.get("leadSenders")
        if isinstance(senders, dict):
            body["leadSenders"] = {lead: sender for lead, sender in senders.items() if lead in body["leadIds"]}
    return body
