"""The manual pages in man/: groff and man-db read them without a warning, and
nethook.yaml(5) documents every key the configuration accepts, with examples that load and
an error example that is what nethook really says.

The pages are rendered the way a reader sees them (groff's man macros, plain text, wide
lines and no hyphenation, so that a key name is never split), and checked the way lintian
checks them (``man --warnings``).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from lab.services_lab import require
from nethook.base.errors import ConfigError
from nethook.config import schema, services
from nethook.config.load import load

MAN = Path(__file__).resolve().parents[2] / "man"
YAML_PAGE = MAN / "nethook.yaml.5"
PAGES = sorted(MAN.glob("*.[1-8]")) if MAN.is_dir() else []
PATH = "/usr/sbin:/usr/bin:/sbin:/bin"

pytestmark = pytest.mark.skipif(not PAGES, reason="man/ is not here (a package build)")


def tool(name: str) -> str:
    found = shutil.which(name, path=PATH)
    require(None if found else f"{name} is not installed (groff-base, man-db)")
    assert found is not None
    return found


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_groff_reads_the_page_without_a_warning(page: Path) -> None:
    done = subprocess.run([tool("groff"), "-ww", "-man", "-z", str(page)],
                          capture_output=True, text=True, timeout=60, check=False)
    assert (done.returncode, done.stderr) == (0, "")


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_man_reads_the_page_without_a_warning(page: Path) -> None:
    # As lintian runs it (its manpages check).
    done = subprocess.run([tool("man"), "--warnings", "-E", "UTF-8", "-l", "-Tutf8", "-Z",
                           str(page)], capture_output=True, text=True, timeout=60,
                          env={"PATH": PATH, "LC_ALL": "C.UTF-8", "MANROFFSEQ": "",
                               "MANWIDTH": "80", "HOME": os.environ.get("HOME", "/")},
                          check=False)
    assert (done.returncode, done.stderr) == (0, "")


def rendered(page: Path) -> str:
    done = subprocess.run([tool("groff"), "-man", "-Tutf8", "-P-cbou", "-rLL=200n",
                           "-rHY=0", str(page)], capture_output=True, text=True,
                          timeout=60, check=True)
    return done.stdout


def entries(text: str) -> dict[str, str]:
    """Each tagged paragraph of the page: its tag, and its text up to the next tag."""
    found: dict[str, str] = {}
    tag = None
    for line in text.splitlines():
        start = re.match(r" {7}(\S+)(?: {2,}(.*)| (Type:.*))?$", line)
        if start:
            tag = start.group(1)
            found[tag] = start.group(2) or start.group(3) or ""
        elif tag is not None and line.startswith(" " * 14):
            found[tag] += " " + line.strip()
        elif line and not line.startswith(" "):
            tag = None  # a section heading
    return {key: " ".join(text.split()) for key, text in found.items()}


def documented() -> dict[str, str]:
    return entries(rendered(YAML_PAGE))


def schema_keys() -> list[str]:
    interface = "interfaces.NAME"
    daemons = "services.{" + ",".join(services.DAEMONS) + "}"
    return [*schema.TOP_KEYS,
            *(f"{interface}.{key}" for key in schema.INTERFACE_KEYS),
            *(f"{interface}.addresses[].{key}" for key in schema.ADDRESS_KEYS),
            *(f"{interface}.routes[].{key}" for key in schema.ROUTE_KEYS),
            *(f"{interface}.routing-policy[].{key}" for key in schema.RULE_KEYS),
            *(f"services.{key}" for key in services.SECTION_KEYS),
            *(f"{daemons}.{key}" for key in services.DAEMON_KEYS),
            *(f"services.units[].{key}" for key in services.UNIT_KEYS),
            *(f"metrics.{key}" for key in schema.METRICS_KEYS)]


def test_every_key_of_the_schema_has_an_entry_with_type_default_and_example() -> None:
    pages = documented()
    missing = [key for key in schema_keys() if key not in pages]
    assert not missing, f"not in nethook.yaml(5): {missing}"
    for key in schema_keys():
        text = pages[key]
        assert "Type:" in text and "Example:" in text, (key, text)
        assert "Default:" in text or "Required" in text, (key, text)


def test_the_limits_and_defaults_are_the_codes() -> None:
    pages = documented()
    assert f"0 to {services.RATE_LIMIT_MAX}. Default: {services.DEFAULT_RATE_LIMIT}." \
        in pages["services.rate-limit"]
    waits = pages["services.{ntpd,chrony,xinetd}.wait"]
    assert f"0 to {services.WAIT_MAX}." in waits
    assert f"Default: {services.DEFAULT_WAIT['ntpd']} for ntpd" in waits
    assert f"{services.DEFAULT_WAIT['chrony']} for chrony and xinetd" in waits
    assert services.DEFAULT_WAIT["chrony"] == services.DEFAULT_WAIT["xinetd"]
    assert f"Default: {services.DEFAULT_WAIT['unit']}." in pages["services.units[].wait"]
    assert f"Default: {schema.IPV6_DEFAULT_METRIC} " not in pages[
        "interfaces.NAME.routes[].metric"]  # (0 first, then IPv6's)
    assert f"{schema.IPV6_DEFAULT_METRIC} for IPv6" in pages["interfaces.NAME.routes[].metric"]
    assert f"Type: integer, {schema.VERSION}." in pages["version"]
    for source in schema.IMPORT_SOURCES:
        assert re.search(rf"\b{source}\b", pages["import"]), source


def blocks() -> list[str]:
    """The page's literal blocks (.nf to .fi), with roff escapes undone."""
    source = YAML_PAGE.read_text(encoding="utf-8")
    found = re.findall(r"^\.nf\n(.*?)^\.fi$", source, re.M | re.S)
    return [b.replace("\\-", "-").replace("\\(aq", "'") for b in found]


def test_the_example_files_are_valid(tmp_path: Path) -> None:
    examples = [b for b in blocks() if b.startswith("version: 1\n")]
    assert len(examples) >= 2
    for number, text in enumerate(examples):
        path = tmp_path / f"{number}.yaml"
        path.write_text(text, encoding="utf-8")
        load([path])


def test_the_error_example_is_what_nethook_says(tmp_path: Path) -> None:
    [numbered] = [b for b in blocks() if b.startswith("1  version: 1\n")]
    [said] = [b for b in blocks() if b.startswith("nethook: invalid configuration")]
    shown = "/etc/nethook/conf.d/50-web.yaml"
    main = tmp_path / "nethook.yaml"
    main.write_text("version: 1\n", encoding="utf-8")
    path = tmp_path / "50-web.yaml"
    path.write_text("".join(line[3:] + "\n" for line in numbered.splitlines()),
                    encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load([main, path])
    prefix = "nethook: invalid configuration, nothing applied: "
    assert said.strip() == prefix + str(caught.value).replace(str(path), shown)
