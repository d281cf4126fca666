"""The hostile-input suite: every class of bad input from the hardening issue.

Each module covers one class (unbounded reads, child output, YAML aliases,
numbers, exit codes, read-only history, TLS downgrade, output injection,
--root containment, quadratic work, duplicate attributes). Every case runs
the real command as a user would and asserts, through :func:`assert_clean`,
the exit code, one line of output on the error stream, no traceback and a
time bound.
"""
