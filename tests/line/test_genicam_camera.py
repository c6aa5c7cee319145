"""GenICam cameras through harvesters and a vendor's GenTL producer. The real test runs only where a producer is
configured (INSPECTION_TEST_CTI=/path/producer.cti, and a camera attached); a missing producer is checked here."""

from __future__ import annotations

import importlib.util
import os
import time

import pytest

from line.capture.camera_link import CameraLink, DeviceNotFoundError, TriggerMode
from line.capture.genicam_source import GenICamSource
from line.capture.spec import source_from_spec
from tests.station_fakes import wait_until

CTI = os.environ.get("INSPECTION_TEST_CTI", "")


def test_a_missing_producer_is_named():
    source = source_from_spec("genicam:1234?cti=/no/such/producer.cti")
    assert isinstance(source, GenICamSource)
    with pytest.raises(DeviceNotFoundError, match="/no/such/producer.cti does not exist"):
        source.open()


@pytest.mark.skipif(
    not CTI,
    reason="no GenTL producer configured: set INSPECTION_TEST_CTI=/path/producer.cti "
    "(the vendor's .cti, with a camera attached) to run this against a real GenICam camera",
)
@pytest.mark.skipif(
    importlib.util.find_spec("harvesters") is None,
    reason="harvesters is not installed: pip install 'inspection-station[genicam]'",
)
@pytest.mark.timeout(60)
def test_software_trigger_through_the_producer():
    link = CameraLink(GenICamSource(os.environ.get("INSPECTION_TEST_SERIAL") or None, cti=CTI), TriggerMode.SOFTWARE)
    link.start(lambda *a: None)
    try:
        wait_until(lambda: link.connected, 20, "the GenICam camera")
        frame = link.acquire(time.monotonic(), 5.0)
        assert frame.image.ndim == 3 and frame.image.shape[2] == 3
    finally:
        assert link.stop()
