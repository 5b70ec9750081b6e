"""Generate the shipped inventory, or a larger synthetic one for scale tests, reproducibly.

Every commune and ward of Vietnam gets one site with a router, a codec and a camera. Carrier,
models and contacts are drawn from a seeded random generator; contacts are synthetic. Addresses
encode role and site: router 127.1.X.Y, codec 127.2.X.Y, camera 127.3.X.Y for site number
X*250 + Y - 1, so every device has its own loopback address for the simulator.

With more sites than there are communes, communes are reused with suffixed site codes
(``26734-2``): synthetic extra sites that still serve a real administrative unit.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from fleet.domain.enums import Carrier, Role, SnmpAuthProtocol, SnmpPrivProtocol, SnmpVersion
from fleet.domain.secrets import SecretRef, SecretScheme
from fleet.drivers import REGISTRY
from fleet.inventory.reference import AdminUnitRef, reference
from fleet.inventory.schema import CredentialRecord, DeviceRecord, GroupRecord, Kind, Record, SiteRecord

DEFAULT_SEED = 2025
SNMP_PORT = 1161
SSH_PORT = 2222
SITES_PER_BLOCK = 250  # host bytes 1..250 keep .0 and .255 free
MAX_SITES = SITES_PER_BLOCK * 256

# The first rollout wave: the 19 southern provinces of before the 2025 reorganisation
# (Southeast and Mekong Delta), which are these 8 provinces today.
SOUTH_WAVE_PROVINCES = ("75", "79", "80", "82", "86", "91", "92", "96")

ROLE_OCTET = {Role.ROUTER: 1, Role.CODEC: 2, Role.CAMERA: 3}
ROLE_SUFFIX = {Role.ROUTER: "rtr", Role.CODEC: "codec", Role.CAMERA: "cam"}

FIRMWARE = {
    "cisco_ios": "17.9.5",
    "huawei_vrp": "V300R021C10SPC100",
    "cisco_ce": "ce11.14.2.3",
    "axis_ptz": "11.11.96",
}

_FAMILY = [
    "Nguyễn",
    "Trần",
    "Lê",
    "Phạm",
    "Hoàng",
    "Huỳnh",
    "Phan",
    "Vũ",
    "Võ",
    "Đặng",
    "Bùi",
    "Đỗ",
    "Hồ",
    "Ngô",
    "Dương",
    "Lý",
]
_MIDDLE = ["Văn", "Thị", "Hữu", "Đức", "Minh", "Thanh", "Ngọc", "Quốc", "Thu", "Hoàng", "Xuân", "Kim"]
_GIVEN = [
    "An", "Bình", "Cường", "Dũng", "Hà", "Hải", "Hạnh", "Hoa", "Hùng", "Hương", "Khánh", "Lan", "Linh",
    "Long", "Mai", "Nam", "Nga", "Phong", "Phương", "Quân", "Sơn", "Tâm", "Thảo", "Thắng", "Trang",
    "Tuấn", "Vy", "Yến", "Đạt", "Nhung",
]  # fmt: skip


@dataclass(frozen=True, slots=True)
class Generated:
    sites: list[SiteRecord]
    devices: list[DeviceRecord]
    credentials: list[CredentialRecord]
    groups: list[GroupRecord]

    def sections(self) -> dict[Kind, list[Record]]:
        return {
            Kind.SITES: list(self.sites),
            Kind.DEVICES: list(self.devices),
            Kind.CREDENTIALS: list(self.credentials),
            Kind.GROUPS: list(self.groups),
        }


def address(role: Role, index: int, base: int = 1) -> str:
    block, host = divmod(index, SITES_PER_BLOCK)
    return f"127.{base - 1 + ROLE_OCTET[role]}.{block}.{host + 1}"


def credential_profiles() -> list[CredentialRecord]:
    def env(name: str) -> SecretRef:
        return SecretRef(SecretScheme.ENV, name)

    profiles = [
        CredentialRecord(
            name=f"{carrier.value.lower()}-v3",
            snmp_version=SnmpVersion.V3,
            snmp_user=f"noc-{carrier.value.lower()}",
            snmp_auth_protocol=SnmpAuthProtocol.SHA,
            snmp_auth_key=env(f"FLEET_{carrier.name}_SNMP_AUTH_KEY"),
            snmp_priv_protocol=SnmpPrivProtocol.AES,
            snmp_priv_key=env(f"FLEET_{carrier.name}_SNMP_PRIV_KEY"),
            ssh_user="noc",
            ssh_password=env(f"FLEET_{carrier.name}_SSH_PASSWORD"),
        )
        for carrier in Carrier
    ]
    profiles.append(
        CredentialRecord(
            name="camera-v2c",
            snmp_version=SnmpVersion.V2C,
            snmp_community=env("FLEET_CAMERA_SNMP_COMMUNITY"),
        )
    )
    return sorted(profiles, key=lambda p: p.name)


def _contact(rng: random.Random) -> tuple[str, str]:
    name = f"{rng.choice(_FAMILY)} {rng.choice(_MIDDLE)} {rng.choice(_GIVEN)}"
    number = f"09{rng.randrange(10**8):08d}"
    return name, f"{number[:4]} {number[4:7]} {number[7:]}"


def _units_in_order() -> list[AdminUnitRef]:
    return sorted(reference().units.values(), key=lambda u: (u.province_code, u.code))


def generate(sites: int | None = None, seed: int = DEFAULT_SEED, address_base: int = 1) -> Generated:
    ref = reference()
    units = _units_in_order()
    count = len(units) if sites is None else sites
    if not 1 <= count <= MAX_SITES:
        raise ValueError(f"sites must be between 1 and {MAX_SITES}")
    if not 1 <= address_base <= 253:
        raise ValueError("the address base must leave room for three roles below 127.255")
    rng = random.Random(seed)
    vnpt_share = {code: rng.uniform(0.4, 0.75) for code in sorted(ref.provinces)}
    routers = {Carrier.VNPT: ("huawei_vrp", 0.8), Carrier.VIETTEL: ("cisco_ios", 0.7)}
    codec_models = REGISTRY.get("cisco_ce").models
    camera_models = REGISTRY.get("axis_ptz").models

    site_records: list[SiteRecord] = []
    devices: list[DeviceRecord] = []
    for index in range(count):
        round_, position = divmod(index, len(units))
        unit = units[position]
        province = ref.provinces[unit.province_code]
        code = unit.code if round_ == 0 else f"{unit.code}-{round_ + 1}"
        name = unit.name if round_ == 0 else f"{unit.name} (điểm {round_ + 1})"
        carrier = Carrier.VNPT if rng.random() < vnpt_share[unit.province_code] else Carrier.VIETTEL
        contact_name, contact_phone = _contact(rng)
        site_records.append(
            SiteRecord(
                code=code,
                admin_code=unit.code,
                province_code=unit.province_code,
                name=name,
                carrier=carrier,
                contact_name=contact_name,
                contact_phone=contact_phone,
                address=f"Trụ sở UBND {unit.name}, {province.name}",
            )
        )
        preferred, share = routers[carrier]
        router_driver = (
            preferred
            if rng.random() < share
            else ("cisco_ios" if preferred == "huawei_vrp" else "huawei_vrp")
        )
        codec_model = rng.choices(codec_models, weights=(6, 3, 1))[0]
        camera_model = rng.choice(camera_models)
        profile = f"{carrier.value.lower()}-v3"
        for role, driver_name, model, cred in (
            (Role.ROUTER, router_driver, rng.choice(REGISTRY.get(router_driver).models), profile),
            (Role.CODEC, "cisco_ce", codec_model, profile),
            (Role.CAMERA, "axis_ptz", camera_model, "camera-v2c"),
        ):
            driver = REGISTRY.get(driver_name)
            devices.append(
                DeviceRecord(
                    name=f"vn{code}-{ROLE_SUFFIX[role]}",
                    site_code=code,
                    role=role,
                    vendor=driver.vendor,
                    model=model,
                    driver=driver_name,
                    mgmt_address=address(role, index, address_base),
                    snmp_port=SNMP_PORT,
                    ssh_port=SSH_PORT if driver.uses_ssh else None,
                    credential_profile=cred,
                    expected_firmware=FIRMWARE[driver_name],
                )
            )

    groups = [
        GroupRecord(
            name="wave-1-south",
            description=(
                "Đợt 1 (first rollout wave): the southern provinces"
                " — 19 before the 2025 reorganisation, 8 today"
            ),
            provinces=SOUTH_WAVE_PROVINCES,
        )
    ]
    return Generated(site_records, devices, credential_profiles(), groups)
