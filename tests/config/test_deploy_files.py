"""The deploy files are valid as their own tools read them: systemd's units
(``systemd-analyze verify``), nginx's site (``nginx -t``) and gunicorn's
configuration (``--check-config``), each for this checkout."""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from scripts.topology import (
    DEPLOY,
    INSTALL_DIR,
    NGINX,
    nginx_main_conf,
    read_env_file,
    render_nginx,
    self_signed_certificate,
    unit_command,
)

ROOT = Path(__file__).resolve().parents[2]
UNITS = sorted((DEPLOY / "systemd").glob("*.service"))
ENV = read_env_file(DEPLOY / "liaison.env.example")


def test_there_is_a_unit_for_web_websockets_and_workers():
    assert {unit.name for unit in UNITS} == {
        "liaison-web.service",
        "liaison-ws.service",
        "liaison-worker@.service",
    }


@pytest.mark.skipif(not shutil.which("systemd-analyze"), reason="no systemd-analyze")
@pytest.mark.parametrize("unit", UNITS, ids=lambda unit: unit.name)
def test_each_unit_passes_systemd_analyze_verify(unit, tmp_path):
    # given: the unit for this checkout (its paths exist here), run as root
    # since the liaison account exists only on a real host
    env_file = tmp_path / "liaison.env"
    env_file.write_text((DEPLOY / "liaison.env.example").read_text())
    text = (
        unit.read_text()
        .replace(INSTALL_DIR, str(ROOT))
        .replace("/etc/liaison/liaison.env", str(env_file))
        .replace("User=liaison", "User=root")
        .replace("Group=liaison", "Group=root")
    )
    name = unit.name.replace("@.", "@1.")  # a template is verified as an instance
    (tmp_path / name).write_text(text)
    # when
    result = subprocess.run(  # noqa: S603 - our own files
        [shutil.which("systemd-analyze"), "verify", "--man=no", name],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    # then
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip() == ""


def test_each_unit_reads_the_environment_file_and_restarts_on_failure():
    for unit in UNITS:
        text = unit.read_text()
        assert "EnvironmentFile=/etc/liaison/liaison.env" in text
        assert "Restart=on-failure" in text
        assert "User=liaison" in text
        assert "NoNewPrivileges=yes" in text


def test_the_units_variables_are_in_the_environment_template():
    for unit in UNITS:
        for name in re.findall(r"\$\{(\w+)\}", unit.read_text()):
            assert name in ENV, f"{unit.name} uses {name}, missing from the template"
        assert unit_command(unit.name, ENV)[0].startswith(str(ROOT))


@pytest.mark.skipif(not Path(NGINX).exists(), reason="no nginx (apt install nginx)")
def test_the_nginx_site_passes_nginx_t(tmp_path):
    self_signed_certificate(tmp_path)
    (tmp_path / "static").mkdir()
    site = tmp_path / "liaison.conf"
    ports = {"http": 18080, "https": 18443, "web": 18001, "ws": 18002}
    site.write_text(
        render_nginx(
            DEPLOY / "nginx" / "liaison.conf",
            workdir=tmp_path,
            ports=ports,
            static=tmp_path / "static",
        )
    )
    main = tmp_path / "nginx.conf"
    main.write_text(nginx_main_conf(tmp_path, site))
    result = subprocess.run(  # noqa: S603 - our own files
        [NGINX, "-t", "-p", str(tmp_path), "-c", str(main)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert "syntax is ok" in result.stderr


def test_the_nginx_site_upgrades_ws_and_passes_the_client_address():
    text = (DEPLOY / "nginx" / "liaison.conf").read_text()
    ws = text[text.index("location /ws/") :]
    ws = ws[: ws.index("}")]
    assert "proxy_set_header Upgrade $http_upgrade;" in ws
    assert "proxy_set_header Connection $connection_upgrade;" in ws
    for block in (ws, text[text.index("location / {") :]):
        assert "proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;" in block
        assert "proxy_set_header X-Forwarded-Proto $scheme;" in block
    assert "Strict-Transport-Security" in text
    assert re.search(r"client_max_body_size \d+m;", text)


def test_gunicorn_accepts_its_configuration():
    gunicorn = Path(sys.executable).parent / "gunicorn"
    result = subprocess.run(  # noqa: S603 - our own files
        [str(gunicorn), "--config", str(DEPLOY / "gunicorn.conf.py"), "--check-config"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", "SECRET_KEY": "x", "DEBUG": "false"},
    )
    assert result.returncode == 0, result.stderr
