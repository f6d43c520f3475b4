"""Local fakes of the remote services crisisd talks to, over real HTTP/SMTP on loopback.

Used by tests, benchmarks, `make run` and newcomers. Each fake speaks the provider's
wire format and can inject faults on demand.
"""
