"""The C reference Argon2 (argon2-cffi) at the parameters twofa uses, timed as
`bench argon2 N` times the Rust one: JSON with the wall time of each hash and the
CPU time of all."""
import json
import os
import sys
import time

from argon2.low_level import Type, hash_secret

n = int(sys.argv[1]) if len(sys.argv) > 1 else 30
password = b"correct horse battery staple"
cpu = time.process_time()
wall = []
for _ in range(n):
    t = time.perf_counter()
    # OWASP: Argon2id, m=19456 KiB, t=2, p=1; 16-byte salt, 32-byte tag, as twofa.
    hash_secret(password, os.urandom(16), time_cost=2, memory_cost=19456, parallelism=1, hash_len=32, type=Type.ID)
    wall.append((time.perf_counter() - t) * 1000.0)
print(json.dumps({"hashes": n, "wall_ms": wall, "cpu_ms": (time.process_time() - cpu) * 1000.0}))
