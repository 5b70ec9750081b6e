"""Validation of inventory files: every problem named with file, line, field, value and reason."""

from __future__ import annotations

import unicodedata
from pathlib import Path

import pytest

from fleet.inventory.problems import REDACTED, Problem
from fleet.inventory.validate import Known, validate_paths
from tests.helpers import DEVICE_HEADER, DEVICES, SITE_HEADER, SITES, write_inventory


def problems_for(directory: Path) -> list[Problem]:
    return validate_paths([directory]).problems


def only(problems: list[Problem], **match: object) -> Problem:
    found = [p for p in problems if all(getattr(p, k) == v for k, v in match.items())]
    assert len(found) == 1, f"expected one problem matching {match}, got: {[str(p) for p in problems]}"
    return found[0]


def test_clean_inventory_is_valid(tmp_path: Path) -> None:
    result = validate_paths([write_inventory(tmp_path)])
    assert result.problems == []
    assert result.inventory.counts() == {"sites": 2, "devices": 4, "credentials": 2, "groups": 0}


def test_missing_and_unknown_columns_are_named_on_the_header_line(tmp_path: Path) -> None:
    header = SITE_HEADER.replace("carrier", "carier")
    problems = problems_for(write_inventory(tmp_path, site_header=header))
    missing = only(problems, field="carrier")
    unknown = only(problems, field="carier")
    assert (missing.line, unknown.line) == (1, 1)
    assert "missing" in missing.reason
    assert "unknown column" in unknown.reason
    assert missing.path == tmp_path / "sites.csv"


def test_ragged_row_is_reported_with_its_line(tmp_path: Path) -> None:
    sites = [SITES[0], "32248,32248,96,Xã Đất Mũi,Viettel"]
    problem = only(problems_for(write_inventory(tmp_path, sites)), line=3)
    assert problem.reason == "row has 5 fields but the header has 8"


def test_every_problem_in_a_file_is_reported_not_just_the_first(tmp_path: Path) -> None:
    sites = [
        "00004,99999,01,Phường Ba Đình,VNPT,,,",  # unknown commune code
        "00008,00008,01,Phường Ngọc Hà,Mobifone,,,",  # unknown carrier
        "00025,00025,79,Phường Giảng Võ,VNPT,,,",  # commune is in Hà Nội, not HCMC
    ]
    problems = problems_for(write_inventory(tmp_path, sites, devices=[]))
    assert only(problems, line=2, field="admin_code").reason == "no commune or ward has this official code"
    carrier = only(problems, line=3, field="carrier")
    assert (carrier.value, carrier.reason) == ("Mobifone", "is not one of: VNPT, Viettel")
    province = only(problems, line=4, field="province_code")
    assert "belongs to Thành phố Hà Nội (01)" in province.reason


@pytest.mark.parametrize(
    ("column", "bad", "reason"),
    [
        ("role", "speaker", "is not one of: codec, camera, router"),
        ("driver", "juniper_junos", "unknown driver"),
        ("mgmt_address", "127.0.0.300", "is not an IPv4 or IPv6 address"),
        ("snmp_port", "70000", "is not a port number (1-65535)"),
        ("site_code", "77777", "no such site in these files or the database"),
        ("credential_profile", "nobody", "no such credential profile"),
        ("model", "ISR9999", "driver cisco_ios knows the models"),
    ],
)
def test_bad_device_values(tmp_path: Path, column: str, bad: str, reason: str) -> None:
    fields = DEVICE_HEADER.split(",")
    row = DEVICES[0].split(",")
    row[fields.index(column)] = bad
    problems = problems_for(write_inventory(tmp_path, devices=[",".join(row), *DEVICES[1:]]))
    problem = only(problems, field=column)
    assert (problem.path.name, problem.line, problem.value) == ("devices.csv", 2, bad)
    assert reason in problem.reason


def test_duplicated_management_address_names_both_devices(tmp_path: Path) -> None:
    devices = [*DEVICES[:3], DEVICES[3].replace("127.1.0.2", "127.1.0.1")]
    problems = [
        p for p in problems_for(write_inventory(tmp_path, devices=devices)) if p.field == "mgmt_address"
    ]
    assert sorted(p.line for p in problems) == [2, 5]
    assert "also used by vn32248-rtr" in next(p for p in problems if p.line == 2).reason


def test_address_taken_by_a_device_in_the_database_is_a_duplicate(tmp_path: Path) -> None:
    known = Known(device_addresses={"other-device": "127.1.0.2"})
    problems = validate_paths([write_inventory(tmp_path)], known).problems
    assert "other-device (in the database)" in only(problems, field="mgmt_address").reason


def test_moving_an_address_between_devices_in_one_import_is_allowed(tmp_path: Path) -> None:
    known = Known(device_addresses={"vn00004-rtr": "127.1.0.2", "vn32248-rtr": "127.1.0.1"})
    assert validate_paths([write_inventory(tmp_path)], known).problems == []


def test_duplicate_site_code_points_at_the_first_definition(tmp_path: Path) -> None:
    sites = [SITES[0], SITES[0]]
    problem = only(problems_for(write_inventory(tmp_path, sites)), field="code")
    assert problem.line == 3
    assert problem.reason == f"duplicate: already defined at {tmp_path / 'sites.csv'}:2"


@pytest.mark.parametrize("bad", ["Phường\tBa Đình", "Phường Ba\x07Đình", "Phường\u200bBa Đình"])
def test_names_with_control_characters_are_refused(tmp_path: Path, bad: str) -> None:
    sites = [SITES[0].replace("Phường Ba Đình,VNPT", f"{bad},VNPT"), SITES[1]]
    problem = only(problems_for(write_inventory(tmp_path, sites)), field="name")
    assert problem.line == 2
    assert "control character" in problem.reason
    assert "\\" in str(problem)  # shown escaped, not raw


def test_a_quoted_line_break_in_a_name_is_refused(tmp_path: Path) -> None:
    sites = ['00004,00004,01,"Phường Ba\nĐình",VNPT,,,', SITES[1]]
    problem = only(problems_for(write_inventory(tmp_path, sites)), field="name")
    assert (problem.line, problem.reason) == (2, "contains a line break")
    assert "\\n" in str(problem)


def test_a_file_that_is_not_utf8_names_each_bad_line(tmp_path: Path) -> None:
    write_inventory(tmp_path)
    data = (tmp_path / "sites.csv").read_text(encoding="utf-8")
    (tmp_path / "sites.csv").write_bytes(data.encode("cp1258", errors="replace").replace(b"?", b"\xd0"))
    problems = [p for p in problems_for(tmp_path) if p.path.name == "sites.csv"]
    assert [p.line for p in problems] == [2, 3]
    assert all("not UTF-8" in p.reason for p in problems)


def test_bom_and_crlf_are_accepted(tmp_path: Path) -> None:
    write_inventory(tmp_path)
    for name in ("sites.csv", "devices.csv"):
        path = tmp_path / name
        path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes().replace(b"\n", b"\r\n"))
    result = validate_paths([tmp_path])
    assert result.problems == []
    assert result.inventory.sites[0].code == "00004"


def test_names_are_nfc_normalised(tmp_path: Path) -> None:
    nfd = unicodedata.normalize("NFD", "Phường Ba Đình")
    assert nfd != "Phường Ba Đình"
    sites = [SITES[0].replace("Phường Ba Đình,VNPT", f"{nfd},VNPT"), SITES[1]]
    result = validate_paths([write_inventory(tmp_path, sites)])
    assert result.inventory.sites[0].name == "Phường Ba Đình"


def test_a_pasted_secret_is_refused_without_echoing_it(tmp_path: Path) -> None:
    credentials = """\
credentials:
- name: leaky
  snmp_version: v2c
  snmp_community: Sup3rSecretCommunity
"""
    problems = problems_for(write_inventory(tmp_path, devices=[], credentials=credentials))
    problem = only(problems, field="snmp_community")
    assert problem.line == 4
    assert problem.value == REDACTED
    assert "Sup3rSecretCommunity" not in str(problem)
    assert "reference" in problem.reason


def test_snmpv3_profile_must_be_auth_priv(tmp_path: Path) -> None:
    credentials = """\
credentials:
- name: half
  snmp_version: v3
  snmp_user: noc
  snmp_auth_protocol: SHA
  snmp_auth_key: env:AUTH
"""
    problems = problems_for(write_inventory(tmp_path, devices=[], credentials=credentials))
    assert {p.field for p in problems} == {"snmp_priv_protocol", "snmp_priv_key"}
    assert all(p.line == 2 for p in problems)


def test_yaml_problems_carry_the_line_of_the_field(tmp_path: Path) -> None:
    credentials = """\
credentials:
- name: lab-v3
  snmp_version: v4
  colour: blue
"""
    problems = problems_for(write_inventory(tmp_path, devices=[], credentials=credentials))
    version = only(problems, field="snmp_version")
    assert (version.line, version.value) == (3, "v4")
    assert only(problems, field="colour").line == 4


def test_malformed_yaml_is_reported_with_its_line(tmp_path: Path) -> None:
    problems = problems_for(write_inventory(tmp_path, devices=[], credentials="credentials:\n- name: [x\n"))
    problem = only(problems, path=tmp_path / "credentials.yaml")
    assert problem.line is not None
    assert "malformed YAML" in problem.reason


def test_driver_and_role_must_agree(tmp_path: Path) -> None:
    row = DEVICES[2].replace("camera,Axis", "codec,Axis")
    problem = only(problems_for(write_inventory(tmp_path, devices=[row])), field="role")
    assert problem.reason == "driver axis_ptz is for a camera"


def test_ssh_driver_needs_a_port_and_ssh_credentials(tmp_path: Path) -> None:
    row = DEVICES[0].replace(",2222,lab-v3,", ",,lab-v2c,")
    problems = problems_for(write_inventory(tmp_path, devices=[row]))
    assert only(problems, field="ssh_port").reason == "driver cisco_ios uses SSH: a port is required"
    assert "no ssh_user" in only(problems, field="credential_profile").reason


def test_a_csv_file_whose_kind_cannot_be_told_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "stuff.csv"
    path.write_text(SITE_HEADER + "\n", encoding="utf-8")
    problem = only(validate_paths([path]).problems, path=path)
    assert "cannot tell what the file holds" in problem.reason


def test_a_missing_path_is_reported(tmp_path: Path) -> None:
    problem = only(validate_paths([tmp_path / "nowhere"]).problems)
    assert problem.reason == "no such file or directory"


def test_groups_refer_to_real_provinces_and_sites(tmp_path: Path) -> None:
    write_inventory(tmp_path)
    (tmp_path / "groups.yaml").write_text(
        "groups:\n- name: pilot\n  provinces: ['96', '00']\n  sites: [00004, 55555]\n- name: empty\n",
        encoding="utf-8",
    )
    problems = problems_for(tmp_path)
    assert {(p.field, p.line, p.reason) for p in problems} == {
        ("provinces", 3, "no province has the code '00'"),
        ("sites", 4, "no such site '55555'"),
        ("name", 5, "group has no members: give provinces and/or sites"),
    }
