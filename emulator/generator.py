"""A seeded generator of realistic contacts, companies and their associations.

The same seed and counts give the same data, values and ids included (timestamps are laid out
relative to a fixed point, never after the host clock: Airbyte drops records "modified in the
future", docs/hubspot.md §11.3). It writes straight into the store's tables, skipping validation,
which is what lets a million contacts load in seconds; values are drawn from the properties'
own option lists so that they would pass validation.
"""

from __future__ import annotations

import random
import unicodedata

from emulator.properties import INDUSTRIES
from emulator.store import PRIMARY_TO_COMPANY, UNLABELED_TO_COMPANY, Store

__all__ = ["generate"]

FIRST_NAMES = (  # noqa: SIM905
    "James Mary Robert Patricia John Jennifer Michael Linda David Elizabeth William Barbara "
    "Richard Susan Joseph Jessica Thomas Sarah Charles Karen Christopher Lisa Daniel Nancy "
    "Matthew Betty Anthony Sandra Mark Margaret Donald Ashley Steven Kimberly Andrew Emily "
    "Paul Donna Joshua Michelle Kenneth Carol Kevin Amanda Brian Melissa George Deborah "
    "Timothy Stephanie Ronald Rebecca Jason Sharon Edward Laura Jeffrey Cynthia Ryan Amy "
    "Jacob Kathleen Gary Angela Nicholas Shirley Eric Brenda Jonathan Emma Stephen Anna Larry "
    "Pamela Justin Nicole Scott Samantha Brandon Katherine Benjamin Christine Samuel Helen "
    "Amélie Søren Zoë Jürgen Łukasz Siobhán José Chloé"
).split()
LAST_NAMES = (  # noqa: SIM905
    "Smith Johnson Williams Brown Jones Garcia Miller Davis Rodriguez Martinez Hernandez "
    "Lopez Gonzalez Wilson Anderson Thomas Taylor Moore Jackson Martin Lee Perez Thompson "
    "White Harris Sanchez Clark Ramirez Lewis Robinson Walker Young Allen King Wright Scott "
    "Torres Nguyen Hill Flores Green Adams Nelson Baker Hall Rivera Campbell Mitchell Carter "
    "Roberts Gomez Phillips Evans Turner Diaz Parker Cruz Edwards Collins Reyes Stewart "
    "Morris Morales Murphy Cook Rogers O'Brien Müller Dubois Rossi Novák Kowalski Jensen"
).split()
JOB_TITLES = (
    "Account Executive",
    "CEO",
    "CTO",
    "Customer Success Manager",
    "Data Analyst",
    "Engineering Manager",
    "Head of Marketing",
    "IT Administrator",
    "Marketing Manager",
    "Office Manager",
    "Operations Lead",
    "Product Manager",
    "Sales Director",
    "Software Engineer",
    "VP Sales",
)
CITIES = (
    ("Boston", "MA", "United States"),
    ("Cambridge", "MA", "United States"),
    ("San Francisco", "CA", "United States"),
    ("Austin", "TX", "United States"),
    ("New York", "NY", "United States"),
    ("Dublin", "", "Ireland"),
    ("London", "", "United Kingdom"),
    ("Berlin", "", "Germany"),
    ("Paris", "", "France"),
    ("Sydney", "NSW", "Australia"),
    ("Tokyo", "", "Japan"),
    ("Toronto", "ON", "Canada"),
    ("Singapore", "", "Singapore"),
    ("Bogotá", "", "Colombia"),
)
COMPANY_WORDS = (  # noqa: SIM905
    "Acme Apex Blue Bright Cedar Cloud Coastal Crystal Delta Eagle Everest Falcon Global "
    "Granite Harbor Horizon Iron Keystone Liberty Lumen Maple Meridian Nova Oak Orbit Pacific "
    "Peak Pioneer Quantum Redwood River Silver Summit Sun Titan Union Vertex Vista Zenith"
).split()
COMPANY_NOUNS = (  # noqa: SIM905
    "Analytics Bio Capital Consulting Data Dynamics Energy Foods Health Labs Logistics Media "
    "Networks Partners Robotics Software Solutions Systems Technologies Ventures"
).split()
COMPANY_SUFFIXES = ("Inc", "LLC", "Ltd", "GmbH", "Group", "Co")
FREE_MAIL = ("gmail.com", "outlook.com", "yahoo.com", "proton.me")
LIFECYCLE = ("subscriber", "lead", "marketingqualifiedlead", "salesqualifiedlead", "customer")
LEAD_STATUS = ("NEW", "OPEN", "IN_PROGRESS", "CONNECTED", "UNQUALIFIED")
COMPANY_TYPES = ("PROSPECT", "PARTNER", "RESELLER", "VENDOR", "OTHER")
_YEAR_MS = 365 * 86_400_000


def generate(
    store: Store,
    *,
    contacts: int,
    companies: int,
    seed: int = 0,
    custom_properties: int = 0,
    associated_fraction: float = 0.9,
) -> None:
    """Add `companies` companies and `contacts` contacts to an empty store.

    Creation dates spread over the last three years in id order; each record was last modified
    somewhere between its creation and now. About `associated_fraction` of the contacts get a
    primary company (types 1 and 279), which sets their `associatedcompanyid`.
    """
    rng = random.Random(seed)
    now_ms = store.clock.now_ms() - 1000
    start_ms = now_ms - 3 * _YEAR_MS
    custom_names = [f"custom_text_{i:04d}" for i in range(custom_properties)]
    company_ids, company_names, company_domains = _companies(
        store, rng, companies, start_ms, now_ms, custom_names
    )
    company_id_text = [str(i) for i in company_ids]
    table = store.contacts
    next_id = table.object_type.first_id + len(table)
    span = now_ms - start_ms
    step = span / max(contacts, 1)
    random_ = rng.random
    n_first, n_last, n_titles, n_cities = (
        len(FIRST_NAMES),
        len(LAST_NAMES),
        len(JOB_TITLES),
        len(CITIES),
    )
    first_lower = [_ascii(n) for n in FIRST_NAMES]
    last_lower = [_ascii(n) for n in LAST_NAMES]
    associations = store.associations
    for i in range(contacts):
        f = int(random_() * n_first)
        last = int(random_() * n_last)
        city, state, country = CITIES[int(random_() * n_cities)]
        created = start_ms + int(i * step)
        updated = created + int(random_() * (now_ms - created))
        props = {
            "firstname": FIRST_NAMES[f],
            "lastname": LAST_NAMES[last],
            "phone": f"+1 617 {int(random_() * 900) + 100} {int(random_() * 9000) + 1000}",
            "jobtitle": JOB_TITLES[int(random_() * n_titles)],
            "city": city,
            "country": country,
            "lifecyclestage": LIFECYCLE[int(random_() * len(LIFECYCLE))],
        }
        if state:
            props["state"] = state
        if random_() < 0.5:
            props["hs_lead_status"] = LEAD_STATUS[int(random_() * len(LEAD_STATUS))]
        company_index = -1
        if company_ids and random_() < associated_fraction:
            company_index = int(random_() * len(company_ids))
            domain = company_domains[company_index]
            props["company"] = company_names[company_index]
            props["associatedcompanyid"] = company_id_text[company_index]
        else:
            domain = FREE_MAIL[int(random_() * len(FREE_MAIL))]
        # The running number keeps emails unique, as HubSpot requires (§1.5).
        props["email"] = f"{first_lower[f]}.{last_lower[last]}.{i}@{domain}"
        for name in custom_names:
            props[name] = f"value {int(random_() * 1000)}"
        object_id = next_id + i
        table.load(object_id, props, created, updated)
        if company_index >= 0:
            associations.add(
                object_id, company_ids[company_index], (PRIMARY_TO_COMPANY, UNLABELED_TO_COMPANY)
            )


def _companies(
    store: Store,
    rng: random.Random,
    count: int,
    start_ms: int,
    now_ms: int,
    custom_names: list[str],
) -> tuple[list[int], list[str], list[str]]:
    table = store.companies
    next_id = table.object_type.first_id + len(table)
    ids, names, domains = [], [], []
    step = (now_ms - start_ms) / max(count, 1)
    for i in range(count):
        word = COMPANY_WORDS[int(rng.random() * len(COMPANY_WORDS))]
        noun = COMPANY_NOUNS[int(rng.random() * len(COMPANY_NOUNS))]
        suffix = COMPANY_SUFFIXES[int(rng.random() * len(COMPANY_SUFFIXES))]
        name = f"{word} {noun} {suffix}"
        domain = f"{word}{noun}{i}.com".lower()
        city, state, country = CITIES[int(rng.random() * len(CITIES))]
        created = start_ms + int(i * step)
        updated = created + int(rng.random() * (now_ms - created))
        props = {
            "name": name,
            "domain": domain,
            "website": f"https://www.{domain}",
            "phone": f"+1 212 {int(rng.random() * 900) + 100} {int(rng.random() * 9000) + 1000}",
            "city": city,
            "country": country,
            "industry": INDUSTRIES[int(rng.random() * len(INDUSTRIES))],
            "type": COMPANY_TYPES[int(rng.random() * len(COMPANY_TYPES))],
            "numberofemployees": str(int(10 ** (1 + rng.random() * 4))),
            "annualrevenue": str(int(10 ** (5 + rng.random() * 4))),
            "lifecyclestage": LIFECYCLE[int(rng.random() * len(LIFECYCLE))],
            "is_public": "true" if rng.random() < 0.2 else "false",
        }
        if state:
            props["state"] = state
        for custom in custom_names:
            props[custom] = f"value {int(rng.random() * 1000)}"
        object_id = next_id + i
        table.load(object_id, props, created, updated)
        ids.append(object_id)
        names.append(name)
        domains.append(domain)
    return ids, names, domains


def _ascii(name: str) -> str:
    """An email-safe lower-case form of a name (`Amélie` -> `amelie`, `O'Brien` -> `obrien`)."""
    decomposed = unicodedata.normalize("NFKD", name.replace("Ł", "L").replace("ø", "o"))
    return "".join(c for c in decomposed if c.isascii() and c.isalnum()).lower()
