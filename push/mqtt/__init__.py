"""MQTT transport: credentials managed in Mosquitto's dynamic-security plugin, and the bridge process.

Modules: ``broker`` (the admin client over ``$CONTROL/dynamic-security/v1``), ``topics`` (names),
``credentials`` (issue, revoke, expire), ``views`` (the HTTP endpoints), ``bridge`` (frames between
the broker and ``push.protocol`` sessions), ``tasks`` (the periodic expiry).
"""
