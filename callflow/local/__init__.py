"""The local machinery: the embedded stack, the phone simulator, the local APNs endpoint, the
local app-backend receiver, `callflow dev`, `callflow demo` and the benchmarks.

Nothing in production imports this package. Its heavy dependencies (embedded Postgres, the
Temporal binaries) come with the `local` extra, which `make demo` and `make test` install and
the production image leaves out.
"""
