"""One reader per daemon: ntpd, chrony and xinetd configuration, the kernel's listening
sockets and the processes of this network namespace. doctor and services both read here."""
