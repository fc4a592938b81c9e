"""One client address for every limit, lockout and record: REMOTE_ADDR, or
behind trusted proxies the first untrusted address of X-Forwarded-For read
from the right, so that no client can choose its own."""

import pytest

from django.test import Client, RequestFactory
from django.urls import reverse

from core.client_address import client_ip

LB = "10.0.0.5"  # the load balancer
PROXIES = ["10.0.0.0/24", "fd00::/8"]


@pytest.mark.parametrize(
    ("remote", "forwarded", "trusted", "expected"),
    [
        # no proxy configured: X-Forwarded-For is anyone's to write
        ("203.0.113.7", "", [], "203.0.113.7"),
        ("203.0.113.7", "198.51.100.1", [], "203.0.113.7"),
        # behind the load balancer: the address it received from
        (LB, "203.0.113.7", PROXIES, "203.0.113.7"),
        # a client's own X-Forwarded-For is on the left, never trusted
        (LB, "198.51.100.1, 203.0.113.7", PROXIES, "203.0.113.7"),
        # two trusted hops
        (LB, "203.0.113.7, 10.0.0.9", PROXIES, "203.0.113.7"),
        # a direct request that skips the proxy keeps its own address
        ("203.0.113.7", "198.51.100.1", PROXIES, "203.0.113.7"),
        # IPv6, spaces
        ("fd00::1", " 2001:db8::7 ", PROXIES, "2001:db8::7"),
        # the proxy itself (a health probe): nothing forwarded
        (LB, "", PROXIES, LB),
        # garbage forwarded by a trusted proxy: the proxy, not a chosen address
        (LB, "not-an-ip", PROXIES, LB),
        # no address at all (a unix socket): no proof, no crash
        ("", "203.0.113.7", PROXIES, None),
    ],
)
def test_the_client_address(settings, remote, forwarded, trusted, expected):
    settings.TRUSTED_PROXIES = trusted
    request = RequestFactory().get(
        "/", REMOTE_ADDR=remote, HTTP_X_FORWARDED_FOR=forwarded
    )
    assert client_ip(request) == expected


def _behind_lb(client_address: str, claimed: str = "") -> Client:
    """A browser at ``client_address`` behind the load balancer; ``claimed``
    is what it writes in X-Forwarded-For itself."""
    forwarded = f"{claimed}, {client_address}" if claimed else client_address
    return Client(REMOTE_ADDR=LB, HTTP_X_FORWARDED_FOR=forwarded)


@pytest.mark.django_db
def test_behind_the_load_balancer_each_client_has_its_own_verify_limit(settings):
    """Counted by REMOTE_ADDR, every patient would share the balancer's ten."""
    # given: a guesser has used up their ten tries, changing their claimed address
    settings.TRUSTED_PROXIES = PROXIES
    for n in range(10):
        _behind_lb("203.0.113.66", claimed=f"198.51.100.{n}").post(
            reverse("verify"), {"code": "ZZZZ2222"}
        )
    # when
    guesser = _behind_lb("203.0.113.66", claimed="198.51.100.99")
    patient = _behind_lb("203.0.113.7")
    # then
    assert guesser.post(reverse("verify"), {"code": "ZZZZ2222"}).status_code == 429
    assert patient.post(reverse("verify"), {"code": "ZZZZ2222"}).status_code == 200


@pytest.mark.django_db
def test_behind_the_load_balancer_a_lockout_is_the_guessers_alone(settings):
    """django-axes locks an account from an address after five wrong
    passwords: the guesser's address, not the balancer's, whatever the
    guesser writes in X-Forwarded-For."""
    # given
    settings.TRUSTED_PROXIES = PROXIES
    login = reverse("account_login")
    for n in range(5):
        _behind_lb("203.0.113.66", claimed=f"198.51.100.{n}").post(
            login, {"login": "camille", "password": "wrong"}
        )
    # when
    guesser = _behind_lb("203.0.113.66", claimed="198.51.100.99")
    other = _behind_lb("203.0.113.7")
    # then
    credentials = {"login": "camille", "password": "y"}
    assert guesser.post(login, credentials).status_code == 429
    assert other.post(login, credentials).status_code == 200


@pytest.mark.django_db
def test_a_consent_record_behind_the_load_balancer_names_the_client(
    settings, organization
):
    """The ledger's evidence is the patient's address, not the balancer's."""
    from consent.models import ConsentEvent
    from consent.unsubscribe import unsubscribe_token_make
    from tests.clinic.factories import PatientFactory
    from tests.consent.factories import TopicFactory

    # given
    settings.TRUSTED_PROXIES = PROXIES
    patient = PatientFactory(organization=organization)
    topic = TopicFactory(organization=organization, slug="news", purpose="marketing")
    token = unsubscribe_token_make(patient=patient, topic=topic)
    # when
    _behind_lb("203.0.113.7").post(
        reverse("consent:unsubscribe", kwargs={"token": token}),
        data="List-Unsubscribe=One-Click",
        content_type="application/x-www-form-urlencoded",
    )
    # then
    assert ConsentEvent.objects.get().ip_address == "203.0.113.7"


def _drf_views():
    """Every DRF view class the URLconf routes to."""
    from rest_framework.views import APIView

    from django.urls import get_resolver

    def walk(patterns):
        for pattern in patterns:
            if hasattr(pattern, "url_patterns"):
                yield from walk(pattern.url_patterns)
                continue
            view = getattr(pattern.callback, "cls", None) or getattr(
                pattern.callback, "view_class", None
            )
            if isinstance(view, type) and issubclass(view, APIView):
                yield view

    return set(walk(get_resolver().url_patterns))


def test_every_drf_throttle_counts_by_the_client_address(settings):
    """DRF's own get_ident reads REMOTE_ADDR, or the whole X-Forwarded-For
    the client wrote: every throttle class of every API view uses the helper."""
    from rest_framework.request import Request

    # given: a client behind the balancer that claims another address
    settings.TRUSTED_PROXIES = PROXIES
    request = Request(
        RequestFactory().get(
            "/api/v1/", REMOTE_ADDR=LB, HTTP_X_FORWARDED_FOR="198.51.100.1, 203.0.113.7"
        )
    )
    views = _drf_views()
    throttles = {type(t) for view in views for t in view().get_throttles()}
    assert views
    assert throttles
    # then
    for throttle in throttles:
        assert throttle().get_ident(request) == "203.0.113.7", throttle


@pytest.mark.django_db
def test_the_sign_in_audit_names_the_client_behind_the_load_balancer(settings):
    """django-axes' records of failed and successful sign-ins (admin: Axes)
    hold the client's address."""
    from axes.models import AccessAttempt, AccessLog

    from tests.clinic.factories import UserFactory

    # given
    settings.TRUSTED_PROXIES = PROXIES
    user = UserFactory(username="camille")
    user.set_password("right-password")
    user.save()
    login = reverse("account_login")
    # when
    _behind_lb("203.0.113.66", claimed="198.51.100.1").post(
        login, {"login": "camille", "password": "wrong"}
    )
    _behind_lb("203.0.113.7").post(
        login, {"login": "camille", "password": "right-password"}
    )
    # then
    assert AccessAttempt.objects.get().ip_address == "203.0.113.66"
    assert AccessLog.objects.get().ip_address == "203.0.113.7"
