"""A HubSpot API emulator: the HubSpot of the tests, the benchmarks and the demo.

It imports nothing of the rest of the project, so that a misreading of HubSpot's API cannot
hide in both the connector and its stand-in; it is checked against the official SDK instead.

In-process use (tests)::

    from emulator import EmulatorSettings, run_emulator

    async with run_emulator(EmulatorSettings(contacts=250, companies=20)) as emu:
        emu.base_url                 # "http://127.0.0.1:41234" ("https://" with tls=True)
        emu.client_id, emu.client_secret, emu.refresh_token, emu.private_app_token
        emu.store.contacts           # the table: len(), get(id), counters.created, ...
        emu.faults.add(status=429, count=3, path_prefix="/crm/v3/objects/contacts/search")
        emu.faults.add_sequence([503, "ok", "drop"], path_prefix="/crm/v3/objects")
        emu.faults.set_latency(5.0, jitter_ms=2.0)
        emu.expire_access_tokens()   # the next call with an old token gets 401 EXPIRED_...
        emu.revoke_refresh_token(emu.refresh_token)
        emu.requests                 # [RequestRecord(method, path, query, status, fault)]
        emu.requests_to("/crm/v3/objects/contacts/search", "POST")
        emu.issue_refresh_token(), emu.issue_authorization_code(redirect_uri)
        emu.clock.advance(10)        # move token expiry and rate windows without sleeping
        emu.settings.rate_limits_enabled = False   # settings apply at once
        emu.admin_url                # the admin API, on 127.0.0.1 only

Out of process, `hubspot-rcs-emulator` prints its base URL, admin URL and credentials, and the
admin API (`emulator.admin_api`, on 127.0.0.1 only) mirrors `faults` and the token controls.
The whole story, with every setting, is in docs/emulator.md.
"""

from emulator.faults import FaultRule, Faults, Latency
from emulator.generator import generate
from emulator.runner import Emulator, run_emulator
from emulator.settings import EmulatorSettings
from emulator.state import RequestRecord
from emulator.store import ObjectTable, Record, Store

__all__ = [
    "Emulator",
    "EmulatorSettings",
    "FaultRule",
    "Faults",
    "Latency",
    "ObjectTable",
    "Record",
    "RequestRecord",
    "Store",
    "generate",
    "run_emulator",
]
