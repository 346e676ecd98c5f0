import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "registry_project.settings")
application = get_wsgi_application()

# /healthz, /readyz and /metrics are answered in front of Django (registry_project/ops.py).
from registry_project.ops import OpsApplication  # noqa: E402 (needs the apps loaded above)

application = OpsApplication(application)
