"""Results on MQTT (paho-mqtt): the durable outbox drained in order, the retained station status."""
