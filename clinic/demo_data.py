"""The demo organizations and accounts, as plain data.

No Django import here: `scripts/run_stack.py` prints the demo logins before
Django is set up.
"""

from dataclasses import dataclass, field

DEMO_PASSWORD = "liaison-demo"  # noqa: S105 - published in README, DEBUG only
DEMO_SUPERUSER = "admin"


@dataclass(frozen=True)
class DemoOrganization:
    slug: str
    name: str
    time_zone: str
    language: str
    country: str
    prefix: str
    sites: tuple[str, ...]
    given_names: tuple[str, ...]
    family_names: tuple[str, ...]
    phone_prefixes: tuple[str, ...]
    contact_email: str
    contact_phone: str
    # The organization's sender identity (messaging) with every provider:
    # numbers reserved for fiction (ARCEP 01 99 00 xx xx, NANP 555-01xx).
    sender_number: str
    # Visit types, in the organization's language (patients read them).
    kinds: tuple[str, ...] = field(default=("consultation", "follow-up", "vaccination"))
    # The catalogue naming those kinds for patients: (kind, French, English).
    visit_types: tuple[tuple[str, str, str], ...] = ()
    # One postal address per site, in the order of ``sites`` (fictional).
    site_addresses: tuple[str, ...] = ()
    # (kind, what the patient should bring or do), in the organization's language.
    preparation: tuple[tuple[str, str], ...] = ()
    # Branding (clinic/branding.py): the emails' From name, an accent that
    # passes WCAG 2.2 AA on white, and the shape of the logo drawn in code
    # (demo/seed.py, ``demo_logo``).
    sender_name: str = ""
    accent_colour: str = ""
    logo: str = ""


ORGANIZATIONS = (
    DemoOrganization(
        slug="clinique-des-lilas",
        name="Clinique des Lilas",
        time_zone="Europe/Paris",
        language="fr",
        country="FR",
        prefix="lilas",
        sites=("Lilas Belleville", "Lilas Montreuil"),
        given_names=(
            "Camille",
            "Léa",
            "Hugo",
            "Chloé",
            "Lucas",
            "Manon",
            "Jules",
            "Inès",
            "Louis",
            "Zoé",
            "Nathan",
            "Émilie",
            "Théo",
            "Sarah",
        ),
        family_names=(
            "Martin",
            "Bernard",
            "Dubois",
            "Thomas",
            "Robert",
            "Richard",
            "Petit",
            "Durand",
            "Leroy",
            "Moreau",
            "Simon",
            "Laurent",
        ),
        phone_prefixes=("+3361", "+3362", "+3376"),
        kinds=("consultation", "suivi", "vaccination"),
        visit_types=(
            (
                "consultation",
                "Consultation de médecine générale",
                "General consultation",
            ),
            ("suivi", "Consultation de suivi", "Follow-up visit"),
            ("vaccination", "Vaccination", "Vaccination"),
        ),
        contact_email="contact@lilas.example.org",
        contact_phone="+33142000000",
        sender_number="+33199000001",
        site_addresses=(
            "12 rue des Lilas\n75020 Paris",
            "40 boulevard Rouget-de-Lisle\n93100 Montreuil",
        ),
        preparation=(
            (
                "consultation",
                "Apportez votre carte Vitale et la liste de vos médicaments.",
            ),
            ("vaccination", "Apportez votre carnet de vaccination."),
        ),
        sender_name="Secrétariat des Lilas",
        accent_colour="#6b3fa0",
        logo="flower",
    ),
    DemoOrganization(
        slug="riverside-family-practice",
        name="Riverside Family Practice",
        time_zone="America/New_York",
        language="en",
        country="US",
        prefix="riverside",
        sites=("Riverside Upper West Side", "Riverside Brooklyn Heights"),
        given_names=(
            "Emma",
            "Liam",
            "Olivia",
            "Noah",
            "Ava",
            "Elijah",
            "Mia",
            "James",
            "Sophia",
            "Lucas",
            "Harper",
            "Mason",
            "Amelia",
            "Ethan",
        ),
        family_names=(
            "Smith",
            "Johnson",
            "Williams",
            "Brown",
            "Jones",
            "Garcia",
            "Miller",
            "Davis",
            "Rodriguez",
            "Wilson",
            "Anderson",
            "Lee",
        ),
        phone_prefixes=("+1212555", "+1646555", "+1917555"),
        visit_types=(
            (
                "consultation",
                "Consultation de médecine générale",
                "General consultation",
            ),
            ("follow-up", "Consultation de suivi", "Follow-up visit"),
            ("vaccination", "Vaccination", "Vaccination"),
        ),
        contact_email="hello@riverside.example.org",
        contact_phone="+12125550100",
        sender_number="+12125550190",
        site_addresses=(
            "210 West 85th Street\nNew York, NY 10024",
            "75 Henry Street\nBrooklyn, NY 11201",
        ),
        preparation=(
            (
                "consultation",
                "Bring your insurance card and a list of the medicines you take.",
            ),
            ("vaccination", "Bring your immunization record."),
        ),
        sender_name="Riverside Care Team",
        accent_colour="#0f6e5a",
        logo="waves",
    ),
)

STAFF_ROLES = ("admin", "coordinator", "clinician", "support", "marketing")
# A demo staff member's first name is their role, in the clinic's language
# (the family name is the clinic's: "Clinicienne Lilas", "Clinician Practice").
STAFF_FIRST_NAMES = {
    "en": {role: role.capitalize() for role in STAFF_ROLES},
    "fr": {
        "admin": "Administratrice",
        "coordinator": "Coordinatrice",
        "clinician": "Clinicienne",
        "support": "Accueil",
        "marketing": "Communication",
    },
}
PATIENTS_PER_ORGANIZATION = 32


def demo_logins() -> list[tuple[str, str]]:
    """(username, description) of every demo account, for the README and `make run`."""
    logins = [(DEMO_SUPERUSER, "superuser, every organization")]
    for org in ORGANIZATIONS:
        for role in STAFF_ROLES:
            logins.append((f"{org.prefix}.{role}", f"{role} at {org.name}"))
        logins.append(
            (f"{org.prefix}.patient", f"patient portal, a patient of {org.name}")
        )
        logins.append(
            (f"{org.prefix}.parent", f"patient portal, caregiver at {org.name}")
        )
    return logins


def demo_row_named(queryset, names: dict[str, str], language: str):
    """The demo row of ``queryset`` called by one of ``names`` (language ->
    name), renamed to the name in ``language``; None when there is none.

    Demo rows are found by their name, and the demo once named everything in
    English: a database seeded then keeps its row, now in the clinic's
    language, rather than gaining a second one."""
    wanted = names[language]
    rows = {row.name: row for row in queryset.filter(name__in=set(names.values()))}
    row = rows.get(wanted) or next(iter(rows.values()), None)
    if row is not None and row.name != wanted:
        queryset.filter(pk=row.pk).update(name=wanted)
        row.name = wanted
    return row
