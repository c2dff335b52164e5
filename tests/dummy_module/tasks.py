from celery import shared_task
from django.core.cache import cache

TICKS_KEY = "dummy-ticks"


@shared_task(name="tests.dummy_module.tasks.tick")
def tick() -> None:
    # Visible side effect for the contract test: a per-tenant counter (cache keys carry the schema, so the
    # counter lands in the schema the task ran in).
    if not cache.add(TICKS_KEY, 1):
        cache.incr(TICKS_KEY)
