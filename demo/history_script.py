"""What the demo's patients and staff say and do in the ninety days of history
(``demo.history`` plays it through the product's services).

Plain data and small pure helpers, in French and English: every text a demo
patient or staff member writes exists in both languages and carries no date
(the pipeline writes the dates, from the appointments).
"""

from __future__ import annotations

import datetime
import random
from dataclasses import dataclass

# How many days the history covers, ending now (the dashboard's default period).
DAYS = 90
# The clinics' patient records are older: imported this many days before now,
# so the dashboard's attrition (no interaction in a year) has patients to count.
RECORDS_DAYS = 400
# Appointments each demo clinic had in the history, spread over its patients.
APPOINTMENTS = 30
# Of them, booked at the desk on the day, too late for any reminder.
WALK_IN_SHARE = 0.15
# Conversations a patient starts by SMS in the history, per clinic.
CONVERSATIONS = 8

# (text in French, text in English): what patients text the clinic, and the
# answer staff give; every one is a question and its reply.
QUESTIONS = [
    (
        (
            "Bonjour, faut-il venir à jeun pour la prise de sang ?",
            "Hello, do I need to fast before the blood test?",
        ),
        (
            "Bonjour, oui : rien à manger depuis la veille au soir, l'eau est permise.",
            "Hello, yes: nothing to eat from the evening before; water is fine.",
        ),
    ),
    (
        (
            "Bonjour, puis-je venir accompagné de mon fils ?",
            "Hello, may I bring my son along?",
        ),
        ("Bien sûr, il est le bienvenu.", "Of course, he is welcome."),
    ),
    (
        (
            "Bonjour, mon ordonnance est-elle prête ?",
            "Hello, is my prescription ready?",
        ),
        (
            "Oui, elle vous attend à l'accueil.",
            "Yes, it is waiting for you at the front desk.",
        ),
    ),
    (
        ("Où peut-on se garer près du centre ?", "Where can I park near the practice?"),
        (
            "Le parking public le plus proche est à deux minutes à pied.",
            "The nearest public car park is a two-minute walk away.",
        ),
    ),
    (
        (
            "Pouvez-vous m'envoyer la facture de ma dernière visite ?",
            "Could you send me the invoice for my last visit?",
        ),
        (
            "C'est fait : elle est dans votre messagerie sécurisée.",
            "Done: it is in your secure inbox.",
        ),
    ),
]
# A patient who writes again after the answer (the conversation reopens).
THANKS = ("Merci beaucoup !", "Thank you very much!")
FOLLOW_UP_REPLY = (
    "Bonjour, merci pour votre retour. Nous sommes désolés de ce que vous avez "
    "vécu : pouvons-nous vous appeler pour en parler ?",
    "Hello, thank you for telling us. We are sorry about your visit: may we "
    "call you to talk about it?",
)
# Words a patient texts to answer a reminder (outreach.reminders.answers).
CONFIRM_WORDS = ("C", "OUI", "Oui !")
CANCEL_WORDS = ("A", "ANNULER")
SURVEY_COMMENTS = (
    ("Accueil très aimable.", "Very friendly welcome."),
    ("Un peu d'attente, mais très bien.", "A short wait, but very good."),
    ("Explications claires, merci.", "Clear explanations, thank you."),
    ("", ""),
)
SURVEY_UNHAPPY = ("L'attente a été très longue.", "The wait was very long.")
NPS_SCORES = (10, 10, 10, 9, 9, 9, 9, 8, 8, 7, 6, 4)
CSAT_SCORES = (5, 5, 5, 4, 4, 4, 3)
LIKED = ("welcome", "punctuality", "explanations")


def said(texts: tuple[str, str], language: str) -> str:
    return texts[0] if language == "fr" else texts[1]


@dataclass
class Intent:
    """What a patient does about one appointment, drawn once."""

    answer: str  # "confirm", "cancel" or "" (no answer)
    attends: bool  # False: a no-show (when not cancelled)
    answers_survey: bool
    # Staff forgot to record whether the patient came: it stays booked or
    # confirmed (the dashboard's confirmation rate counts it).
    recorded: bool = True


def intent_draw(rng: random.Random) -> Intent:
    answer = rng.choices(("confirm", "cancel", ""), weights=(60, 8, 32))[0]
    # Patients who confirmed come more often than those who never answered.
    attends = rng.random() < (0.94 if answer == "confirm" else 0.78)
    return Intent(
        answer=answer,
        attends=attends,
        answers_survey=rng.random() < 0.55,
        recorded=rng.random() < 0.9,
    )


def opening_hours(
    rng: random.Random, day: datetime.date, zone: datetime.tzinfo
) -> datetime.datetime:
    """A quarter hour between 08:00 and 17:45 on ``day``, in the clinic's zone."""
    return datetime.datetime.combine(
        day,
        datetime.time(rng.randrange(8, 18), rng.choice((0, 15, 30, 45))),
        tzinfo=zone,
    )


def weekday_between(
    rng: random.Random, first: datetime.date, last: datetime.date
) -> datetime.date:
    """A Monday-to-Friday day in ``[first, last]`` (``last`` if none)."""
    days = [
        first + datetime.timedelta(days=n)
        for n in range((last - first).days + 1)
        if (first + datetime.timedelta(days=n)).weekday() < 5
    ]
    return rng.choice(days) if days else last
