"""Tables of the delivery side: notifications, presence, web push, webhooks, MQTT credentials.

The outbox they are fed from lives in the events core (``support.events.models``).
"""
from push.models_mqtt import *  # noqa: F401,F403
from push.models_notify import *  # noqa: F401,F403
from push.models_presence import *  # noqa: F401,F403
from push.models_webhooks import *  # noqa: F401,F403
