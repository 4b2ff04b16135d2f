"""The project package. The Celery app (config/celery.py) is not imported here: a web node loads it
on its first task call (every task module takes ``shared_task`` from config.celery), and
``celery -A config`` finds it as ``config.celery:app``."""
