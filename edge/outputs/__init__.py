"""Where events go beside stdout, and what a running service tells systemd: MQTT, webhook,
Prometheus, snapshots, annotated frames, sd_notify. Each one is optional and never stops the loop.
"""
