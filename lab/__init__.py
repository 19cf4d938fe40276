"""Labs that run the real DHCP client, server and ifupdown in network namespaces."""
