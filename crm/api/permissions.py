"""DRF permission built on the platform's named permissions: the one helper lives in crm.kernel.api (module
authors import it from there); this name stays for the platform's own views."""

from crm.kernel.api import HasPerm

__all__ = ["HasPerm"]
