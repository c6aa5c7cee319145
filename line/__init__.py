"""The station on the line, without Qt: capture sources, the station controller and its state machine, the
inference and recording threads, the PLC servers (OPC UA, Modbus TCP), MQTT results and the headless runner.

May import core/ and db/; never Qt, never desktop/ (tests/test_architecture.py checks it)."""
