from django.urls import path

from crm.platform.console import views
from crm.tenants import backup_views

app_name = "console"

urlpatterns = [
    path("", views.home, name="home"),
    path("login/", views.login_view, name="login"),
    path("login/verify/", views.verify_view, name="verify"),
    path("logout/", views.logout_view, name="logout"),
    path("2fa/", views.enrol_view, name="enrol"),
    path("tenants/<int:pk>/", views.tenant_detail, name="tenant"),
    path("tenants/<int:pk>/suspend/", views.tenant_suspend, name="tenant-suspend"),
    path("tenants/<int:pk>/reactivate/", views.tenant_reactivate, name="tenant-reactivate"),
    path("tenants/<int:pk>/comp/", views.tenant_comp, name="tenant-comp"),
    path("tenants/<int:pk>/impersonate/", views.tenant_impersonate, name="tenant-impersonate"),
    path("tenants/<int:pk>/restore/", backup_views.restore, name="tenant-restore"),
    path("tenants/<int:pk>/restore/<int:job_id>/", backup_views.restore_job, name="tenant-restore-job"),
]
