#!/bin/bash
# nethook for RHEL/CentOS/Fedora dhclient-script: it sources every executable
# /etc/dhcp/dhclient.d/*.sh and calls NAME_config after configuring the address and
# NAME_restore when the lease goes. Only functions are defined here; they return 0
# always and evaluate no DHCP-supplied value.

nethook_config() {
    # RHEL's NetworkManager sources this file from its 11-dhclient dispatcher script;
    # nethook's own dispatcher script covers NetworkManager.
    [ -n "${NM_DISPATCHER_ACTION-}" ] && return 0
    [ -x /usr/bin/nethook ] || return 0
    timeout -k 1 15 /usr/bin/nethook hook dhclient-rhel -- config </dev/null >/dev/null || :
    return 0
}

nethook_restore() {
    [ -n "${NM_DISPATCHER_ACTION-}" ] && return 0
    [ -x /usr/bin/nethook ] || return 0
    timeout -k 1 15 /usr/bin/nethook hook dhclient-rhel -- restore </dev/null >/dev/null || :
    return 0
}
