"""The PLC's views of the station: an OPC UA server and a Modbus TCP server with the same signals (docs/plc.md)."""
