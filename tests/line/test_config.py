"""station.toml: a good config parses; every kind of mistake is reported with its line number, all at once; and
`main.py line --check` prints them line by line (finds a product the database does not hold and a camera that is not connected)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from line.capture.camera_link import TriggerMode
from line.config import ConfigError, parse_config

ROOT = Path(__file__).resolve().parents[2]

GOOD = """
[station]
data_dir = "data"
product = "widget"
name = "line-1"
ack_timeout_s = 5

[camera]
source = "demo"
trigger = "free-run"

[opcua]
endpoint = "opc.tcp://127.0.0.1:4841/inspection/"
security = "none"

[modbus]
port = 5021
security = "none"

[mqtt]
host = "127.0.0.1"
port = 1883
topic = "plant/line1/inspection"
security = "none"
"""


def test_a_good_config_parses(tmp_path):
    cfg = parse_config(GOOD, str(tmp_path / "station.toml"))
    assert cfg.station.product == "widget" and cfg.station.data_dir == tmp_path / "data"
    assert cfg.station.ack_timeout_s == 5.0 and cfg.camera.trigger is TriggerMode.FREE_RUN
    assert (
        cfg.opcua.endpoint.endswith(":4841/inspection/") and cfg.modbus.port == 5021 and cfg.modbus.host == "127.0.0.1"
    )
    assert cfg.mqtt.topic == "plant/line1/inspection" and cfg.mqtt.status_topic == "plant/line1/inspection/status"


def test_sections_left_out_are_not_started():
    cfg = parse_config('[station]\nproduct = 3\n[camera]\nsource = "demo"\n')
    assert cfg.station.product == 3 and cfg.opcua is None and cfg.modbus is None and cfg.mqtt is None
    assert cfg.camera.trigger is TriggerMode.SOFTWARE


def test_every_problem_is_reported_with_its_line():
    text = """[station]
data_dir = 7
prodcut = "widget"

[camera]
source = "demo"
trigger = "sometimes"

[modbus]
port = 70000

[mqtt]
port = "1883"
topic = "a/#"

[plc]
x = 1
"""
    with pytest.raises(ConfigError) as err:
        parse_config(text, "station.toml")
    lines = str(err.value).splitlines()
    assert "station.toml:2: [station] data_dir must be a string, not an integer (7)" in lines
    assert any(line.startswith("station.toml:3: [station] unknown key 'prodcut'") for line in lines)
    assert any(line.startswith("station.toml:1: [station] product is missing") for line in lines)
    assert any(line.startswith("station.toml:7: [camera] trigger = 'sometimes'") for line in lines)
    assert "station.toml:10: [modbus] port = 70000: out of range (1-65535)" in lines
    assert "station.toml:13: [mqtt] port must be an integer, not a string ('1883')" in lines
    assert any(line.startswith("station.toml:14: [mqtt] topic 'a/#'") for line in lines)
    assert any(line.startswith("station.toml:16: unknown section [plc]") for line in lines)
    assert any(
        line.startswith("station.toml:9: [modbus] security is missing: Modbus TCP has no security") for line in lines
    )
    assert any(line.startswith("station.toml:12: [mqtt] security is missing") for line in lines)
    assert len(lines) == 10


def test_missing_sections_malformed_toml_and_bad_sources():
    with pytest.raises(ConfigError, match=r"section \[camera\] is missing"):
        parse_config('[station]\nproduct = "w"\n')
    with pytest.raises(ConfigError, match=r"station.toml:2: not valid TOML"):
        parse_config("[station]\nproduct = \n", "station.toml")
    with pytest.raises(ConfigError, match=r"image folder /no/such/folder does not exist"):
        parse_config('[station]\nproduct = "w"\n[camera]\nsource = "folder:/no/such/folder"\n')
    with pytest.raises(ConfigError, match=r"opc.tcp://HOST:PORT/PATH"):
        parse_config('[station]\nproduct = "w"\n[camera]\nsource = "demo"\n[opcua]\nendpoint = "http://x"\n')
    with pytest.raises(ConfigError, match=r"genicam: source needs cti"):
        parse_config('[station]\nproduct = "w"\n[camera]\nsource = "genicam:123"\n')


def _check(config: Path, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(ROOT / "main.py"), "line", "--check", "--config", str(config), *extra],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )


def test_check_command_prints_the_problems_line_by_line(tmp_path):
    config = tmp_path / "station.toml"
    config.write_text('[station]\nproduct = ""\n[camera]\nsource = "demo"\ntrigger = "often"\n[modbus]\nport = 0\n')
    done = _check(config)
    assert done.returncode == 2
    err = done.stderr.splitlines()
    assert any(f"{config}:2: [station] product is empty" in line for line in err)
    assert any(f"{config}:5: [camera] trigger = 'often'" in line for line in err)
    assert any(f"{config}:7: [modbus] port = 0: out of range" in line for line in err)
    assert any(f"{config}:6: [modbus] security is missing" in line for line in err)
    assert err[-1] == f"{config}: 4 problems"


def test_check_command_finds_a_product_the_database_does_not_hold(tmp_path, database, product):
    config = tmp_path / "station.toml"
    config.write_text(f'[station]\ndata_dir = "{tmp_path / "data"}"\nproduct = "gadget"\n[camera]\nsource = "demo"\n')
    done = _check(config)
    assert done.returncode == 2 and "product 'gadget' is not in the database" in done.stderr and "widget" in done.stderr
    config.write_text(f'[station]\ndata_dir = "{tmp_path / "data"}"\nproduct = "widget"\n[camera]\nsource = "demo"\n')
    done = _check(config)
    assert done.returncode == 0 and "OK" in done.stdout, done.stderr
    missing = tmp_path / "nothing.toml"
    done = _check(missing)
    assert done.returncode == 2 and "does not exist" in done.stderr


def test_check_command_opens_the_camera_and_says_when_it_is_not_connected(tmp_path, database, product):
    """pylon's emulation (PYLON_CAMEMU, set by conftest and inherited) has serials 0815-0000 and 0815-0001 only."""
    pytest.importorskip("pypylon", reason="pypylon is not installed (pip install pypylon)")
    config = tmp_path / "station.toml"
    head = f'[station]\ndata_dir = "{tmp_path / "data"}"\nproduct = "widget"\n[camera]\n'
    config.write_text(head + 'source = "pylon:NOPE123"\ntrigger = "software"\n')
    done = _check(config)
    assert done.returncode == 2, done.stdout
    assert "[camera] source = 'pylon:NOPE123' cannot be opened" in done.stderr
    assert (
        "no Basler camera with serial number NOPE123 is connected (cameras found: 0815-0000, 0815-0001)" in done.stderr
    )
    assert "--offline" in done.stderr
    done = _check(config, "--offline")  # the config itself is fine
    assert done.returncode == 0 and "camera not opened (--offline)" in done.stdout, done.stderr
    config.write_text(head + 'source = "pylon:0815-0001"\ntrigger = "software"\n')
    done = _check(config)
    assert done.returncode == 0 and "the camera opened" in done.stdout, done.stderr
