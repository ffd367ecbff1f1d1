"""The two faces over one floor (node/pages): each face's own rule of who may sign in, its own cookies and
paths, where sign-in may send a browser back to, and the shared layout showing each face as its own.

Signing in and sessions over HTTP, against a real node, are tests/integration/test_dashboard.py and
test_portal.py; this holds the per-face rules themselves, so that sharing the code never blurs them."""

from __future__ import annotations

import pytest

from node.dashboard.web import FACE as DASHBOARD
from node.pages.face import Face
from node.pages.sessions import PageSession
from node.pages.templating import Explorer
from node.portal.web import FACE as PORTAL
from node.portal.web import customer_of
from node.store.models import ApiKeyRow


def _key(scopes: str, customer_id: str | None = None) -> ApiKeyRow:
    return ApiKeyRow(
        id="k1",
        tenant="default",
        name="test",
        prefix="sk_test_",
        salt=b"s",
        secret_hash=b"h",
        scopes=scopes,
        customer_id=customer_id,
        created_at=0,
    )


@pytest.mark.parametrize(
    ("scopes", "customer_id", "dashboard", "portal"),
    [
        ("admin", None, True, False),
        ("read,admin", None, True, False),
        ("read", None, False, False),  # a tenant-wide read key is neither the operator nor one customer
        ("write", None, False, False),
        ("read,write", None, False, False),
        ("read", "cust_a", False, True),
        ("read,write", "cust_a", False, False),  # never issued (customer keys read only), refused all the same
    ],
)
def test_each_face_admits_only_its_own_keys(
    scopes: str, customer_id: str | None, dashboard: bool, portal: bool
) -> None:
    key = _key(scopes, customer_id)
    assert DASHBOARD.rule.admits(key) is dashboard
    assert PORTAL.rule.admits(key) is portal


def test_a_refused_key_is_told_which_face_takes_which_key() -> None:
    reader = _key("read", "cust_a")
    assert DASHBOARD.rule.refusal(reader) == (
        "Only an admin key can sign in to the dashboard; this key has the read scope for customer cust_a."
    )
    assert "Operators sign in to the dashboard" in PORTAL.rule.refusal(_key("admin"))


def test_the_faces_keep_their_cookies_paths_and_routes_apart() -> None:
    assert (DASHBOARD.prefix, DASHBOARD.sign_in_path) == ("/dashboard", "/dashboard/sign-in")
    assert (PORTAL.prefix, PORTAL.sign_in_path) == ("/portal", "/portal/sign-in")
    cookies = {c for f in (DASHBOARD, PORTAL) for c in (f.rule.session_cookie, f.rule.sign_in_cookie)}
    assert len(cookies) == 4
    assert DASHBOARD.rule.scopes == {"admin"} and PORTAL.rule.scopes == {"read"}
    assert DASHBOARD.route_class is not PORTAL.route_class
    assert DASHBOARD.route_class.face is DASHBOARD and PORTAL.route_class.face is PORTAL


@pytest.mark.parametrize("face", [DASHBOARD, PORTAL])
def test_sign_in_sends_a_browser_back_only_to_a_page_of_the_same_face(face: Face) -> None:
    other = PORTAL if face is DASHBOARD else DASHBOARD
    for good in (face.prefix, face.prefix + "/receipts/rcpt_1", face.prefix + "?notice=signed_out"):
        assert face.safe_next(good) == good
    for bad in (
        None,
        "",
        other.prefix,
        other.prefix + "/keys",
        face.prefix + "x",  # another path that only starts the same
        "https://evil.example" + face.prefix,
        "//evil.example" + face.prefix,
        face.prefix + "//evil.example",
        face.prefix + "/../api",
        face.prefix + "\\evil",
        face.prefix + "/\nSet-Cookie: x",
    ):
        assert face.safe_next(bad) is None, bad
    assert face.sign_in_url(face.prefix + "/a b", "session_ended") == (
        f"{face.sign_in_path}?next={face.prefix}/a%20b&notice=session_ended"
    )
    assert face.sign_in_url(other.prefix + "/keys") == face.sign_in_path
    assert face.sign_in_url(face.sign_in_path) == face.sign_in_path  # never back to the form itself


def test_a_portal_page_never_widens_to_the_tenant_without_a_customer() -> None:
    session = PageSession("s", "k", "test", "default", "csrf", 0, customer_id=None)
    with pytest.raises(AssertionError):
        customer_of(session)
    assert customer_of(PageSession("s", "k", "test", "default", "csrf", 0, customer_id="cust_a")) == "cust_a"


def _error_page(face: Face) -> str:
    session = PageSession("s", "k", "ops key", "acme", "tok", 0, customer_id="cust_a" if face is PORTAL else None)
    return face.env.get_template("error.html").render(
        session=session,
        title="Gone",
        nav=None,
        notice=None,
        explorer=Explorer(None),
        chain_id=31337,
        contract="0x" + "ab" * 20,
        detail="nothing here",
    )


def test_the_shared_layout_shows_each_face_as_its_own() -> None:
    dashboard, portal = _error_page(DASHBOARD), _error_page(PORTAL)
    assert "<title>Gone · PacSpace node</title>" in dashboard and "<title>Gone · PacSpace portal</title>" in portal
    assert 'aria-label="Dashboard"' in dashboard and 'aria-label="Portal"' in portal
    assert "Tenant <strong>acme</strong>" in dashboard and "Customer <strong>cust_a</strong>" in portal
    assert 'href="/dashboard/keys"' in dashboard and 'href="/dashboard/keys"' not in portal
    assert 'action="/portal/sign-out"' in portal and 'value="tok"' in portal
    assert "Back to the overview" in dashboard and "Back to your record" in portal
    assert "Read only. Chain 31337" in portal and "Read only." not in dashboard
