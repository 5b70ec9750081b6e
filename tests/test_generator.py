"""The shipped inventory is reproducible from the generator and matches the official data."""

from __future__ import annotations

import ipaddress

from fleet.inventory.generator import SOUTH_WAVE_PROVINCES, generate
from fleet.inventory.reader import RawRecord
from fleet.inventory.reference import reference
from fleet.inventory.schema import Kind
from fleet.inventory.validate import Known, validate_records
from fleet.inventory.writer import SHIPPED_LAYOUT, render_csv, render_yaml, to_row
from tests.conftest import SHIPPED


def test_reference_data_is_the_2025_map() -> None:
    ref = reference()
    assert len(ref.provinces) == 34
    assert len(ref.units) == 3321
    assert ref.provinces["79"].name == "Thành phố Hồ Chí Minh"


def test_shipped_files_are_exactly_what_the_generator_writes() -> None:
    sections = generate().sections()
    for kind, records in sections.items():
        fmt = SHIPPED_LAYOUT[kind]
        expected = render_csv(kind, records) if fmt == "csv" else render_yaml({kind: records})
        shipped = (SHIPPED / f"{kind.value}.{fmt}").read_text(encoding="utf-8")
        assert shipped == expected, f"inventory/{kind.value}.{fmt} differs: run 'fleet inventory generate'"


def test_every_commune_has_a_site_with_three_devices_on_distinct_loopback_addresses() -> None:
    inv = generate()
    assert len(inv.sites) == 3321
    assert {s.admin_code for s in inv.sites} == set(reference().units)
    assert len(inv.devices) == 9963
    addresses = [ipaddress.ip_address(d.mgmt_address) for d in inv.devices]
    assert len(set(addresses)) == len(addresses)
    assert all(a.is_loopback for a in addresses)
    assert {d.driver for d in inv.devices} == {"cisco_ios", "huawei_vrp", "cisco_ce", "axis_ptz"}


def test_generation_is_reproducible_and_the_seed_matters() -> None:
    assert generate(sites=50, seed=7) == generate(sites=50, seed=7)
    assert generate(sites=50, seed=7) != generate(sites=50, seed=8)


def test_a_10600_site_inventory_is_valid_and_unique() -> None:
    inv = generate(sites=10600)
    assert len(inv.sites) == 10600
    assert len({s.code for s in inv.sites}) == 10600
    assert len({d.mgmt_address for d in inv.devices}) == 31800
    raws = [
        RawRecord(kind, SHIPPED / kind.value, i + 1, dict(to_row(kind, r)))
        for kind, records in inv.sections().items()
        for i, r in enumerate(records)
    ]
    _inventory, problems = validate_records(raws, Known())
    assert problems == []


def test_the_southern_wave_is_the_eight_southern_provinces() -> None:
    names = {reference().provinces[c].codename for c in SOUTH_WAVE_PROVINCES}
    assert names == {
        "ho_chi_minh",
        "dong_nai",
        "tay_ninh",
        "dong_thap",
        "vinh_long",
        "an_giang",
        "can_tho",
        "ca_mau",
    }
    assert generate().groups[0].provinces == SOUTH_WAVE_PROVINCES
    assert Kind.GROUPS in SHIPPED_LAYOUT
