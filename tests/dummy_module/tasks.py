from celery import shared_task
from django.core.cache import cache


@shared_task(name="tests.dummy_module.tasks.tick")
def tick() -> None:
    # Visible side effect for the contract test: a per-tenant counter (cache keys carry the schema).
    cache.incr("dummy-ticks", 1) if cache.get("dummy-ticks") is not None else cache.set("dummy-ticks", 1)
