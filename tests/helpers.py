"""Small builders for inventory files in tests."""

from __future__ import annotations

from pathlib import Path

from fleet.inventory.schema import Kind, column_names

SITE_HEADER = ",".join(column_names(Kind.SITES))
DEVICE_HEADER = ",".join(column_names(Kind.DEVICES))
CREDENTIALS_YAML = """\
credentials:
- name: lab-v3
  snmp_version: v3
  snmp_user: noc
  snmp_auth_protocol: SHA
  snmp_auth_key: env:LAB_AUTH
  snmp_priv_protocol: AES
  snmp_priv_key: env:LAB_PRIV
  ssh_user: noc
  ssh_password: env:LAB_SSH
- name: lab-v2c
  snmp_version: v2c
  snmp_community: file:/etc/fleet/community
"""

# Two real communes: Phường Ba Đình (Hà Nội) and Xã Đất Mũi (Cà Mau).
SITES = [
    "00004,00004,01,Phường Ba Đình,VNPT,Nguyễn Văn An,0912 345 678,Trụ sở UBND Phường Ba Đình",
    "32248,32248,96,Xã Đất Mũi,Viettel,Trần Thị Hoa,0987 654 321,",
]
DEVICES = [
    "vn00004-rtr,00004,router,Cisco,ISR4331,cisco_ios,127.1.0.1,1161,2222,lab-v3,17.9.5",
    "vn00004-codec,00004,codec,Cisco,Room Kit,cisco_ce,127.2.0.1,1161,2222,lab-v3,ce11.14.2.3",
    "vn00004-cam,00004,camera,Axis,V5925,axis_ptz,127.3.0.1,1161,,lab-v2c,",
    "vn32248-rtr,32248,router,Huawei,AR6120,huawei_vrp,127.1.0.2,1161,2222,lab-v3,V300R021C10SPC100",
]


def write_inventory(
    directory: Path,
    sites: list[str] | None = None,
    devices: list[str] | None = None,
    *,
    site_header: str = SITE_HEADER,
    device_header: str = DEVICE_HEADER,
    credentials: str = CREDENTIALS_YAML,
) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "sites.csv").write_text(
        "\n".join([site_header, *(SITES if sites is None else sites)]) + "\n", encoding="utf-8"
    )
    (directory / "devices.csv").write_text(
        "\n".join([device_header, *(DEVICES if devices is None else devices)]) + "\n", encoding="utf-8"
    )
    (directory / "credentials.yaml").write_text(credentials, encoding="utf-8")
    return directory
