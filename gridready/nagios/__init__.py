"""The Nagios plugin side: argument parsing, output format and the probe runtime."""
