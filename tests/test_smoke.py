from django_tenants.utils import schema_context

from crm.tenants.selectors import enabled_modules


def test_tenants_provisioned_with_their_modules(alpha, beta):
    assert alpha.tenant.schema_name != beta.tenant.schema_name
    assert {"core", "retail", "project", "messaging", "sales"} <= enabled_modules(alpha.tenant)
    assert "trade" not in enabled_modules(alpha.tenant)


def test_owner_sees_home_on_own_host(alpha):
    response = alpha.client("owner").get("/")
    assert response.status_code == 200
    assert "alpha owner" in response.content.decode()


def test_users_live_in_their_own_schema(alpha, beta):
    from crm.tenants.accounts.models import User

    with schema_context(alpha.schema):
        assert User.objects.filter(email="owner@alpha.example.com").exists()
        assert not User.objects.filter(email="owner@beta.example.com").exists()


def test_menu_marks_only_the_most_specific_entry_as_current(alpha):
    # /retail/ (member lookup) is a prefix of /retail/members/: only "Members" is the current page.
    html = alpha.client("manager").get("/retail/members/").content.decode()
    nav = html.split('data-testid="sidenav"', 1)[1].split("</aside>", 1)[0]
    assert nav.count('class="active"') == 1
    assert 'href="/retail/members/" class="active" aria-current="page"' in nav
