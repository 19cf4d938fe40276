"""The monitoring formats on their own: Prometheus text and the plugin line."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from nethook.monitor.check import Result, Status, unknown
from nethook.monitor.metrics import Family, down, render


def test_label_values_are_escaped_as_the_format_requires() -> None:
    text = render([Family("nethook_objects", "gauge", "help").add(
        3, interface='we"ird\\na\nme', kind="address", state="present")])
    [family] = text_string_to_metric_families(text)
    [sample] = family.samples
    assert sample.labels["interface"] == 'we"ird\\na\nme'
    assert sample.value == 3


def test_down_says_only_that_nothing_could_be_read() -> None:
    families = list(text_string_to_metric_families(down()))
    assert [(f.name, f.type, [s.value for s in f.samples]) for f in families] == [
        ("nethook_up", "gauge", [0.0])]


def test_the_plugin_line_and_its_long_output() -> None:
    result = Result(Status.WARNING, "1 listener(s) missing: udp/123@10.0.0.5",
                    (("kept", "2;;;0"), ("missing", "0;;1;0")),
                    ("ntpd: not listening on udp/123@10.0.0.5",))
    assert result.text() == ("NETHOOK WARNING - 1 listener(s) missing: udp/123@10.0.0.5 | "
                             "kept=2;;;0 missing=0;;1;0\n"
                             "ntpd: not listening on udp/123@10.0.0.5\n")
    assert unknown("cannot check: x\ny").text() == "NETHOOK UNKNOWN - cannot check: x\n"
